"""The interface sections of the settings: MQTT, DICOM and HL7 (re-exported by suite.settings)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field, field_validator, model_validator


class Role(StrEnum):
    TECHNOLOGIST = "technologist"
    NURSE = "nurse"
    RADIOLOGIST = "radiologist"
    IT = "it"
    ADMIN = "admin"


class MqttSettings(BaseModel):
    embedded: bool = False
    """Run an in-process broker on the host and port of `mqtt_url` (the demo default)."""
    username: str | None = None
    """User name procsuite connects to the broker with."""
    password: str | None = None
    """Password for `username`."""
    client_id: str | None = None
    """MQTT client identifier of the service (fixed: the broker keeps our session and queues
    QoS 1 vitals for us while we reconnect); default `procsuite-<lease.instance_id>`."""
    max_payload_bytes: int = Field(default=65_536, ge=256)
    """Vitals or command payloads larger than this are rejected unread (counted, alarmed)."""
    max_device_rate: int = Field(default=100, ge=1)
    """Samples one monitor may stamp within one second of its own time (a monitor sends
    about 1); more, or over ten times as many messages in one real second, are discarded,
    counted per device and raise one `flooding` technical alarm."""
    reconnect_min_s: float = Field(default=0.5, gt=0)
    """First wait before reconnecting to the broker; doubles up to `reconnect_max_s`."""
    reconnect_max_s: float = Field(default=30.0, gt=0)
    """Longest wait between reconnection attempts."""
    state_interval_s: float = Field(default=0.5, gt=0)
    """Shortest time between two state snapshots of one room (0.5: at most 2 per second)."""
    state_refresh_s: float = Field(default=10.0, gt=0)
    """Republish every room's state at least this often (countdowns, warnings)."""
    status_interval_s: float = Field(default=5.0, gt=0)
    """How often the service status with its counters goes to `procsuite/<site>/status`."""
    vitals_queue: int = Field(default=100_000, ge=100)
    """Samples waiting to be stored; beyond it they are dropped, counted and alarmed."""
    vitals_batch: int = Field(default=5_000, ge=1)
    """Most samples written in one database job."""
    alarm_outbox: int = Field(default=10_000, ge=10)
    """Alarm events held in memory for publication; beyond it they are re-read from the store."""
    fault_clear_s: float = Field(default=30.0, gt=0)
    """A device's input fault (unreadable data, wrong units...) ends its technical alarm
    after this long without recurring."""
    permissions: dict[str, list[Role]] = Field(default_factory=dict)
    """Overrides of the command permission table (suite/roles.py): action (or `log_step:<step>`)
    to the roles allowed, e.g. {"ack_alarm": ["nurse", "admin"]}."""
    ca_file: Path | None = None
    """PEM CA bundle that signed the broker's certificate (mqtts://; none: the system's CAs)."""
    cert_file: Path | None = None
    """PEM client certificate for brokers that require one (with `key_file`)."""
    key_file: Path | None = None
    """PEM private key of `cert_file`."""
    tls_insecure: bool = False
    """Skip checking the broker's host name against its certificate (test benches only)."""
    devices: dict[str, str] = Field(default_factory=dict)
    """Monitor device (its broker user name) to its room, e.g. {"mon-ir1": "IR1"}: the broker
    ACL (`procsuite broker acl`) lets each publish only its own room's vitals and status."""
    service_users: list[str] = Field(default_factory=list)
    """Broker users of every procsuite instance of the site (the only ones allowed to publish
    alarms and state); default: `username`."""


