"""The pre-procedure checklist that must be complete before the time-out."""

from __future__ import annotations

from enum import StrEnum


class ChecklistItem(StrEnum):
    CONSENT = "consent"
    ALLERGIES_REVIEWED = "allergies_reviewed"  # contrast, anaesthetics, latex
    ANTICOAGULANTS_HELD = "anticoagulants_held"  # anticoagulants / NSAIDs held
    NPO = "npo"
    PREGNANCY_STATUS = "pregnancy_status"
    LABS = "labs"  # INR and platelets, recorded with RecordLabs
    IV_ACCESS = "iv_access"


class ChecklistStatus(StrEnum):
    DONE = "done"
    NOT_APPLICABLE = "not_applicable"
    NOT_DONE = "not_done"


# Items that may be answered "not applicable" (e.g. pregnancy status for a man, or no
# anticoagulant to hold). The others need a plain "done".
MAY_BE_NOT_APPLICABLE = frozenset(
    {ChecklistItem.PREGNANCY_STATUS, ChecklistItem.ANTICOAGULANTS_HELD}
)
