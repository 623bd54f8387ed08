"""IEEE 11073 SDC consumer (sdc11073): providers by address or discovery, their metrics into
the validated sample path, their alert conditions as device alarms (docs/devices-sdc.md)."""
