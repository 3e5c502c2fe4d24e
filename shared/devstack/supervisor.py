"""Keep the processes of ``uunet up`` running: restart what exits, with backoff; stop on a crash loop.

Each exit is reported once, in one line (what exited, how, after how long, when it restarts). An
exit within ``stable_after_s`` of the start is a crash: crashes double the restart delay, and
``max_crashes`` of them within ``window_s`` stop the supervisor (:meth:`Supervisor.check` raises
``CrashLoopError`` naming the process, its last exit status and its log; the caller stops the
stack). A process that had been running longer (killed mid-job, say) is simply restarted at once,
however often that happens: it is not failing to start.
"""

from __future__ import annotations

import logging
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.devstack.servers import ManagedProcess
from shared.domain.errors import ConfigError, UUNetError

log = logging.getLogger(__name__)


class CrashLoopError(ConfigError):
    """A supervised process keeps exiting; restarting it again would not help."""


@dataclass(frozen=True)
class RestartPolicy:
    """When to restart, and when to give up."""

    max_crashes: int = 5  # crashes within window_s that make the supervisor give up
    window_s: float = 60.0
    stable_after_s: float = 5.0  # an exit sooner than this after the start is a crash
    first_delay_s: float = 0.5  # doubled after each crash in the window
    max_delay_s: float = 10.0


@dataclass
class _Child:
    name: str
    start: Callable[[], ManagedProcess]
    process: ManagedProcess
    started_at: float = field(default_factory=time.monotonic)
    crashes: deque[float] = field(default_factory=deque)
    restart_at: float | None = None
    last_exit: str = ""
    held: bool = False  # stopped on purpose (hold), not restarted until released


def describe_exit(returncode: int | None) -> str:
    """``killed by SIGKILL`` / ``exit code 1``."""
    if returncode is not None and returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class Supervisor:
    """Children in start order; :meth:`check` (called every fraction of a second) restarts them."""

    def __init__(
        self, policy: RestartPolicy | None = None, report: Callable[[str], None] = log.warning
    ) -> None:
        self.policy = policy or RestartPolicy()
        self.report = report
        self.children: list[_Child] = []

    def add(self, name: str, start: Callable[[], ManagedProcess]) -> ManagedProcess:
        """Start a child now and keep it running."""
        process = start()
        self.children.append(_Child(name, start, process))
        return process

    def first_dead(self) -> str | None:
        """Name of a child that has exited and is not yet restarted (nor held), if any."""
        return next((c.name for c in self.children if not (c.held or c.process.alive())), None)

    def check(self) -> None:
        """Restart children that exited (after their backoff); CrashLoopError on a crash loop."""
        now = time.monotonic()
        for child in self.children:
            if child.held:
                continue
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._restart(child)
            elif not child.process.alive():
                self._exited(child, now, describe_exit(child.process.proc.returncode))

    def _exited(self, child: _Child, now: float, how: str) -> None:
        policy = self.policy
        uptime = now - child.started_at
        if uptime < policy.stable_after_s:
            child.crashes.append(now)
        while child.crashes and child.crashes[0] < now - policy.window_s:
            child.crashes.popleft()
        child.last_exit = how
        if len(child.crashes) >= policy.max_crashes:
            raise CrashLoopError(
                f"{child.name} exited {len(child.crashes)} times in {policy.window_s:.0f} s, each "
                f"within {policy.stable_after_s:.0f} s of starting (last: {how}); not restarting "
                f"it; see {child.process.log_path}"
            )
        delay = min(policy.max_delay_s, policy.first_delay_s * 2 ** len(child.crashes))
        if uptime >= policy.stable_after_s:
            delay = policy.first_delay_s
        self.report(
            f"{child.name} exited ({how}) after {uptime:.0f} s; restarting it in {delay:.1f} s"
        )
        child.restart_at = now + delay

    def _restart(self, child: _Child) -> None:
        child.restart_at = None
        child.started_at = time.monotonic()
        try:
            child.process = child.start()
        except UUNetError as err:  # it did not come up: counts as another exit
            self._exited(child, time.monotonic(), f"restart failed: {err}")
            return
        log.info("%s restarted", child.name)

    def hold(self, name: str) -> None:
        """Stop ``name`` and keep it down (an outage drill or maintenance) until :meth:`release`."""
        child = self._child(name)
        child.held = True
        child.process.stop()

    def release(self, name: str) -> None:
        """Start a held child again, now."""
        child = self._child(name)
        child.held = False
        child.started_at = time.monotonic()
        child.process = child.start()

    def _child(self, name: str) -> _Child:
        return next(c for c in self.children if c.name == name)

    def stop(self) -> None:
        """Stop every child, last started first."""
        for child in reversed(self.children):
            child.process.stop()
