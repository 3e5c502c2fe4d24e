"""The supervisor of ``uunet up`` with real child processes: restart with backoff, give up on a crash
loop, and no child outlives its parent, even a parent killed by SIGKILL."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from shared.devstack.servers import spawn
from shared.devstack.supervisor import CrashLoopError, RestartPolicy, Supervisor, describe_exit

pytestmark = pytest.mark.integration
FAST = RestartPolicy(
    max_crashes=3, window_s=30, stable_after_s=0.3, first_delay_s=0.05, max_delay_s=0.2
)


def _check_until(sup: Supervisor, done: object, timeout: float = 10) -> None:
    assert callable(done)
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        sup.check()
        time.sleep(0.02)


def test_a_killed_child_is_restarted_and_reported_once(tmp_path: Path) -> None:
    lines: list[str] = []
    sup = Supervisor(FAST, lines.append)
    first = sup.add("sleeper", functools.partial(spawn, "sleeper", ["sleep", "60"], tmp_path))
    try:
        os.kill(first.proc.pid, signal.SIGKILL)
        _check_until(sup, lambda: sup.children[0].process is not first and sup.first_dead() is None)
        assert lines == ["sleeper exited (killed by SIGKILL) after 0 s; restarting it in 0.1 s"]
        assert sup.children[0].process.alive()
    finally:
        sup.stop()
    assert not sup.children[0].process.alive()


def test_a_child_that_keeps_crashing_stops_the_supervisor_with_the_reason(tmp_path: Path) -> None:
    lines: list[str] = []
    sup = Supervisor(FAST, lines.append)
    argv = [sys.executable, "-c", "raise SystemExit(3)"]
    sup.add("crasher", functools.partial(spawn, "crasher", argv, tmp_path))
    with pytest.raises(CrashLoopError) as info:
        _check_until(sup, lambda: False, timeout=30)
    assert str(info.value).startswith(
        "crasher exited 3 times in 30 s, each within 0 s of starting (last: exit code 3)"
    )
    assert len(lines) == 2 and all(
        line.startswith("crasher exited (exit code 3)") for line in lines
    )
    sup.stop()


def test_a_child_killed_after_it_was_up_is_restarted_however_often(tmp_path: Path) -> None:
    lines: list[str] = []
    sup = Supervisor(FAST, lines.append)
    sup.add("worker", functools.partial(spawn, "worker", ["sleep", "60"], tmp_path))
    try:
        for _ in range(
            2 * FAST.max_crashes
        ):  # more kills than the crash limit, each after 0.4 s up
            time.sleep(0.4)
            victim = sup.children[0].process
            os.kill(victim.proc.pid, signal.SIGKILL)
            _check_until(sup, lambda v=victim: sup.children[0].process is not v)
        assert len(lines) == 2 * FAST.max_crashes and sup.children[0].process.alive()
        assert all(line.endswith("restarting it in 0.1 s") for line in lines)
    finally:
        sup.stop()


def test_exit_descriptions() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(1) == "exit code 1"


PARENT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from shared.devstack.servers import spawn
    procs = [spawn(f"child{i}", ["sleep", "300"], Path(sys.argv[1])) for i in range(3)]
    print(" ".join(str(p.proc.pid) for p in procs), flush=True)
    time.sleep(300)
    """
)


def test_children_die_when_their_parent_is_killed_with_sigkill(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    pids = [int(p) for p in parent.stdout.readline().split()]
    assert len(pids) == 3 and all(_alive(p) for p in pids)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p for p in pids if _alive(p)] == []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie is dead, only not yet reaped by init


def test_a_held_child_stays_down_until_released(tmp_path: Path) -> None:
    lines: list[str] = []
    sup = Supervisor(FAST, lines.append)
    first = sup.add("server", functools.partial(spawn, "server", ["sleep", "60"], tmp_path))
    try:
        sup.hold("server")
        for _ in range(10):
            sup.check()
            time.sleep(0.02)
        assert not first.alive() and sup.first_dead() is None and lines == []
        sup.release("server")
        assert sup.children[0].process.alive() and sup.children[0].process is not first
    finally:
        sup.stop()
