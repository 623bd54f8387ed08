"""The application's actions as the composition root builds them, for tests that drive an
entry point (the command channel) without the whole service."""

from __future__ import annotations

from collections.abc import Mapping

from suite.app.actions import Actions
from suite.app.alarm_service import AlarmService
from suite.app.case_service import CaseService
from suite.app.roles import Permissions
from suite.settings import Role


def actions_for(
    cases: CaseService, alarms: AlarmService, *, clock, users: Mapping[str, Role]
) -> Actions:
    return Actions(
        cases=cases,
        users=users,
        permissions=Permissions.with_overrides({}),
        clock=clock,
        stability=alarms,
        alarms=alarms,
    )
