"""The de-identification handler run by the real JobRunner over fakes of the ports, fake pipeline."""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from services.common.metrics import JobMetrics
from services.public_deid.worker import DeidHandler, HandlerOptions
from shared.domain.errors import BadInputError
from shared.domain.jobs import JobState, JobStatus
from shared.jobs.runner import JobRunner, RunnerOptions
from shared.pipeline.api import DeidOptions, DeidReport, Limits
from tests.unit.services.public.fakes import FakeJobStore, FakeObjectStore, FakeQueue

Progress = Callable[[float], None]


class FakePipeline:
    """Upper-cases the clip's bytes, reporting progress; or raises what it is told to."""

    def __init__(self, error: Exception | None = None, hang_s: float = 0.0) -> None:
        self.error = error
        self.hang_s = hang_s
        self.calls: list[DeidOptions] = []
        self.stopped = threading.Event()

    def __call__(
        self, src: Path, dst: Path, options: DeidOptions, progress: Progress
    ) -> DeidReport:
        self.calls.append(options)
        end = time.monotonic() + self.hang_s
        try:
            while time.monotonic() < end:
                time.sleep(0.01)
                progress(0.1)
        except Exception:
            self.stopped.set()
            raise
        if self.error:
            raise self.error
        for p in (0.25, 0.5, 0.75, 1.0):
            progress(p)
        dst.write_bytes(src.read_bytes().upper())
        return DeidReport(
            frames=10,
            faces=15,
            tracks=2,
            fps=25.0,
            seconds=0.4,
            sealed=True,
            manifest_sha256="0" * 64,
        )


class Rig:
    def __init__(self, pipeline: FakePipeline, timeout_s: float = 30.0, attempts: int = 3) -> None:
        self.objects, self.jobs, self.queue = FakeObjectStore(), FakeJobStore(), FakeQueue()
        self.registry = CollectorRegistry()
        self.metrics = JobMetrics(self.registry, "t")
        self.pipeline = pipeline
        self.handler = DeidHandler(self.objects, pipeline, self.metrics, HandlerOptions())
        opts = RunnerOptions(consumer="c1", max_attempts=attempts, job_timeout_s=timeout_s)
        self.runner = JobRunner(self.queue, self.jobs, self.handler, opts, self.handler.on_terminal)
        self.progress: list[float] = []

    async def submit(self, job_id: str, clip: bytes = b"clip-bytes", **fields: str) -> None:
        await self.objects.put_bytes(f"raw/{job_id}", clip)
        extra = {"owner": "v", "raw_key": f"raw/{job_id}"}
        await self.jobs.create(JobStatus(job_id=job_id, extra=extra))
        await self.queue.enqueue({"job_id": job_id, "raw_key": f"raw/{job_id}", **fields})

    async def drain(self) -> None:
        while messages := await self.queue.read("c1", 10):
            for m in messages:
                await self.runner.process(m)

    def sample(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)


async def test_job_is_processed_result_stored_raw_deleted_metrics_recorded() -> None:
    rig = Rig(FakePipeline())
    await rig.submit("j1", keep_audio="1", attributes="beard=keep,gender=change")
    await rig.drain()
    status = await rig.jobs.get("j1")
    assert status is not None and status.state is JobState.DONE and status.progress == 1.0
    assert status.result_key == "results/j1.mp4"
    assert rig.objects.data["results/j1.mp4"] == b"CLIP-BYTES"
    assert "raw/j1" not in rig.objects.data
    (options,) = rig.pipeline.calls
    assert options.keep_audio and options.clip_id == "j1"
    assert dict(options.attributes) == {"beard": "keep", "gender": "change"}
    assert rig.sample("t_jobs_total", outcome="done") == 1.0
    assert rig.sample("t_frames_per_second") == pytest.approx(25.0)
    assert rig.sample("t_faces_per_frame_sum") == pytest.approx(1.5)
    assert rig.sample("t_job_seconds_count") == 1.0


async def test_pipeline_progress_reaches_the_job_store() -> None:
    rig = Rig(FakePipeline())
    seen: list[float] = []
    update = rig.jobs.update

    async def spy(job_id: str, **changes: object) -> JobStatus:
        if "progress" in changes and changes["progress"] is not None:
            seen.append(float(changes["progress"]))  # type: ignore[arg-type]
        return await update(job_id, **changes)

    rig.jobs.update = spy  # type: ignore[method-assign]
    await rig.submit("jp")
    await rig.drain()
    assert seen[:4] == [0.25, 0.5, 0.75, 1.0]


async def test_bad_clip_fails_with_its_reason_and_raw_is_deleted() -> None:
    rig = Rig(FakePipeline(error=BadInputError("not a video file (no video stream)")))
    await rig.submit("j2")
    await rig.drain()
    status = await rig.jobs.get("j2")
    assert status is not None and status.state is JobState.FAILED
    assert status.error == "not a video file (no video stream)"
    assert rig.objects.data == {}
    assert len(rig.pipeline.calls) == 1  # bad input is not retried
    assert rig.sample("t_jobs_total", outcome="failed") == 1.0


