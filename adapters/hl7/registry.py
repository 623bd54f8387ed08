"""The patient registry kept from ADT: what a registration changes, and a bounded memory of
recently registered patients so an order that does not repeat the demographics (often the
allergies) is completed without a database read.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Literal

from adapters.hl7.mapping import merge_patient
from suite.domain.values import Patient, Sex
from suite.store import hl7_inbound
from suite.store.database import Database


@dataclass(frozen=True, slots=True)
class PatientRecord:
    mrn: str
    name: str
    birth_date: date | None
    sex: str
    allergies: tuple[str, ...]
    identifiers: str

    def params(self, now: datetime) -> dict[str, Any]:
        return {
            "mrn": self.mrn,
            "name": self.name[:256],
            "birth_date": self.birth_date,
            "sex": self.sex,
            "allergies": list(self.allergies),
            "identifiers": self.identifiers[:512],
            "merged_into": None,
            "updated_at": now,
        }


@dataclass(slots=True)
class RegistryChange:
    """What an ADT message does to the patient registry.

    `kind`: "upsert" (A01/A04/A08), "ensure" (insert when absent) or "merge" (A40: `prior`
    is merged into `patient`). With `must_exist`, the change applies only when that MRN is
    registered; otherwise the item's `unknown` answer is used instead.
    """

    kind: Literal["upsert", "ensure", "merge"]
    patient: PatientRecord
    prior: str | None = None
    must_exist: str | None = None


class Registry:
    """Bounded memory of the registry (the table itself is written by the journal)."""

    def __init__(self, db: Database, *, memory: int = 10_000) -> None:
        self.db = db
        self.memory = memory
        self.patients: OrderedDict[str, PatientRecord] = OrderedDict()
        # MRNs the registry did not have when asked (until an ADT registers them).
        self.absent: OrderedDict[str, None] = OrderedDict()

    async def complete(self, patient: Patient) -> Patient:
        """`patient` with what the registry knows and it does not say (name, birth date, sex,
        allergies); from memory when possible."""
        record = self.patients.get(patient.mrn)
        if record is None:
            if patient.mrn in self.absent:
                return patient
            row = await self.db.read(lambda s: hl7_inbound.patient(s, patient.mrn))
            if row is None:
                self.forget(patient.mrn)
                return patient
            record = PatientRecord(
                mrn=row.mrn,
                name=row.name,
                birth_date=row.birth_date,
                sex=row.sex,
                allergies=tuple(row.allergies),
                identifiers=row.identifiers,
            )
            self.remember(record)
        known = Patient(
            mrn=record.mrn,
            name=record.name,
            birth_date=record.birth_date,
            sex=Sex(record.sex),
            allergies=record.allergies,
        )
        return merge_patient(patient, known)

    def forget(self, mrn: str) -> None:
        """Note that the registry has no patient `mrn` (bounded, like the cache)."""
        self.absent[mrn] = None
        while len(self.absent) > self.memory:
            self.absent.popitem(last=False)

    def remember(self, record: PatientRecord) -> None:
        """Keep a registered patient in memory (bounded; the oldest is forgotten first)."""
        self.absent.pop(record.mrn, None)
        old = self.patients.pop(record.mrn, None)
        if old is not None and not record.allergies:
            record = replace(record, allergies=old.allergies)
        self.patients[record.mrn] = record
        while len(self.patients) > self.memory:
            self.patients.popitem(last=False)
