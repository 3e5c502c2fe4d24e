"""The face stage (decode, detection, tracking) ahead of the caller, with its detector in a child.

``face_stream`` is what a pass over a clip iterates: ``(batch, boxes per frame)``. With ``ahead``,
the detector runs in a child process (``detect_process``: yuface holds the GIL for a whole
detection) and the stage runs a batch or two ahead in a thread (``prefetch``), so detection
overlaps the caller's own work on another core; the boxes are the same either way. ``stack``
closes the thread, then the child, also when the caller stops early.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack, closing

from shared.video.detect import FaceDetector, make_detector
from shared.video.detect_process import DetectorProcess
from shared.video.faces import FaceStage, FaceStageOptions
from shared.video.prefetch import Prefetch
from shared.video.runtime import usable_cpus
from shared.video.types import FaceBox, FrameBatch, VideoInfo

AHEAD_MIN_FRAMES = 120  # shorter clips detect in process (the child answers ~0.12 s after start)

Found = tuple[FrameBatch, list[list[FaceBox]]]


def detect_ahead(wanted: bool | None, info: VideoInfo) -> bool:
    """``wanted``, or (None) whether it pays: two usable CPUs and a clip long enough to repay the
    child's start-up."""
    if wanted is not None:
        return wanted
    return usable_cpus() >= 2 and info.frames >= AHEAD_MIN_FRAMES


def face_stream(stack: ExitStack, detector: str, options: FaceStageOptions,
                batches: Iterator[FrameBatch], ahead: bool) -> Iterable[Found]:  # fmt: skip
    """What the face stage finds in ``batches``."""
    found: FaceDetector = make_detector(detector)  # a bad name fails here, in one line
    if ahead:
        found = stack.enter_context(DetectorProcess(detector))
    stream = FaceStage(found, options).run(batches)
    if not ahead:
        return stream
    return stack.enter_context(closing(Prefetch(stream, name="face-stage")))