async def test_failure_reason_does_not_reveal_worker_temp_paths() -> None:
    class PathLeak(FakePipeline):
        def __call__(
            self, src: Path, dst: Path, options: DeidOptions, progress: Progress
        ) -> DeidReport:
            raise BadInputError(f"not a readable video (Invalid data: '{src}')")

    rig = Rig(PathLeak())
    await rig.submit("jx")
    await rig.drain()
    status = await rig.jobs.get("jx")
    assert status is not None and status.error == "not a readable video (Invalid data: 'the clip')"


async def test_unknown_errors_are_retried_then_dead_lettered_and_failed() -> None:
    rig = Rig(FakePipeline(error=RuntimeError("cuda fell over")), attempts=2)
    await rig.submit("j3")
    await rig.drain()
    status = await rig.jobs.get("j3")
    assert status is not None and status.state is JobState.FAILED
    assert status.error is not None and "after 2 attempts" in status.error
    assert len(rig.pipeline.calls) == 2 and len(rig.queue.dead) == 1
    assert "raw/j3" not in rig.objects.data


async def test_redelivered_finished_job_does_nothing() -> None:
    rig = Rig(FakePipeline())
    await rig.submit("j4")
    await rig.drain()
    await rig.queue.enqueue({"job_id": "j4", "raw_key": "raw/j4"})  # at-least-once redelivery
    await rig.drain()
    assert len(rig.pipeline.calls) == 1
    status = await rig.jobs.get("j4")
    assert status is not None and status.state is JobState.DONE


async def test_existing_result_is_reused_without_running_the_pipeline() -> None:
    rig = Rig(FakePipeline())
    await rig.submit("j5")
    await rig.objects.put_bytes("results/j5.mp4", b"from-a-crashed-attempt")
    await rig.drain()
    status = await rig.jobs.get("j5")
    assert status is not None and status.state is JobState.DONE and rig.pipeline.calls == []


async def test_a_hanging_pipeline_times_out_fails_and_its_thread_stops() -> None:
    rig = Rig(FakePipeline(hang_s=10.0), timeout_s=0.3)
    await rig.submit("j6")
    started = time.monotonic()
    await rig.drain()
    status = await rig.jobs.get("j6")
    assert time.monotonic() - started < 5.0
    assert status is not None and status.state is JobState.FAILED
    assert status.error is not None and "timed out" in status.error
    assert rig.pipeline.stopped.wait(2.0)  # the next progress call raised inside the thread
    assert "raw/j6" not in rig.objects.data


async def test_missing_raw_upload_fails_the_job_with_a_reason() -> None:
    rig = Rig(FakePipeline())
    await rig.submit("j7")
    await rig.objects.delete("raw/j7")
    await rig.drain()
    status = await rig.jobs.get("j7")
    assert status is not None and status.state is JobState.FAILED
    assert status.error == "the uploaded clip is gone (expired or deleted)"


async def test_unwritable_work_dir_fails_the_job_with_a_reason_and_the_worker_goes_on(
    tmp_path: Path,
) -> None:
    rig = Rig(FakePipeline(), attempts=2)
    (tmp_path / "not-a-dir").write_text("")
    rig.handler.options = HandlerOptions(work_dir=tmp_path / "not-a-dir" / "work")
    await rig.submit("jw")
    await rig.drain()
    status = await rig.jobs.get("jw")
    assert status is not None and status.state is JobState.FAILED
    assert status.error == "internal error after 2 attempts (NotADirectoryError: Not a directory)"
    rig.handler.options = HandlerOptions(work_dir=tmp_path)  # the operator fixes the disk
    await rig.submit("jw2")
    await rig.drain()
    status = await rig.jobs.get("jw2")
    assert status is not None and status.state is JobState.DONE


async def test_disk_full_fails_the_job_with_the_os_reason_and_no_path() -> None:
    full = OSError(errno.ENOSPC, "No space left on device", "/var/tmp/uunet-job-x/out.mp4")
    rig = Rig(FakePipeline(error=full), attempts=2)
    await rig.submit("jf")
    await rig.drain()
    status = await rig.jobs.get("jf")
    assert status is not None and status.state is JobState.FAILED
    assert status.error == "internal error after 2 attempts (OSError: No space left on device)"


@pytest.mark.parametrize(
    ("clip", "reason"), [(b"", "empty (0 bytes)"), (bytes(2049), "exceeds the size limit")]
)
async def test_raw_clip_is_size_checked_again_before_download(clip: bytes, reason: str) -> None:
    rig = Rig(FakePipeline())
    rig.handler.options = HandlerOptions(limits=Limits(max_bytes=2048))
    await rig.submit("j8", clip=clip)
    await rig.drain()
    status = await rig.jobs.get("j8")
    assert status is not None and status.state is JobState.FAILED
    assert status.error is not None and reason in status.error
    assert rig.pipeline.calls == []  # never handed to the pipeline
