"""Making the sound the annunciator decided on: the terminal bell, or an external command per
priority (e.g. `aplay /srv/sounds/high.wav` for a room speaker).

A command runs as an asyncio subprocess with a timeout, never blocking the screen. It gets
the priority, the reason and the rooms in its environment (`PROCSUITE_ALARM_PRIORITY`,
`PROCSUITE_ALARM_REASON`, `PROCSUITE_ALARM_ROOMS`; no patient data). A command that cannot
start, fails or overruns is reported once (the status bar shows it until a command succeeds)
and the terminal bell sounds instead, so a broken speaker never leaves an alarm silent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
from collections.abc import Callable, Mapping

from tui.annunciator import Annunciation, SoundPlan

log = logging.getLogger(__name__)


class AlarmSound:
    def __init__(
        self,
        plan: SoundPlan,
        *,
        bell: Callable[[], None],
        on_problem: Callable[[str], None],
    ) -> None:
        self.plan = plan
        self._bell = bell
        self._on_problem = on_problem
        self.problem = ""  # the last command's failure, until one succeeds

    async def play(self, sound: Annunciation) -> None:
        """Run the priority's command (the caller runs this in a worker); the bell if it fails."""
        command = self.plan.command_for(sound.priority)
        if command is None:
            self._bell()
            return
        env = {
            "PROCSUITE_ALARM_PRIORITY": sound.priority.value,
            "PROCSUITE_ALARM_REASON": sound.reason.value,
            "PROCSUITE_ALARM_ROOMS": " ".join(sound.rooms),
        }
        problem = await run_command(command, env=env, timeout_s=self.plan.timeout_s)
        if problem is None:
            self.problem = ""
            return
        self._bell()
        if problem != self.problem:
            log.warning("tui: %s", problem)
            self.problem = problem
            self._on_problem(problem)


async def run_command(command: str, *, env: Mapping[str, str], timeout_s: float) -> str | None:
    """Run `command` (split like a shell line, no shell) to its end; the problem in words, or
    None when it exited 0 within `timeout_s`."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        return f"sound command {command!r} is not a command line: {exc}"
    if not argv:
        return "sound command is empty"
    name = os.path.basename(argv[0])
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, **env},
        )
    except OSError as exc:
        return f"sound command {name} could not start: {exc.strerror or exc}"
    try:
        async with asyncio.timeout(timeout_s):
            code = await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()
        return f"sound command {name} ran over {timeout_s:g} s and was stopped"
    except asyncio.CancelledError:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    if code != 0:
        return f"sound command {name} failed (exit {code})"
    return None
