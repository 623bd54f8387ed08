"""The `sdc` section of the settings: IEEE 11073 SDC providers procsuite reads (docs/devices-sdc.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, model_validator


class SdcProviderSettings(BaseModel):
    """One SDC provider (a patient monitor) procsuite connects to."""

    device: str
    """procsuite's name for the monitor (the device in alarms, vitals and the room state)."""
    room: str | None = None
    """The procsuite room its samples belong to; default: the provider's location (its `rm`,
    then `poc` or `bed` component) when that equals a served room name."""
    address: str | None = None
    """The provider's transport address (`http://10.1.2.3:6464/<path>`, https with TLS): no
    discovery. Use it where multicast does not reach (Docker bridges, routed networks)."""
    epr: str | None = None
    """Discovery: the provider's endpoint reference (`urn:uuid:...`) to pick."""
    location: dict[str, str] = Field(default_factory=dict)
    """Discovery: location components the provider must have (keys among fac, bldng, flr,
    poc, rm, bed), e.g. {poc = "IR", rm = "ir-1"}."""

    @model_validator(mode="after")
    def _one_way_to_find_it(self) -> SdcProviderSettings:
        if not self.address and not self.epr and not self.location:
            raise ValueError(f"SDC provider {self.device!r}: give an address, an epr or a location")
        bad = set(self.location) - {"fac", "bldng", "flr", "poc", "rm", "bed"}
        if bad:
            raise ValueError(f"SDC provider {self.device!r}: unknown location keys {sorted(bad)}")
        return self


class SdcSettings(BaseModel):
    """IEEE 11073 SDC consumer (adapters/devices/sdc)."""

    enabled: bool = True
    """Connect to the providers listed (nothing runs when the list is empty)."""
    providers: list[SdcProviderSettings] = Field(default_factory=list)
    """The monitors to read, each by address or by discovery (epr and/or location)."""
    discovery_address: str = "127.0.0.1"
    """The local IPv4 address WS-Discovery binds to (the hospital network's interface)."""
    discovery_timeout_s: float = Field(default=3.0, gt=0)
    """How long one discovery search waits for answers (it blocks the provider's thread)."""
    tls_folder: Path | None = None
    """Mutual TLS: a folder with userkey.pem, usercert.pem and cacert.pem (sdc11073's
    `mk_ssl_contexts_from_folder`); connections are then https only."""
    reconnect_min_s: float = Field(default=1.0, gt=0)
    """First wait before connecting again after a failure; doubled up to `reconnect_max_s`."""
    reconnect_max_s: float = Field(default=30.0, gt=0)
    """Longest wait between connection attempts."""
    probe_interval_s: float = Field(default=2.0, gt=0)
    """How often a connected provider is asked for its MDIB version (liveness)."""
    offline_after_s: float = Field(default=10.0, gt=0)
    """A provider not heard from (no report, no answered probe) for this long is shown
    offline (technical alarm `device_offline`) until it is back."""
    socket_timeout_s: int = Field(default=5, ge=1)
    """Timeout of one request to a provider."""
    renew_s: int = Field(default=30, ge=1)
    """Subscription renew interval in whole seconds (sdc11073 takes only an int)."""
