"""``uunet up`` heals itself: a worker SIGKILLed mid-job is restarted and the job still ends ``done``
once; ``uunet up`` SIGKILLed leaves no process behind; ``--data-dir`` keeps a queued job and its
result across that restart."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from chaos.stack import PublicClient, Up, alive, children, frame_count, make_clip

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", frames=48)


def test_worker_killed_mid_job_is_restarted_and_the_job_ends_done_once(
    stack: dict[str, str], clip: Path, tmp_path: Path
) -> None:
    up_pid = int(stack["pid"])
    client = PublicClient(stack)
    resp = client.submit(clip)
    assert resp.status_code == 202, resp.text
    job = resp.json()["job_id"]
    deadline = time.monotonic() + 300
    while (s := client.status(job))["state"] != "running" or float(str(s["progress"])) <= 0:
        assert time.monotonic() < deadline and s["state"] != "done", s
        time.sleep(0.05)
    worker = children(up_pid)["public-worker"]
    os.kill(worker, signal.SIGKILL)
    seen: list[str] = []
    final = client.wait(job, 300, lambda st: seen.append(str(st["state"])))
    assert final["state"] == "done", final
    assert "done" not in seen[:-1]  # never done before the end
    out = tmp_path / "out.mp4"
    assert client.result(job, out).status_code == 200
    assert frame_count(out) == 48
    new_worker = children(up_pid).get("public-worker")
    assert new_worker and new_worker != worker
    log = (Path(stack["state_dir"]) / "up.log").read_text()
    assert "public_deid-worker exited (killed by SIGKILL) after" in log


def test_data_dir_stack_survives_sigkill_of_uunet_up_with_nothing_left(
    clip: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    up = Up(data, ["--data-dir", str(data)]).start()
    client = PublicClient(up.info)
    resp = client.submit(clip)
    assert resp.status_code == 202, resp.text
    job = resp.json()["job_id"]
    assert len(up.children()) == 6  # redis, S3, two APIs, two workers
    pids = up.kill()  # SIGKILL: no chance to stop anything itself
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p for p in pids if alive(p)] == []

    up = Up(data, ["--data-dir", str(data)]).start()
    try:
        client = PublicClient(up.info)
        final = client.wait(job, 300)  # queued or running before the restart
        assert final["state"] == "done", final
        out = tmp_path / "out.mp4"
        assert client.result(job, out).status_code == 200
        assert frame_count(out) == 48
    finally:
        assert up.stop() == 0
