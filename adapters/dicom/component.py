"""The DICOM adapter as a service component: the listener, the linker and the forwarder."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from adapters.dicom.association import Bridge, CallerPolicy, Counters
from adapters.dicom.association_log import AssociationLog
from adapters.dicom.dose import DoseKeeper
from adapters.dicom.forward import Destination, Forwarder, instance_queue
from adapters.dicom.intake import Intake
from adapters.dicom.linker import Linker
from adapters.dicom.mpps_records import MppsRecorder
from adapters.dicom.server import DicomScp
from adapters.dicom.worklist import WorklistConfig
from suite.app.site_alarm import FromThread, SiteAlarm
from suite.settings import DicomSettings
from suite.tasks import run_together
from suite.tls import client_tls, server_tls

if TYPE_CHECKING:
    from suite.app.context import ServiceContext

log = logging.getLogger(__name__)


def worklist_config(settings: DicomSettings) -> WorklistConfig:
    codes: dict[str, tuple[str, str, str]] = {}
    for procedure, spec in settings.procedure_codes.items():
        value, _, rest = spec.partition("^")
        scheme, _, meaning = rest.partition("^")
        codes[procedure] = (value, scheme or "99PROCSUITE", meaning or value)
    return WorklistConfig(
        stations=dict(settings.stations),
        modality=settings.modality,
        room_modalities=dict(settings.room_modalities),
        procedure_codes=codes,
        tz=ZoneInfo(settings.timezone) if settings.timezone else None,
    )


DISK_FULL_KIND = "dicom_store_full"


class DicomAdapter:
    """Our Application Entity and the work behind it; `run()` until cancelled."""

    name = "dicom"

    def __init__(self, ctx: ServiceContext) -> None:
        settings = ctx.settings.dicom
        self.settings = settings
        self.host = settings.host
        self.port = ctx.settings.dicom_port
        self.root: Path = ctx.settings.data_dir / "dicom"
        self._db = ctx.db
        self.disk_alarm = SiteAlarm(
            ctx.bus, clock=ctx.clock, kind=DISK_FULL_KIND, device=ctx.settings.lease.instance_id
        )
        self.stats = Counters()
        self.ready = asyncio.Event()
        self.dose = DoseKeeper(
            db=ctx.db,
            cases=ctx.cases,
            bus=ctx.bus,
            clock=ctx.clock,
            thresholds=ctx.settings.dose.thresholds(),
        )
        self.linker = Linker(db=ctx.db, cases=ctx.cases, dose=self.dose, clock=ctx.clock)
        self.forwarder: Forwarder | None = None
        if settings.forward_host:
            self.forwarder = Forwarder(
                db=ctx.db,
                clock=ctx.clock,
                root=self.root,
                destination=Destination(
                    settings.forward_host,
                    settings.forward_port,
                    settings.forward_ae_title,
                    instance_queue(ctx.settings.lease.instance_id),
                ),
                calling_ae=settings.ae_title,
                retry_min_s=settings.forward_retry_min_s,
                retry_max_s=settings.forward_retry_max_s,
                timeout_s=settings.timeout_s,
                tls=client_tls(
                    settings.forward_tls_ca_file,
                    settings.forward_tls_cert_file,
                    settings.forward_tls_key_file,
                )
                if settings.forward_tls
                else None,
            )
        self.intake = Intake(
            db=ctx.db,
            cases=ctx.cases,
            clock=ctx.clock,
            worklist=worklist_config(settings),
            forward_to=self.forwarder.destination.key if self.forwarder else None,
            on_indexed=self._indexed,
        )
        self.mpps = MppsRecorder(db=ctx.db, cases=ctx.cases, dose=self.dose, clock=ctx.clock)
        self._server: Any = None  # the pynetdicom server while `run()` runs
        self.association_log = AssociationLog(clock=ctx.clock)

    def active_associations(self) -> int:
        """Associations open right now (0 when the listener is not running)."""
        server = self._server
        return len(server.active_associations) if server is not None else 0

    def _indexed(self) -> None:
        self.linker.wake()
        if self.forwarder is not None:
            self.forwarder.wake()

    def counters(self) -> dict[str, int]:
        """What the adapter has done and refused so far."""
        counts = self.stats.snapshot()
        counts.update(
            images_linked=self.linker.linked,
            images_not_linked=self.linker.failed,
            dose_alarms=self.dose.alarms_raised,
        )
        if self.forwarder is not None:
            counts.update(forwarded=self.forwarder.sent, forward_failures=self.forwarder.failures)
        return counts

    async def run(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        await self.disk_alarm.adopt(self._db)
        scp = DicomScp(
            ae_title=self.settings.ae_title,
            policy=CallerPolicy(dict(self.settings.allowed_callers)),
            intake=self.intake,
            mpps=self.mpps,
            bridge=Bridge(asyncio.get_running_loop(), timeout_s=self.settings.timeout_s),
            root=self.root,
            max_object_bytes=int(self.settings.max_object_mb * 1024 * 1024),
            max_associations=self.settings.max_associations,
            max_per_caller=self.settings.max_associations_per_caller,
            timeout_s=self.settings.timeout_s,
            counters=self.stats,
            disk_alarm=FromThread(self.disk_alarm, asyncio.get_running_loop()),
            association_log=self.association_log,
        )
        st = self.settings
        tls = None
        if st.tls_cert_file is not None and st.tls_key_file is not None:
            tls = server_tls(st.tls_cert_file, st.tls_key_file, st.tls_client_ca_file)
        server = scp.start(self.host, self.port, tls=tls)
        self._server = server
        self.port = int(server.server_address[1])
        log.info(
            "dicom: %s listening on %s:%d%s%s",
            self.settings.ae_title,
            self.host,
            self.port,
            " (TLS)" if tls is not None else "",
            f", forwarding to {self.forwarder.destination.key}" if self.forwarder else "",
        )
        self.ready.set()
        try:
            parts = {"dicom-linker": self.linker.run()}
            if self.forwarder is not None:
                parts["dicom-forwarder"] = self.forwarder.run()
            await run_together(parts)
        finally:
            self._server = None
            await asyncio.to_thread(server.shutdown)
            await asyncio.to_thread(scp.close)
            log.info("dicom: listener stopped")