class DicomSettings(BaseModel):
    enabled: bool = True
    """Run the DICOM listener."""
    ae_title: str = "PROCSUITE"
    """Our Application Entity title."""
    host: str = "127.0.0.1"
    """Address the DICOM listener binds to."""
    allowed_callers: dict[str, str] = Field(default_factory=dict)
    """Calling AE titles allowed to associate, each with the host it must come from ('*' for any).
    Empty allows every caller."""
    max_associations: int = Field(default=10, ge=1)
    """Associations served at once; more are rejected (A-ASSOCIATE-RJ, local limit exceeded)."""
    max_associations_per_caller: int = Field(default=4, ge=1)
    """Associations one calling AE title may hold at once; more are rejected (transient, local
    limit exceeded), so one caller cannot take every slot from the modalities."""
    max_object_mb: float = Field(default=1024.0, gt=0)
    """Largest object C-STORE keeps (MiB); a larger one is refused with status 0xA700."""
    timeout_s: float = Field(default=30.0, gt=0)
    """ACSE / DIMSE / network timeout, and the longest a request waits for the service."""
    stations: dict[str, str] = Field(default_factory=dict)
    """Room to the station AE title of its x-ray unit (e.g. {"IR1": "FLUORO_IR1"}): worklist
    items of the room carry it, and a modality asking with its AE title gets its room's cases."""
    modality: str = "XA"
    """Worklist modality of the rooms (XA or RF)."""
    room_modalities: dict[str, str] = Field(default_factory=dict)
    """Worklist modality per room where it differs from `modality`."""
    timezone: str | None = None
    """IANA time zone of DICOM dates and times (worklist, MPPS); default: the machine's."""
    procedure_codes: dict[str, str] = Field(
        default_factory=lambda: {
            "vertebroplasty": "VERTEBROPLASTY^99PROCSUITE^Percutaneous vertebroplasty",
            "kyphoplasty": "KYPHOPLASTY^99PROCSUITE^Percutaneous balloon kyphoplasty",
        }
    )
    """Requested procedure code of each procedure on the worklist, as `value^scheme^meaning`
    (replace with the site's RIS codes)."""
    forward_host: str | None = None
    """Host of the PACS that receives a copy of every stored instance (none: no forwarding)."""
    forward_port: int = Field(default=104, ge=1, le=65535)
    """Port of the PACS."""
    forward_ae_title: str = "PACS"
    """Called AE title of the PACS."""
    forward_retry_min_s: float = Field(default=5.0, gt=0)
    """First wait before sending again after the PACS failed; doubles up to the maximum."""
    forward_retry_max_s: float = Field(default=600.0, gt=0)
    """Longest wait between two attempts to send an instance (it is never dropped)."""
    tls_cert_file: Path | None = None
    """PEM certificate (chain) of the listener; with `tls_key_file` it accepts DICOM over TLS
    only (DICOM PS3.15 Annex B, "BCP 195" profile: TLS 1.2 or later)."""
    tls_key_file: Path | None = None
    """PEM private key of `tls_cert_file`."""
    tls_client_ca_file: Path | None = None
    """PEM CA bundle; when set, callers must present a certificate it signed (mutual TLS)."""
    forward_tls: bool = False
    """Speak TLS to the PACS."""
    forward_tls_ca_file: Path | None = None
    """PEM CA bundle to verify the PACS's certificate (none: the system's CAs)."""
    forward_tls_cert_file: Path | None = None
    """PEM client certificate for the PACS (mutual TLS)."""
    forward_tls_key_file: Path | None = None
    """PEM private key of `forward_tls_cert_file`."""

    @field_validator("ae_title", "forward_ae_title")
    @classmethod
    def _ae_title(cls, value: str) -> str:
        if not 0 < len(value.strip()) <= 16 or "\\" in value or not value.isascii():
            raise ValueError(f"{value!r} is not an AE title (1-16 ASCII characters, no '\\')")
        return value.strip()

    @field_validator(
        "tls_cert_file", "tls_key_file", "tls_client_ca_file", "forward_tls_ca_file",
        "forward_tls_cert_file", "forward_tls_key_file",
    )  # fmt: skip
    @classmethod
    def _exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a file")
        return value

    @model_validator(mode="after")
    def _pairs(self) -> DicomSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        return self

    @field_validator("modality")
    @classmethod
    def _modality(cls, value: str) -> str:
        if value not in ("XA", "RF"):
            raise ValueError(f"{value!r}: the worklist modality is XA or RF")
        return value


