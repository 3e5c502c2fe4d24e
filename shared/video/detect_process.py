"""A face detector in a child process, so detection runs on another core beside the painting.

yuface holds the GIL for a whole detection (~13 ms on a 720p frame on this machine's cores), so a
thread cannot overlap detection with the painter's Python work: a thread running the detector
slowed a pure-Python loop beside it 14x. A child process can. ``DetectorProcess`` is a
:class:`~shared.video.detect.FaceDetector` whose ``detect`` sends the frame to a child running the
named detector (``python -m shared.video.detect_process NAME``) and waits for its boxes; the wait
releases the GIL. It is one detector, called from one thread at a time (``FaceStage`` is
sequential); run the stage ahead of the painter in a thread (``shared.video.prefetch``) to overlap.

The child is a plain ``python -m`` process, not ``multiprocessing``: spawning through
``multiprocessing`` re-imports the parent's ``__main__``, which breaks any script that calls the
pipeline without a ``__main__`` guard.

Wire format on the child's stdin/stdout (little-endian): request = ``u32 h, u32 w, u32 c`` and the
frame's ``h*w*c`` bytes; reply = ``u32 n`` and ``n`` rows of 15 float32 (x0, y0, x1, y1, score,
10 landmark coordinates; NaN when the detector gives none). A child that dies or stays silent past
``timeout`` seconds fails the call with one line (its stderr's last line), never a hang.
"""

from __future__ import annotations

import os
import select
import struct
import subprocess
import sys
import tempfile
from typing import IO, NoReturn

import numpy as np

from shared.video.types import FaceBox

_HEAD = struct.Struct("<III")
_COUNT = struct.Struct("<I")
_ROW = 15  # x0, y0, x1, y1, score, 10 landmark coordinates


class DetectorProcessError(RuntimeError):
    """The detector's child process died, refused to start, or stopped answering."""


def pack_boxes(boxes: list[FaceBox]) -> bytes:
    """A reply: the count, then one float32 row per box."""
    rows = np.full((len(boxes), _ROW), np.nan, dtype=np.float32)
    for row, b in zip(rows, boxes, strict=True):
        row[:5] = (b.x0, b.y0, b.x1, b.y1, b.score)
        if b.landmarks is not None:
            row[5:] = b.landmarks
    return _COUNT.pack(len(boxes)) + rows.tobytes()


def unpack_boxes(rows: np.ndarray) -> list[FaceBox]:
    """The boxes of a reply's rows (float32 [n, 15])."""
    out = []
    for row in rows.tolist():
        lm = None if np.isnan(row[5]) else tuple(row[5:])
        out.append(FaceBox(row[0], row[1], row[2], row[3], row[4], landmarks=lm))
    return out


class DetectorProcess:
    """``make_detector(name)`` in a child process; close it (or use ``with``) when done."""

    def __init__(self, name: str = "yunet", timeout: float = 60.0) -> None:
        self.name, self.timeout = name, timeout
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - the child's; closed by close()
        env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
        # The child imports this package from wherever the parent did (installed or not).
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", "shared.video.detect_process", name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env,
            close_fds=True,
        )  # fmt: skip

    def __enter__(self) -> DetectorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def detect(self, frame: np.ndarray) -> list[FaceBox]:
        """Faces in an RGB uint8 frame [H,W,3], found by the child."""
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise DetectorProcessError("the face detector process is closed")
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        if frame.ndim != 3:
            raise ValueError(f"detect wants an [H,W,C] frame, got shape {frame.shape}")
        try:
            proc.stdin.write(_HEAD.pack(*frame.shape))
            proc.stdin.write(frame.data)
            proc.stdin.flush()
            (n,) = _COUNT.unpack(self._read(proc.stdout, _COUNT.size))
            rows = np.frombuffer(self._read(proc.stdout, n * _ROW * 4), dtype=np.float32)
        except (BrokenPipeError, EOFError, OSError) as e:
            self._fail(f"{type(e).__name__}")
        return unpack_boxes(rows.reshape(n, _ROW))

    def _read(self, pipe: IO[bytes], size: int) -> bytes:
        """Exactly ``size`` bytes, waiting at most ``timeout`` seconds for each chunk."""
        try:
            data = _read_exact(pipe.fileno(), size, self.timeout)
        except TimeoutError:
            self._fail(f"no answer in {self.timeout:.0f} s")
        if data is None:
            raise EOFError
        return data

    def _fail(self, what: str) -> NoReturn:
        self._stop()
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        self._stderr.close()
        why = f": {lines[-1]}" if lines else ""
        raise DetectorProcessError(f"the face detector process ({self.name}) failed ({what}){why}")

    def close(self) -> None:
        """Stop the child (end of input, then a kill if it lingers); idempotent."""
        self._stop()
        self._stderr.close()

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _read_exact(fd: int, size: int, timeout: float | None = None) -> bytes | None:
    """Exactly ``size`` bytes from ``fd``; None at end of input. With ``timeout``, TimeoutError
    when no chunk arrives within that many seconds (None: wait as long as it takes)."""
    buf = bytearray()
    while len(buf) < size:
        if timeout is not None and not select.select([fd], [], [], timeout)[0]:
            raise TimeoutError
        chunk = os.read(fd, size - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def serve(name: str) -> None:
    """The child: answer detection requests on stdin until it closes."""
    from shared.video.detect import make_detector

    # Anything printed by a library must not corrupt the replies: replies go to a private copy of
    # stdout, and fd 1 becomes stderr.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    detector = make_detector(name)
    inp = sys.stdin.fileno()
    while True:
        head = _read_exact(inp, _HEAD.size)
        if head is None:
            return
        h, w, c = _HEAD.unpack(head)
        data = _read_exact(inp, h * w * c)
        if data is None:
            return
        reply = pack_boxes(detector.detect(np.frombuffer(data, np.uint8).reshape(h, w, c)))
        view = memoryview(reply)
        while view:
            view = view[os.write(out_fd, view) :]


if __name__ == "__main__":
    serve(sys.argv[1] if len(sys.argv) > 1 else "yunet")
