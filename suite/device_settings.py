"""Settings of the device gateways: IHE PCD-01 in (`[devices.pcd01]`) and IHE PCD-04 out
(`[devices.pcd04]`). docs/devices.md explains each; environment variables are
PROCSUITE_DEVICES__PCD01__PORT and so on."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class Pcd01Settings(BaseModel):
    enabled: bool = False
    """Run the PCD-01 listener (monitor gateways send ORU^R01 to it over MLLP)."""
    host: str = "127.0.0.1"
    """Address the PCD-01 MLLP listener binds to."""
    port: int = Field(default=2577, ge=0, le=65535)
    """TCP port of the PCD-01 MLLP listener (0: any free port)."""
    location_map: dict[str, str] = Field(default_factory=dict)
    """PV1-3 location -> procsuite room. Keys: "unit^room^bed", "unit^room", "room" or "unit"
    (tried in that order). Without a match a room or point-of-care component equal to a room
    name maps to it; anything else is answered AE naming PV1-3."""
    tls_cert_file: Path | None = None
    """PEM certificate (chain); with `tls_key_file` the listener accepts MLLP over TLS only."""
    tls_key_file: Path | None = None
    """PEM private key of `tls_cert_file`."""
    tls_client_ca_file: Path | None = None
    """With TLS: gateways must show a client certificate signed by this CA (mutual TLS)."""
    max_frame_bytes: int = Field(default=1_048_576, ge=1024)
    """Largest message accepted; a larger one is answered AR."""
    frame_timeout_s: float = Field(default=30.0, gt=0)
    """A gateway that stops inside a frame for this long is disconnected."""
    max_connections: int = Field(default=64, ge=1)
    """Gateway connections served at once; more are closed at once."""
    journal_queue: int = Field(default=20_000, ge=10)
    """Raw messages waiting to be written to the journal; when full, messages get AE."""
    sending_application: str = "PROCSUITE"
    """MSH-3 of procsuite's ACKs."""
    sending_facility: str = "IR"
    """MSH-4 of procsuite's ACKs."""


class Pcd04Settings(BaseModel):
    host: str | None = None
    """The alert manager's MLLP host (none: no PCD-04 messages are sent)."""
    port: int = Field(default=2578, ge=1, le=65535)
    """The alert manager's MLLP port."""
    tls: bool = False
    """Connect with TLS."""
    tls_ca_file: Path | None = None
    """CA to verify the alert manager's certificate (none: the system's CAs)."""
    tls_cert_file: Path | None = None
    """Client certificate for mutual TLS."""
    tls_key_file: Path | None = None
    """Private key of `tls_cert_file`."""
    ack_timeout_s: float = Field(default=5.0, gt=0)
    """An answer later than this is an outage: one technical alarm, the message is resent."""
    retry_initial_s: float = Field(default=1.0, gt=0)
    """First wait before resending after an outage; doubles up to `retry_max_s`."""
    retry_max_s: float = Field(default=30.0, gt=0)
    """Longest wait between two attempts."""
    poll_s: float = Field(default=1.0, gt=0)
    """How often the outbox looks for alarm events written by other instances."""
    initial_backlog_s: float = Field(default=300.0, ge=0)
    """On the very first start, alarm events of this many seconds before are sent too."""
    sending_application: str = "PROCSUITE"
    """MSH-3 of the ORU^R40 messages."""
    sending_facility: str = "IR"
    """MSH-4 of the ORU^R40 messages."""
    receiving_application: str = "ACM"
    """MSH-5 of the ORU^R40 messages."""
    receiving_facility: str = "HOSPITAL"
    """MSH-6 of the ORU^R40 messages."""
    point_of_care: str = "IR"
    """PV1-3.1 of the ORU^R40 messages (PV1-3.2 is the procsuite room)."""
    bed: dict[str, str] = Field(default_factory=dict)
    """Room -> PV1-3.3 bed, when the alert manager addresses beds."""


class DevicesSettings(BaseModel):
    pcd01: Pcd01Settings = Field(default_factory=Pcd01Settings)
    pcd04: Pcd04Settings = Field(default_factory=Pcd04Settings)
