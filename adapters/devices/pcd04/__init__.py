"""IHE PCD-04 outbound: every alarm state transition as an ORU^R40 to the alert manager."""