class Hl7Settings(BaseModel):
    enabled: bool = True
    """Run the HL7 MLLP listener."""
    host: str = "127.0.0.1"
    """Address the MLLP listener binds to."""
    outbound_host: str | None = None
    """Host of the hospital system that receives our ORM / ORU messages (none: no outbound)."""
    outbound_port: int = 2576
    """Port of the outbound MLLP receiver."""
    sending_application: str = "PROCSUITE"
    """MSH-3 of every message and ACK procsuite sends."""
    sending_facility: str = "IR"
    """MSH-4 of every message and ACK procsuite sends."""
    receiving_application: str = "HIS"
    """MSH-5 of outbound ORM / ORU messages."""
    receiving_facility: str = "HOSPITAL"
    """MSH-6 of outbound ORM / ORU messages."""
    tls_cert_file: Path | None = None
    """PEM certificate (chain) of the listener; with `tls_key_file` it accepts MLLP over TLS only."""
    tls_key_file: Path | None = None
    """PEM private key of `tls_cert_file`."""
    tls_client_ca_file: Path | None = None
    """PEM CA bundle; when set, senders must present a certificate it signed (mutual TLS)."""
    max_frame_bytes: int = Field(default=1_048_576, ge=1024)
    """Largest inbound MLLP frame; a bigger one is discarded and answered AR."""
    frame_timeout_s: float = Field(default=30.0, gt=0)
    """Seconds a sender may take for one frame, from its first byte to its last; a slower
    one (a pause, or one byte every few seconds) closes the connection."""
    max_connections: int = Field(default=64, ge=1)
    """Simultaneous inbound connections; more are closed at once (counted, logged)."""
    max_connections_per_peer: int = Field(default=32, ge=1)
    """Simultaneous inbound connections from one IP address; more are closed at once, so one
    sender cannot take every slot (keep it below `max_connections`)."""
    allowed_peers: list[str] = Field(default_factory=list)
    """IP addresses or networks (CIDR) allowed to connect; others are closed at once
    (counted, logged). Empty: any address (the development default)."""
    idle_timeout_s: float = Field(default=300.0, gt=0)
    """Seconds a connection may stay open without completing a message; then it is closed.
    (`frame_timeout_s` bounds a whole frame, however slowly its bytes trickle in.)"""
    parse_thread_bytes: int = Field(default=65_536, ge=0)
    """Messages larger than this are parsed in a worker thread, off the event loop."""
    parse_budget_s: float = Field(default=5.0, gt=0)
    """Seconds a message may take to parse; a slower one is answered AR (the thread is left
    to finish; at most `max_connections` can run at once)."""
    order_window_days: float = Field(default=366.0, gt=0)
    """Orders scheduled further than this from the service clock are refused (AE)."""
    processing_ids: list[str] = Field(default_factory=lambda: ["P"])
    """MSH-11 processing IDs accepted (P production, T training, D debugging); others get AR."""
    default_charset: str = "UNICODE UTF-8"
    """Character set of inbound messages whose MSH-18 is empty (ASCII, 8859/1, UNICODE UTF-8)."""
    time_zone: str | None = None
    """IANA zone of HL7 times sent without an offset (none: this machine's local zone)."""
    default_room: str | None = None
    """Room of an order whose PV1-3 / AIL-3 / IPC-8 names none of `rooms` (none: the first room)."""
    procedure_codes: dict[str, str] = Field(
        default_factory=lambda: {
            "22510": "vertebroplasty",
            "22511": "vertebroplasty",
            "22512": "vertebroplasty",
            "22513": "kyphoplasty",
            "22514": "kyphoplasty",
            "22515": "kyphoplasty",
        }
    )
    """Order codes (OBR-4.1 / OBR-4.4 / AIS-3.1) that are vertebral augmentation, with the
    procedure each means; orders whose code is not here are matched on their text."""
    duplicate_memory: int = Field(default=100_000, ge=100)
    """How many recent control IDs are kept in memory to answer repeats without a lookup."""
    outbound_tls: bool = False
    """Speak TLS to the outbound receiver."""
    outbound_tls_ca_file: Path | None = None
    """PEM CA bundle to verify the outbound receiver (none: the system's CAs)."""
    outbound_tls_cert_file: Path | None = None
    """PEM client certificate for the outbound receiver (mutual TLS)."""
    outbound_tls_key_file: Path | None = None
    """PEM private key of `outbound_tls_cert_file`."""
    ack_timeout_s: float = Field(default=30.0, gt=0)
    """Seconds to wait for the receiver's ACK to one outbound message."""
    retry_initial_s: float = Field(default=1.0, gt=0)
    """First wait before sending again after a failure; doubles up to `retry_max_s`."""
    retry_max_s: float = Field(default=60.0, gt=0)
    """Longest wait between two attempts."""
    max_attempts: int = Field(default=10, ge=1)
    """A message sent this many times without a usable ACK is quarantined (a receiver that
    cannot be reached at all is an outage instead: retried until it is back)."""
    outage_alarm_after_s: float = Field(default=60.0, ge=0)
    """Seconds of failed delivery before the one `hl7_outbound_down` technical alarm."""
    poll_s: float = Field(default=2.0, gt=0)
    """How often the sender looks for messages queued by other processes (CLI replay)."""

    @field_validator("allowed_peers")
    @classmethod
    def _peers(cls, value: list[str]) -> list[str]:
        from suite.peers import parse_networks

        parse_networks(value)
        return value

    @field_validator("procedure_codes")
    @classmethod
    def _procedures(cls, value: dict[str, str]) -> dict[str, str]:
        for code, procedure in value.items():
            if procedure not in ("vertebroplasty", "kyphoplasty"):
                raise ValueError(f"code {code}: {procedure!r} is not vertebroplasty or kyphoplasty")
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value

    @property
    def outbound_destination(self) -> str | None:
        """`host:port` of the outbound receiver, or None when there is none."""
        if not self.outbound_host:
            return None
        return f"{self.outbound_host}:{self.outbound_port}"
