"""Capnography rules for moderate sedation: hypoventilation and apnea.

ASA asks for continual monitoring of exhaled CO2 during moderate sedation; these rules turn
a capnograph's EtCO2 and respiration rate into alarms (numbers in config.CapnographyConfig,
sources in docs/clinical-defaults.md, "Capnography"):

- Hypoventilation: the EtCO2 high limit in force is made baseline-aware. Once the case is
  sedated (phase sedation or later, not yet discharged) the valid EtCO2 readings of the
  first `baseline_window_s` give the patient's baseline (their median); it is then fixed for
  the case. Readings are not taken into the baseline while an EtCO2 high condition is
  present or building (the baseline is frozen while alarming; taking it starts again after). With a baseline, "etco2_high"
  needs EtCO2 above the high limit *and* more than `hypoventilation_rise_mmhg` above the
  baseline; without one, the plain limit applies. Delays and hysteresis are the limit's.
- Apnea: a monitor is a capnograph from its first valid EtCO2 reading until it sends EtCO2
  as "no reading" or an implausible value (line or sensor off), goes offline, or sends no
  EtCO2 for `AlarmConfig.stale_feed_s` (a module unplugged; no alarm for that here). While it is one, no breath for `apnea_s` (device time) raises one
  high-priority "apnea" alarm per room. A breath is a sample with EtCO2 at or above
  `no_breath_etco2_mmhg` and no respiration rate of 0. A single noisy sample neither raises
  nor ends it: only the time since the latest breath counts, while the latest report shows no
  breath, and only as far as the capnograph's EtCO2 reports show it (a report holds for `sample_hold_s`; after a longer gap
  the time starts again: a monitor that says nothing is no evidence of apnea). With no capnograph connected,
  nothing here alarms (a silent capnograph raises the technical "stale_feed" instead: a
  silent monitor cannot be told from a silent patient).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from datetime import datetime, timedelta

from suite.domain.alarms.config import AlarmConfig, CapnographyConfig, Limit
from suite.domain.alarms.debounce import Signal
from suite.domain.alarms.lifecycle import AlarmBook, Key
from suite.domain.alarms.model import AlarmEvent, AlarmSource, Category
from suite.domain.alarms.parameters import PARAMETERS, Param
from suite.domain.alarms.state import DeviceState, Direction, RoomState
from suite.domain.values import WORKFLOW, Phase

APNEA = "apnea"
_ETCO2, _RR = Param.ETCO2, Param.RR  # looked up once: an enum member's lookup is slow
_SEDATED = frozenset(WORKFLOW[WORKFLOW.index(Phase.SEDATION) : WORKFLOW.index(Phase.DISCHARGED)])


def note_phase(room: RoomState, *, now: datetime) -> None:
    """Remember when the room's case was first seen sedated (service time)."""
    if room.sedation_at is None and room.phase in _SEDATED:
        room.sedation_at = now


def take_baseline(
    config: CapnographyConfig, room: RoomState, dev: DeviceState, value: float, at: datetime
) -> None:
    """Add a valid EtCO2 reading at device time `at` to the baseline being taken."""
    if not config.enabled or room.sedation_at is None or room.etco2_baseline is not None:
        return
    high = dev.limit_tracker(Param.ETCO2, Direction.HIGH)
    window = room.etco2_window
    if high.active or high.run_since is not None:
        window.clear()  # frozen while an EtCO2 high condition is present or building
        return
    window.append((at, value))
    if (
        len(window) >= config.baseline_min_samples
        and (at - window[0][0]).total_seconds() >= config.baseline_window_s
    ):
        room.etco2_baseline = statistics.median(v for _, v in window)
        window.clear()


def hypoventilation_signal(
    config: CapnographyConfig, room: RoomState, limit: Limit, value: float | None
) -> Signal | None:
    """The EtCO2 high signal with a baseline; None when the plain limit applies."""
    baseline = room.etco2_baseline
    if not config.enabled or baseline is None or value is None:
        return None
    if limit.high is None:
        return Signal.OFF
    rise = value - baseline
    if value > limit.high and rise > config.hypoventilation_rise_mmhg:
        return Signal.ON
    margin = limit.hysteresis
    if value <= limit.high - margin or rise <= config.hypoventilation_rise_mmhg - margin:
        return Signal.OFF
    return Signal.NEUTRAL


def hypoventilation_message(room: RoomState, limit: Limit, value: float | None) -> str | None:
    """What "etco2_high" says when it fired against a baseline; None without one."""
    if room.etco2_baseline is None:
        return None
    info = PARAMETERS[Param.ETCO2]
    rise = (value or 0.0) - room.etco2_baseline
    return (
        f"Hypoventilation: {info.label} {info.format(value)} > {info.format(limit.high)}"
        f" and {rise:.0f} mmHg above the patient's baseline {info.format(room.etco2_baseline)}"
    )


