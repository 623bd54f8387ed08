"""A simulated monitor gateway speaking IHE PCD-01: an ORU^R01 every N seconds over MLLP.

Wire contract only (ORU^R01 as ../shared/DEVICES.md and docs/devices.md describe it): it
shares no code with procsuite's PCD-01 adapter, so a real gateway can take its place.

`encode_oru` is pure: the message of one set of numerics, in GE style (OBX-4 sub-ids
`1.<vmd>.<channel>.<metric>`, MSH-21 PCD_DEC_001, units as MDC codes with UCUM beside them)
or Mindray style (the metric's MDC code in the 4th sub-id component, IHE_PCD_001, NIBP as
MDC_PRESS_CUFF_*, EtCO2 in kPa). `Pcd01Gateway` runs a `MonitorModel` (the physiology
scenarios of the MQTT monitor) and sends one message per tick, waiting for each ACK.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from simulators.clock import SimClock
from simulators.monitor_model import MonitorModel

log = logging.getLogger(__name__)

# (wire key, VMD row, channel, MDC code, reference id, unit code, unit ref, UCUM)
_GE = (
    ("hr", 1, 1, 147842, "MDC_ECG_HEART_RATE", 264864, "MDC_DIM_BEAT_PER_MIN", "{beat}/min"),
    ("spo2", 2, 1, 150456, "MDC_PULS_OXIM_SAT_O2", 262688, "MDC_DIM_PERCENT", "%"),
    ("nibp_sys", 3, 1, 150021, "MDC_PRESS_BLD_NONINV_SYS", 266016, "MDC_DIM_MMHG", "mm[Hg]"),
    ("nibp_dia", 3, 1, 150022, "MDC_PRESS_BLD_NONINV_DIA", 266016, "MDC_DIM_MMHG", "mm[Hg]"),
    ("nibp_map", 3, 1, 150023, "MDC_PRESS_BLD_NONINV_MEAN", 266016, "MDC_DIM_MMHG", "mm[Hg]"),
    ("rr", 4, 1, 151562, "MDC_RESP_RATE", 264928, "MDC_DIM_RESP_PER_MIN", "/min"),
    ("etco2", 4, 1, 151708, "MDC_AWAY_CO2_ET", 266016, "MDC_DIM_MMHG", "mm[Hg]"),
    ("temp", 5, 1, 150344, "MDC_TEMP", 268192, "MDC_DIM_DEGC", "Cel"),
)
_MINDRAY = (
    ("hr", 1, 1, 147842, "MDC_ECG_HEART_RATE", 264864, "MDC_DIM_BEAT_PER_MIN", "{beat}/min"),
    ("spo2", 2, 1, 150456, "MDC_PULS_OXIM_SAT_O2", 262688, "MDC_DIM_PERCENT", "%"),
    ("nibp_sys", 3, 1, 150301, "MDC_PRESS_CUFF_SYS", 266016, "MDC_DIM_MMHG", "mm[Hg]"),
    ("nibp_dia", 3, 1, 150302, "MDC_PRESS_CUFF_DIA", 266016, "MDC_DIM_MMHG", "mm[Hg]"),
    ("nibp_map", 3, 1, 150303, "MDC_PRESS_CUFF_MEAN", 266016, "MDC_DIM_MMHG", "mm[Hg]"),
    ("rr", 4, 1, 151594, "MDC_CO2_RESP_RATE", 264928, "MDC_DIM_RESP_PER_MIN", "/min"),
    ("etco2", 4, 1, 151708, "MDC_AWAY_CO2_ET", 265987, "MDC_DIM_KILO_PA", "kPa"),
    ("temp", 5, 1, 150364, "MDC_TEMP_BODY", 268192, "MDC_DIM_DEGC", "Cel"),
)
_VMD = {
    1: "69798^MDC_DEV_ECG_VMD^MDC",
    2: "69642^MDC_DEV_ANALY_SAT_O2_VMD^MDC",
    3: "69854^MDC_DEV_METER_PRESS_BLD_VMD^MDC",
    4: "69682^MDC_DEV_ANALY_AWAY_MULTI_PARAM_VMD^MDC",
    5: "69902^MDC_DEV_METER_TEMP_VMD^MDC",
}
KPA_PER_MMHG = 1 / 7.50062
STYLES = ("ge", "mindray")
# The monitor's own alarm limits, sent in OBX-7 (a typical adult default set)
MONITOR_LIMITS = {"hr": (50.0, 120.0), "spo2": (90.0, 100.0), "rr": (8.0, 30.0)}


def hl7_ts(at: datetime) -> str:
    """An HL7 DTM in UTC, with milliseconds when the time has them."""
    utc = at.astimezone(UTC)
    ms = f".{utc.microsecond // 1000:03d}" if utc.microsecond else ""
    return utc.strftime("%Y%m%d%H%M%S") + ms + "+0000"


def encode_oru(
    *,
    location: str,
    device: str,
    at: datetime,
    values: dict[str, float | int | None],
    control_id: str,
    style: str = "ge",
    mrn: str = "",
    limits: dict[str, tuple[float, float]] | None = None,
) -> bytes:
    """One ORU^R01 (segments separated by CR, not framed) with `values` (wire key -> number;
    None or absent: not sent). `location` is PV1-3 as sent ("IR^IR1^1")."""
    if style not in STYLES:
        raise ValueError(f"style {style!r} is not one of {', '.join(STYLES)}")
    table = _GE if style == "ge" else _MINDRAY
    ts = hl7_ts(at)
    eui = "0A1B2CFFFE3D4E5F"
    profile = (
        "PCD_DEC_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"
        if style == "ge"
        else "IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"
    )
    gateway = "GE_GW" if style == "ge" else "MINDRAY_EGATEWAY"
    segments = [
        f"MSH|^~\\&|{gateway}^{eui}^EUI-64|SIM|PROCSUITE||{ts}||ORU^R01^ORU_R01|{control_id}|P|2.6"
        f"|||AL|NE||UNICODE UTF-8|||{profile}",
        f"PID|||{mrn}^^^Hospital^MR",
        f"PV1||I|{location}",
        f"OBR|1|{control_id}^{gateway}|{control_id}^{gateway}|182777000^monitoring of patient^SCT"
        f"|||{ts}",
        f"OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||"
        f"{device}^SIM^{eui}^EUI-64",
    ]
    n = 2
    vmd_done: set[int] = set()
    for key, vmd, chan, code, ref, ucode, uref, ucum in table:
        value = values.get(key)
        if value is None:
            continue
        if vmd not in vmd_done:
            vmd_done.add(vmd)
            segments.append(f"OBX|{n}||{_VMD[vmd]}|1.{vmd}.0.0|||||||X")
            n += 1
        if uref == "MDC_DIM_KILO_PA":
            value = round(float(value) * KPA_PER_MMHG, 2)
        sub = f"1.{vmd}.{chan}.{code}" if style == "mindray" else f"1.{vmd}.{chan}.{n}"
        limit = ""
        if limits and key in limits:
            limit = f"{limits[key][0]:g}-{limits[key][1]:g}"
        segments.append(
            f"OBX|{n}|NM|{code}^{ref}^MDC|{sub}|{value:g}|{ucode}^{uref}^MDC^{ucum}^{ucum}^UCUM"
            f"|{limit}||||R|||{ts}"
        )
        n += 1
    return ("\r".join(segments) + "\r").encode("utf-8")


@dataclass
class GatewayStats:
    sent: int = 0
    accepted: int = 0
    errors: int = 0
    failures: int = 0


class Pcd01Gateway:
    """Sends the model's numerics every tick (the model's rate) to host:port over MLLP."""

    def __init__(
        self,
        model: MonitorModel,
        *,
        host: str,
        port: int,
        location: str,
        device: str,
        clock: SimClock,
        style: str = "ge",
        timeout_s: float = 10.0,
        room: str = "",
    ) -> None:
        self.model, self.host, self.port = model, host, port
        self.room = room or location.split("^")[1 if "^" in location else 0]
        self.location, self.device, self.clock, self.style = location, device, clock, style
        self.timeout_s = timeout_s
        self.stats = GatewayStats()
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def run(
        self, *, duration_s: float | None = None, stop: asyncio.Event | None = None
    ) -> GatewayStats:
        """Send until `duration_s` simulated seconds have passed, `stop` is set, or cancelled."""
        stop = stop if stop is not None else asyncio.Event()
        n = 0
        try:
            while True:
                t_s = self.model.t_of(n)
                if duration_s is not None and t_s >= duration_s:
                    break
                at = self.model.start_at + timedelta(seconds=t_s)
                if await self.clock.sleep_until(at, stop=stop):
                    break
                tick = self.model.tick(n)
                n += 1
                if tick.message is None:
                    continue
                payload = encode_oru(
                    location=self.location, device=self.device, at=tick.message.ts,
                    values=dict(tick.message.values), control_id=f"{self.device}-{n}",
                    style=self.style, limits=MONITOR_LIMITS,
                )  # fmt: skip
                await self._send(payload)
        finally:
            self._close()
        return self.stats

    async def _send(self, payload: bytes) -> None:
        try:
            async with asyncio.timeout(self.timeout_s):
                if self._conn is None:
                    self._conn = await asyncio.open_connection(self.host, self.port)
                reader, writer = self._conn
                writer.write(b"\x0b" + payload + b"\x1c\r")
                await writer.drain()
                ack = await reader.readuntil(b"\x1c")
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            self.stats.failures += 1
            log.warning("pcd01 gateway: %s:%d: %s", self.host, self.port, exc or type(exc).__name__)
            self._close()
            return
        self.stats.sent += 1
        if b"MSA|AA" in ack:
            self.stats.accepted += 1
        else:
            self.stats.errors += 1
            log.warning("pcd01 gateway: %s", ack.decode("utf-8", "replace").replace("\r", " | "))

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn[1].close()
            self._conn = None
