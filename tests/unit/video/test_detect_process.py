"""DetectorProcess: the same boxes as the detector in this process; a dead child is one clear error."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from shared.video.detect import make_detector
from shared.video.detect_process import DetectorProcess, DetectorProcessError


def test_the_child_finds_what_the_detector_finds_here() -> None:
    frame = data.astronaut()
    here = make_detector("yunet").detect(frame)
    with DetectorProcess("yunet") as child:
        there = child.detect(frame)
        window = child.detect(np.ascontiguousarray(frame[40:220, 150:300]))  # a view, cropped
        empty = child.detect(np.zeros((64, 80, 3), np.uint8))
    assert len(here) == 1 and len(there) == 1
    a, b = here[0], there[0]
    assert (a.x0, a.y0, a.x1, a.y1) == pytest.approx((b.x0, b.y0, b.x1, b.y1), abs=1e-3)
    assert a.score == pytest.approx(b.score, abs=1e-6)
    assert a.landmarks is not None and b.landmarks is not None
    assert a.landmarks == pytest.approx(b.landmarks, abs=1e-3)
    assert len(window) == 1 and empty == []


def test_an_unknown_detector_fails_the_call_with_the_childs_reason() -> None:
    with DetectorProcess("haar", timeout=30) as child:
        with pytest.raises(DetectorProcessError, match="unknown face detector 'haar'"):
            child.detect(np.zeros((32, 32, 3), np.uint8))
        with pytest.raises(DetectorProcessError, match="closed"):
            child.detect(np.zeros((32, 32, 3), np.uint8))


def test_a_killed_child_is_an_error_not_a_hang() -> None:
    child = DetectorProcess("yunet", timeout=30)
    assert child.detect(np.zeros((32, 32, 3), np.uint8)) == []
    assert child._proc is not None
    child._proc.kill()
    child._proc.wait()
    with pytest.raises(DetectorProcessError, match="face detector process"):
        child.detect(data.astronaut())
    child.close()
