"""IHE PCD-01 inbound: a monitor gateway's ORU^R01 over MLLP to the validated sample path."""
