"""Assign a stored DICOM instance to its case: how IT resolves an instance that matched no
case (or, with `force`, one matched to the wrong case). The one use case behind
`procsuite dicom assign` and the MQTT `dicom_assign` command; who may do it is decided by
suite/app/roles.py `Permissions` before this is called.

The instance row and its dose reports move to the case, and the audit entry saying who moved
it is written, in one transaction. The DICOM adapter's linker then tells the case (links the
image, brings the dose up to date).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from suite.app.case_service import CaseService
from suite.errors import DomainError
from suite.store import audit_log, dicom_instances
from suite.store.database import Database

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

MANUAL_MATCH = "manual"
"""The match rule an instance assigned by hand is stored with (MatchRule.MANUAL of
adapters/dicom/matching.py)."""


class AssignError(DomainError):
    """An instance cannot be assigned; the message says why."""

    rule = "dicom-assign"


@dataclass(frozen=True, slots=True)
class Assigned:
    sop_instance_uid: str
    case_id: str
    previous_case_id: str | None
    """The case the instance was on before (None: it was unmatched)."""


async def assign(
    *,
    db: Database,
    cases: CaseService,
    sop_instance_uid: str,
    case_id: str,
    force: bool = False,
    user: str,
    source: str,
    at: datetime,
) -> Assigned:
    """Give a stored instance its case; returns where it was and where it is now.

    An instance already matched to another case moves only with `force` (its image stays in
    that case's history, which is append-only; its dose moves). Assigning it to the case it
    is on changes nothing and writes no audit entry. Raises `AssignError` naming what is wrong
    (no such case, no such instance, matched to another case without `force`).
    """
    if cases.get(case_id) is None:
        raise AssignError(f"no case {case_id}")

    async def job(session: AsyncSession) -> Assigned:
        current = await dicom_instances.instance_case(session, sop_instance_uid)
        if current is None:
            raise AssignError(f"no stored instance {sop_instance_uid}")
        previous = current.case_id
        if previous == case_id:
            return Assigned(sop_instance_uid, case_id, previous)
        if previous is not None and not force:
            raise AssignError(
                f"instance {sop_instance_uid} belongs to case {previous}"
                f" (matched by {current.match_rule}); use force to move it"
            )
        await dicom_instances.move_instance(
            session, sop_instance_uid, case_id=case_id, match_rule=MANUAL_MATCH
        )
        await audit_log.record(
            session, at=at, user=user, source=source, action="dicom_assign",
            subject=f"instance {sop_instance_uid}",
            detail={"case_id": case_id, "previous_case_id": previous, "force": force},
        )  # fmt: skip
        return Assigned(sop_instance_uid, case_id, previous)

    return await db.write(job)