class ApneaRule:
    def __init__(self, config: AlarmConfig, book: AlarmBook) -> None:
        self._config = config.capnography
        self._stale_s = config.stale_feed_s
        self._hold_s = config.sample_hold_s
        self._book = book

    def sample(
        self,
        room: RoomState,
        dev: DeviceState,
        usable: Mapping[Param, float | None],
        *,
        at: datetime,
        devices: Mapping[str, DeviceState],
        now: datetime,
    ) -> list[AlarmEvent]:
        """A sample's usable values (None: no reading, or not a valid one) at device time `at`."""
        if _ETCO2 in usable:
            etco2 = usable[_ETCO2]
            if etco2 is None:
                dev.capno_since = dev.last_breath = None  # line or sensor off
            else:
                gap = (
                    dev.etco2_at is not None and (at - dev.etco2_at).total_seconds() > self._hold_s
                )
                if dev.capno_since is None or gap:
                    # Apnea is timed from the (re)connection or the end of a gap in the
                    # reports: silence is no evidence. An apnea already present (or restored
                    # after a restart) holds until a breath is seen.
                    dev.capno_since = dev.capno_since or at
                    dev.last_breath = at - timedelta(seconds=self._config.apnea_s * dev.apnea)
                dev.etco2_at = at
                rr = usable.get(_RR)
                if etco2 >= self._config.no_breath_etco2_mmhg and rr != 0:
                    dev.last_breath = at
        return self.evaluate(room, dev, now_device=at, devices=devices, now=now)

    def evaluate(
        self,
        room: RoomState,
        dev: DeviceState,
        *,
        now_device: datetime,
        devices: Mapping[str, DeviceState],
        now: datetime,
    ) -> list[AlarmEvent]:
        """Start or end the device's apnea condition (after a sample, or on a tick)."""
        if dev.last_at is None:
            return []  # nothing from it since a restart: keep what was restored
        if dev.etco2_at is not None and (now_device - dev.etco2_at).total_seconds() > self._stale_s:
            dev.capno_since = None  # no EtCO2 for a while: no capnograph any more
        connected = (
            self._config.enabled
            and dev.capno_since is not None
            and dev.etco2_at is not None
            and dev.online
            and (now_device - dev.etco2_at).total_seconds() <= self._stale_s
        )
        silent_s = 0.0
        if (
            connected
            and dev.last_breath is not None
            and dev.etco2_at is not None
            and dev.etco2_at > dev.last_breath  # the latest report shows no breath
        ):
            # Known only as far as the latest EtCO2 report holds (as a limit's value does).
            known = min(now_device, dev.etco2_at + timedelta(seconds=self._hold_s))
            silent_s = (known - dev.last_breath).total_seconds()
        apneic = connected and silent_s >= self._config.apnea_s
        if apneic == dev.apnea:
            return []
        dev.apnea = apneic
        key: Key = (room.room, APNEA, "")
        if not apneic:
            if any(d.apnea for d in devices.values() if d is not dev):
                return []
            why = "breathing detected by capnography" if connected else "capnograph disconnected"
            return self._book.condition_ended(key, now=now, reason=why)
        evidence: list[tuple[str, float | None]] = []
        for param in (Param.ETCO2, Param.RR):
            latest = room.latest.get(param)
            if latest is not None and latest.device == dev.device:
                evidence.append((latest.at.isoformat(), latest.value))
        return self._book.condition_started(
            key,
            category=Category.PHYSIOLOGICAL,
            priority=self._config.apnea_priority,
            message=(
                f"Apnea: no breath detected by capnography for {silent_s:.0f} s"
                f" (monitor {dev.device})"
            ),
            source=AlarmSource(
                rule="capnography.apnea",
                device=dev.device,
                parameter=Param.ETCO2.value,
                evidence=tuple(evidence),
            ),
            case_id=room.case_id,
            now=now,
        )

    def end_device(
        self,
        room: RoomState,
        dev: DeviceState,
        *,
        devices: Mapping[str, DeviceState],
        now: datetime,
    ) -> list[AlarmEvent]:
        """The device is gone: it no longer holds an apnea condition up."""
        dev.capno_since = dev.last_breath = None
        if not dev.apnea:
            return []
        dev.apnea = False
        if any(d.apnea for d in devices.values() if d is not dev):
            return []
        reason = f"monitor {dev.device} removed"
        return self._book.condition_ended((room.room, APNEA, ""), now=now, reason=reason)
