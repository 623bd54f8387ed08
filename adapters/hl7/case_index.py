"""Finding a patient's or an order's cases without scanning every case.

The indexes are supersets (an MRN or accession maps to every case that ever had it): each hit
is checked against the case service's current state, so a merge or a rolled-back transaction
never gives a wrong answer. A case-service hook keeps them current.
"""

from __future__ import annotations

from collections.abc import Sequence

from suite.app.case_service import CaseService
from suite.domain.case import Case
from suite.domain.envelope import Recorded


class CaseIndex:
    def __init__(self, cases: CaseService) -> None:
        self.cases = cases
        self._by_mrn: dict[str, set[str]] = {}
        self._by_accession: dict[str, set[str]] = {}
        for case in cases.all():
            self.add(case)

    def add(self, case: Case) -> None:
        self._by_mrn.setdefault(case.patient.mrn, set()).add(case.case_id)
        self._by_accession.setdefault(case.order.accession, set()).add(case.case_id)

    async def hook(self, session: object, records: Sequence[Recorded], case: Case) -> None:
        """CaseService transaction hook: index the case as it is after these events (the
        session is not used: nothing is written)."""
        self.add(case)

    def for_accession(self, accession: str) -> Case | None:
        """The case of an accession (an open one first, when there are several)."""
        found = [
            k
            for case_id in self._by_accession.get(accession, ())
            if (k := self.cases.get(case_id)) is not None and k.order.accession == accession
        ]
        found.sort(key=lambda k: (k.phase.is_final, k.last_at))
        return found[0] if found else None

    def open_cases_of(self, mrn: str) -> list[Case]:
        """The patient's cases that have not ended, in a stable order."""
        found = (self.cases.get(case_id) for case_id in sorted(self._by_mrn.get(mrn, ())))
        return [k for k in found if k is not None and k.patient.mrn == mrn and not k.phase.is_final]
