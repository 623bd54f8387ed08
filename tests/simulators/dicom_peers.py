"""DICOM peers for the modality tests: a dcmtk worklist directory, and an MPPS SCP.

dcmtk has no MPPS SCP, so the MPPS peer is a pynetdicom Application Entity (a real DICOM
implementation on loopback) that keeps the N-CREATE / N-SET requests it was sent.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, evt

from simulators.dicom_objects import MPPS_SOP_CLASS
from tests.peers import free_port
from tests.simulators.conftest import dcmtk, run_tool


def worklist_dump(
    *,
    accession: str,
    study_uid: str,
    patient: str,
    mrn: str,
    station: str,
    room: str,
    day: str,
    at: str,
    description: str,
) -> str:
    """A worklist item as dcmtk's dump2dcm reads it."""
    return f"""(0008,0005) CS [ISO_IR 100]
(0008,0050) SH [{accession}]
(0008,0090) PN [House^Gregory]
(0010,0010) PN [{patient}]
(0010,0020) LO [{mrn}]
(0010,0030) DA [19440130]
(0010,0040) CS [F]
(0020,000d) UI [{study_uid}]
(0032,1060) LO [{description}]
(0040,0100) SQ
(fffe,e000) -
(0008,0060) CS [XA]
(0040,0001) AE [{station}]
(0040,0002) DA [{day}]
(0040,0003) TM [{at}]
(0040,0006) PN [Jones^Amy]
(0040,0007) LO [{description}]
(0040,0009) SH [SPS-{accession}]
(0040,0010) SH [{room}]
(0040,0011) SH [{room}]
(fffe,e00d) -
(fffe,e0dd) -
(0040,1001) SH [RP-{accession[-10:]}]
"""


def make_worklist(root: Path, called_ae: str, dumps: list[str]) -> Path:
    """A wlmscpfs data directory: <root>/<called AE>/*.wl (built with dump2dcm) + lockfile."""
    folder = root / called_ae
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lockfile").touch()
    for n, text in enumerate(dumps, start=1):
        dump = folder / f"item{n}.dump"
        dump.write_text(text, encoding="latin-1")
        done = run_tool(
            dcmtk("dump2dcm"), "--write-xfer-little", str(dump), str(folder / f"item{n}.wl")
        )
        assert done.returncode == 0, done.stderr
        dump.unlink()
    return root


@dataclass
class MppsPeer:
    port: int
    created: dict[str, Dataset] = field(default_factory=dict)
    sets: dict[str, list[Dataset]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_create(self, event: Any) -> tuple[int, Dataset | None]:
        uid = str(event.request.AffectedSOPInstanceUID)
        ds = event.attribute_list
        with self.lock:
            if uid in self.created:
                return 0x0111, None  # duplicate SOP instance
            self.created[uid] = ds
        return 0x0000, ds

    def on_set(self, event: Any) -> tuple[int, Dataset | None]:
        uid = str(event.request.RequestedSOPInstanceUID)
        with self.lock:
            if uid not in self.created:
                return 0x0112, None  # no such instance
            self.sets.setdefault(uid, []).append(event.modification_list)
        return 0x0000, event.modification_list


@contextlib.contextmanager
def mpps_peer(ae_title: str = "RIS") -> Iterator[MppsPeer]:
    peer = MppsPeer(port=free_port())
    ae = AE(ae_title=ae_title)
    ae.add_supported_context(MPPS_SOP_CLASS)
    server = ae.start_server(
        ("127.0.0.1", peer.port),
        block=False,
        evt_handlers=[(evt.EVT_N_CREATE, peer.on_create), (evt.EVT_N_SET, peer.on_set)],
    )
    assert server is not None
    try:
        yield peer
    finally:
        server.shutdown()
