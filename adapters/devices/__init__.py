"""Device gateways: IHE PCD-01 in, IHE PCD-04 out, IEEE 11073 SDC (see docs/devices.md)."""
