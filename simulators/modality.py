"""The simulated fluoroscopy unit: a DICOM SCU (pynetdicom) that works like a real C-arm.

One procedure, as IHE Scheduled Workflow has it: query the worklist (C-FIND), start the
procedure step (MPPS N-CREATE, IN PROGRESS), send images while screening (C-STORE XA), send
the radiation dose SR at the end (C-STORE), and end the step (MPPS N-SET COMPLETED or
DISCONTINUED, with the dose). Each operation opens its own association, as many units do.

pynetdicom is blocking: every operation runs in a worker thread (`asyncio.to_thread`); the
event loop never waits on the network.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    XRayAngiographicImageStorage,
    XRayRadiationDoseSRStorage,
    generate_uid,
)
from pynetdicom import AE

from simulators.clock import SimClock
from simulators.dicom_objects import (
    MPPS_SOP_CLASS,
    Equipment,
    StudyContext,
    mpps_create,
    mpps_set,
    xa_image,
)
from simulators.fluoro_dose import DoseLedger, Technique, View, acquisition, fluoroscopy
from simulators.rdsr import dose_report
from simulators.worklist import MWL_FIND_SOP_CLASS, WorklistItem, item_from, worklist_query

log = logging.getLogger(__name__)

VERIFICATION_SOP_CLASS = "1.2.840.10008.1.1"  # C-ECHO

_LEVEL = re.compile(r"\b(C[1-7]|T1[0-2]|T[1-9]|L[1-5]|S1)\b")
_SYNTAXES = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]


class ModalityError(Exception):
    """A DICOM operation that failed: the message names the operation, peer and status."""


@dataclass(frozen=True, slots=True)
class Peer:
    """The DICOM node the modality talks to (procsuite by default)."""

    host: str = "127.0.0.1"
    port: int = 11112
    ae_title: str = "PROCSUITE"

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


@dataclass
class PerformedStep:
    """A procedure step in progress on the unit: its context and the dose so far."""

    ctx: StudyContext
    ledger: DoseLedger = field(default_factory=DoseLedger)
    instance_number: int = 0
    files: list[Path] = field(default_factory=list)


def levels_in(text: str) -> list[str]:
    """Vertebral levels named in a text ("Kyphoplasty T12, L1" -> ["T12", "L1"])."""
    return list(dict.fromkeys(_LEVEL.findall(text.upper())))


class Modality:
    """The fluoroscopy unit. Methods are async; each DICOM exchange runs in a thread."""

    def __init__(
        self,
        *,
        clock: SimClock,
        peer: Peer | None = None,
        worklist_peer: Peer | None = None,
        mpps_peer: Peer | None = None,
        storage_peer: Peer | None = None,
        equipment: Equipment | None = None,
        technique: Technique | None = None,
        zone: tzinfo | None = None,
        timeout_s: float = 30.0,
        out_dir: Path | None = None,
    ) -> None:
        self.clock = clock
        self.peer = peer or Peer()
        # Many sites split these (worklist and MPPS from the RIS, storage to the PACS);
        # by default all three are procsuite.
        self.worklist_peer = worklist_peer or self.peer
        self.mpps_peer = mpps_peer or self.peer
        self.storage_peer = storage_peer or self.peer
        self.equipment = equipment or Equipment()
        self.technique = technique or Technique()
        self.zone: tzinfo = zone or datetime.now().astimezone().tzinfo or UTC
        self.timeout_s = timeout_s
        self.out_dir = out_dir

    # ---- the association -------------------------------------------------------------------

    def _ae(self, *contexts: str) -> AE:
        ae = AE(ae_title=self.equipment.ae_title)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.timeout_s
        for context in contexts:
            ae.add_requested_context(context, _SYNTAXES)
        return ae

    def _exchange(self, what: str, peer: Peer, contexts: tuple[str, ...], job: Any) -> Any:
        """Open an association, run `job(assoc)`, release. Runs in a worker thread."""
        ae = self._ae(*contexts)
        assoc = ae.associate(peer.host, peer.port, ae_title=peer.ae_title)
        if not assoc.is_established:
            why = (
                "rejected"
                if assoc.is_rejected
                else "aborted (connection refused, or the peer dropped it)"
                if assoc.is_aborted
                else "failed"
            )
            ae.shutdown()
            raise ModalityError(f"{what}: association with {peer} {why}")
        try:
            return job(assoc)
        finally:
            if assoc.is_established:
                assoc.release()
            ae.shutdown()

    async def _run(self, what: str, peer: Peer, contexts: tuple[str, ...], job: Any) -> Any:
        return await asyncio.to_thread(self._exchange, what, peer, contexts, job)

    # ---- operations ------------------------------------------------------------------------

    async def echo(self, peer: Peer | None = None) -> None:
        """C-ECHO to `peer` (default: the main peer); ModalityError unless it answers success."""
        target = peer or self.peer

        def job(assoc: Any) -> None:
            _check("C-ECHO", target, assoc.send_c_echo())

        await self._run("C-ECHO", target, (VERIFICATION_SOP_CLASS,), job)

    async def query_worklist(
        self,
        *,
        on: date | None = None,
        modality: str | None = "XA",
        station_name: str | None = None,
        any_station: bool = False,
    ) -> list[WorklistItem]:
        """C-FIND on the Modality Worklist for this unit's AE title (every station's with
        `any_station`), on day `on` (any day when None), for `modality`."""
        query = worklist_query(
            station_ae=None if any_station else self.equipment.ae_title,
            on=on,
            modality=modality,
            station_name=station_name,
        )

        def job(assoc: Any) -> list[WorklistItem]:
            found: list[WorklistItem] = []
            for status, identifier in assoc.send_c_find(query, MWL_FIND_SOP_CLASS):
                if not status:
                    raise ModalityError(f"worklist C-FIND: no answer from {self.worklist_peer}")
                code = int(status.Status)
                if code in (0xFF00, 0xFF01) and identifier is not None:
                    found.append(item_from(identifier, zone=self.zone))
                elif code != 0x0000:
                    raise ModalityError(
                        f"worklist C-FIND: {self.worklist_peer} answered 0x{code:04X}"
                    )
            return found

        items: list[WorklistItem] = await self._run(
            "worklist C-FIND", self.worklist_peer, (MWL_FIND_SOP_CLASS,), job
        )
        log.info(
            "worklist from %s: %d item(s) for %s",
            self.worklist_peer,
            len(items),
            self.equipment.ae_title,
        )
        return items

    async def start(
        self, item: WorklistItem, *, location: str = "", operator: str = ""
    ) -> PerformedStep:
        """MPPS N-CREATE IN PROGRESS for `item`; returns the step to add images to."""
        ctx = StudyContext(
            item=item,
            equipment=self.equipment,
            started_at=self.clock.now(),
            zone=self.zone,
            location=location or item.location,
            operator=operator,
        )
        request = mpps_create(ctx)

        def job(assoc: Any) -> None:
            status, _attrs = assoc.send_n_create(request, MPPS_SOP_CLASS, ctx.pps_uid)
            _check("MPPS N-CREATE", self.mpps_peer, status)

        await self._run("MPPS N-CREATE", self.mpps_peer, (MPPS_SOP_CLASS,), job)
        log.info("MPPS %s IN PROGRESS for %s", ctx.pps_uid, item.label)
        return PerformedStep(ctx)

    async def fluoro(
        self,
        step: PerformedStep,
        *,
        level: str,
        phase: str,
        view: View = View.AP,
        seconds: float = 20.0,
    ) -> str:
        """A fluoroscopy run of `seconds` ending with its last image stored; returns the SOP
        Instance UID. `phase` is "survey", "trocar", "balloon", "cement" or "check"."""
        event = step.ledger.add(
            fluoroscopy(
                self.technique,
                uid=generate_uid(),
                started_at=self.clock.now(),
                duration_s=seconds,
                view=view,
                protocol=f"{phase.capitalize()} {level}",
                level=level,
            )
        )
        return await self._store_image(step, event, phase)

    async def spot(
        self, step: PerformedStep, *, level: str, phase: str, view: View = View.LATERAL
    ) -> str:
        """One radiographic exposure (a documentation image); returns its SOP Instance UID."""
        event = step.ledger.add(
            acquisition(
                self.technique,
                uid=generate_uid(),
                started_at=self.clock.now(),
                view=view,
                protocol=f"{phase.capitalize()} {level}",
                level=level,
            )
        )
        return await self._store_image(step, event, phase)

    async def _store_image(self, step: PerformedStep, event: Any, phase: str) -> str:
        step.instance_number += 1
        ds = await asyncio.to_thread(
            xa_image,
            step.ctx,
            event,
            step=phase,
            instance_number=step.instance_number,
            pixel_seed=step.instance_number,
        )
        await self.store(step, ds)
        return str(ds.SOPInstanceUID)

    async def store(self, step: PerformedStep, ds: Dataset) -> None:
        """C-STORE one object (and keep a copy under `out_dir` when set)."""
        if self.out_dir is not None:
            path = self.out_dir / f"{ds.Modality}_{ds.SOPInstanceUID}.dcm"
            await asyncio.to_thread(_save, ds, path)
            step.files.append(path)

        def job(assoc: Any) -> None:
            status = assoc.send_c_store(ds)
            _check("C-STORE", self.storage_peer, status, warnings_ok=True)

        await self._run(
            "C-STORE",
            self.storage_peer,
            (XRayAngiographicImageStorage, XRayRadiationDoseSRStorage),
            job,
        )

    async def finish(self, step: PerformedStep, *, discontinued: str | None = None) -> Dataset:
        """Send the dose SR, then MPPS N-SET COMPLETED (or DISCONTINUED with a reason from
        dicom_objects.DISCONTINUATION_REASONS). Returns the RDSR sent."""
        now = self.clock.now()
        report = dose_report(step.ctx, step.ledger, at=now)
        await self.store(step, report)
        final = mpps_set(
            step.ctx, step.ledger, ended_at=self.clock.now(), discontinued=discontinued
        )

        def job(assoc: Any) -> None:
            status, _attrs = assoc.send_n_set(final, MPPS_SOP_CLASS, step.ctx.pps_uid)
            _check("MPPS N-SET", self.mpps_peer, status)

        await self._run("MPPS N-SET", self.mpps_peer, (MPPS_SOP_CLASS,), job)
        log.info(
            "MPPS %s %s: %d image(s), fluoro %.0f s, DAP %.2f Gy.cm2",
            step.ctx.pps_uid,
            final.PerformedProcedureStepStatus,
            len(step.ctx.images),
            step.ledger.fluoro_time_s,
            step.ledger.dap_gym2 * 10_000,
        )
        return report


def _save(ds: Dataset, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def _check(what: str, peer: Peer, status: Dataset | None, *, warnings_ok: bool = False) -> None:
    if not status or "Status" not in status:
        raise ModalityError(f"{what}: no response from {peer} (timeout or aborted association)")
    code = int(status.Status)
    if code == 0x0000:
        return
    if warnings_ok and (code == 0x0001 or 0xB000 <= code <= 0xBFFF):
        log.warning("%s: %s answered warning 0x%04X", what, peer, code)
        return
    comment = status.get("ErrorComment", "")
    raise ModalityError(f"{what}: {peer} answered 0x{code:04X} {comment}".rstrip())
