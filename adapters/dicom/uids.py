"""UIDs procsuite makes: stable Study Instance UIDs per case, and our implementation UID.

All are `2.25.<decimal UUID>` UIDs (PS3.5 B.2), so procsuite needs no registered root.
"""

from __future__ import annotations

import re
import uuid

# A fixed namespace: the same case id gives the same Study Instance UID on every machine and
# after every restart, so images arriving later match the worklist item the modality used.
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:procsuite:dicom")
_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")

IMPLEMENTATION_CLASS_UID = f"2.25.{uuid.uuid5(_NAMESPACE, 'implementation').int}"
IMPLEMENTATION_VERSION_NAME = "PROCSUITE_01"


def study_uid_for_case(case_id: str) -> str:
    """The Study Instance UID procsuite assigns to a case (worklist and matching)."""
    return f"2.25.{uuid.uuid5(_NAMESPACE, f'study:{case_id}').int}"


def new_uid() -> str:
    """A fresh random UID."""
    return f"2.25.{uuid.uuid4().int}"


def is_valid_uid(text: str) -> bool:
    """A syntactically valid UID (digits and dots, no leading zeros, at most 64 characters)."""
    return 0 < len(text) <= 64 and bool(_UID.match(text))
