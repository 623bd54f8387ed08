"""Who may do what: the permission table of the command channel, and the check.

Pure and synchronous. The default table below follows the users of DESIGN.md: nurses watch
vitals and acknowledge alarms, technologists log steps, radiologists sign the time-out and the
imaging check, IT runs the interfaces, admin may do everything. A site overrides any row with
`mqtt.permissions` (e.g. `PROCSUITE_MQTT__PERMISSIONS='{"ack_alarm": ["nurse"]}'`).

Keys are actions (`ack_alarm`) or, for `log_step`, an action and a step (`log_step:time-out`);
a step-specific row wins over the action's row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from suite.errors import Forbidden
from suite.settings import Role

T, N, R, IT, A = Role.TECHNOLOGIST, Role.NURSE, Role.RADIOLOGIST, Role.IT, Role.ADMIN

DEFAULT_PERMISSIONS: dict[str, frozenset[Role]] = {
    "ack_alarm": frozenset({N, A}),
    "silence_alarm": frozenset({N, A}),
    "adjust_limit": frozenset({N, A}),
    "log_step": frozenset({T, R, N, A}),
    "log_step:time-out": frozenset({R, A}),
    "log_step:imaging-check": frozenset({R, A}),
    "schedule_case": frozenset({T, N, R, A}),
    "resync": frozenset({T, N, R, IT, A}),
    "whoami": frozenset({T, N, R, IT, A}),
    "hl7_replay": frozenset({IT, A}),
    "dicom_assign": frozenset({IT, A}),
    "report": frozenset({T, N, R, IT, A}),
}


class PermissionDenied(Forbidden):
    """A user may not do an action; the message says who, what, and which roles may."""


@dataclass(frozen=True, slots=True)
class Permissions:
    """The effective table: the defaults with a site's overrides on top."""

    table: Mapping[str, frozenset[Role]]

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, Iterable[Role | str]]) -> Permissions:
        table = dict(DEFAULT_PERMISSIONS)
        for key, roles in overrides.items():
            table[key] = frozenset(Role(r) for r in roles)
        return cls(table)

    def roles_for(self, action: str, step: str | None = None) -> frozenset[Role] | None:
        """The roles allowed to do `action` (on `step`); None when the action is unknown."""
        if step is not None and f"{action}:{step}" in self.table:
            return self.table[f"{action}:{step}"]
        return self.table.get(action)

    def check(
        self, user: str, users: Mapping[str, Role], action: str, *, step: str | None = None
    ) -> Role:
        """The user's role when `user` may do `action`; else `PermissionDenied` in words."""
        role = users.get(user)
        if role is None:
            raise PermissionDenied(
                f"user {user!r} is not configured on this service; ask an administrator to add"
                " them to `users`",
                rule="unknown-user",
            )
        allowed = self.roles_for(action, step)
        if allowed is None:
            raise PermissionDenied(f"unknown action {action!r}", rule="unknown-action")
        if role not in allowed and Role.ADMIN is not role:
            what = f"{action} {step}" if step else action
            who = " or ".join(sorted(r.value for r in allowed)) or "nobody"
            raise PermissionDenied(
                f"{what} is not allowed for {user} ({role.value}); it needs {who}",
                rule="permission",
            )
        return role
