"""Face geometry from 5 landmarks: similarity fits, pose proxies, plausibility, the face oval.

Landmarks are float arrays [5,2] (x, y) in the order the detectors give them: eye, eye, nose tip,
mouth corner, mouth corner, each pair image-left then image-right. Everything here is closed-form
numpy: it runs per face per frame, so it must cost microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Mirror of a landmark set: swap the left/right members of each pair.
MIRROR_ORDER = (1, 0, 2, 4, 3)


def as_points(landmarks: tuple[float, ...] | np.ndarray) -> np.ndarray:
    """10 floats (x0, y0, x1, y1, ...) -> float64 [5,2]."""
    return np.asarray(landmarks, dtype=np.float64).reshape(5, 2)


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, shift) taking src [K,2] to dst [K,2].

    Returns the 2x3 matrix M with dst ~ M @ [x, y, 1] (Umeyama, no reflection).
    """
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var = float((s**2).sum())
    if var <= 1e-12:
        raise ValueError("degenerate landmarks")
    # Complex-number form of the 2D similarity: a + ib = sum(conj(s) * d) / sum(|s|^2)
    a = float((s[:, 0] * d[:, 0] + s[:, 1] * d[:, 1]).sum()) / var
    b = float((s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum()) / var
    rot = np.array([[a, -b], [b, a]])
    shift = mu_d - rot @ mu_s
    return np.concatenate([rot, shift[:, None]], axis=1)


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to points [K,2]."""
    return points @ matrix[:, :2].T + matrix[:, 2]


@dataclass(frozen=True)
class Pose:
    """Scale-free pose proxies: roll in degrees, yaw and pitch as nose offsets in eye distances."""

    iod: float  # inter-ocular distance in pixels
    roll: float  # degrees, eye line against the horizontal
    yaw: float  # nose tip offset from the eye/mouth midline, in eye distances (+: image-right)
    pitch: float  # nose height between eye line (0) and mouth line (1)
    eye_mouth: float  # eye-line to mouth-line distance, in eye distances


def pose(points: np.ndarray) -> Pose:
    """Pose proxies of a landmark set [5,2] (rotated so the eyes are level first)."""
    eye_l, eye_r, nose, mouth_l, mouth_r = points
    v = eye_r - eye_l
    iod = float(np.hypot(*v))
    if iod < 1e-6:
        return Pose(0.0, 0.0, 0.0, 0.0, 0.0)
    roll = float(np.degrees(np.arctan2(v[1], v[0])))
    c, s = v / iod
    rot = np.array([[c, s], [-s, c]])  # undo the roll
    e = (eye_l + eye_r) / 2
    m = (mouth_l + mouth_r) / 2
    n_, m_ = rot @ (nose - e) / iod, rot @ (m - e) / iod
    eye_mouth = float(m_[1])
    mid_x = m_[0] * (n_[1] / eye_mouth) if abs(eye_mouth) > 1e-6 else 0.0
    pitch = float(n_[1] / eye_mouth) if abs(eye_mouth) > 1e-6 else 0.0
    return Pose(iod, roll, float(n_[0] - mid_x), pitch, eye_mouth)


@dataclass(frozen=True)
class Plausibility:
    """Bounds a detection's landmarks must meet to be treated as a real face."""

    min_score: float = 0.7
    max_roll: float = 50.0
    max_yaw: float = 0.9  # nose this many eye distances off the midline: a profile or garbage
    eye_mouth: tuple[float, float] = (0.55, 1.9)
    mouth_width: tuple[float, float] = (0.35, 1.6)  # mouth corners distance / eye distance
    iod_of_box: tuple[float, float] = (0.18, 0.75)  # eye distance / box width


def plausible(points: np.ndarray, box_width: float, score: float,
              bounds: Plausibility | None = None) -> bool:  # fmt: skip
    """Whether a detection's score and landmarks form a face (eyes over nose over mouth)."""
    b = bounds or Plausibility()
    if score < b.min_score or box_width <= 0:
        return False
    p = pose(points)
    if p.iod <= 0:
        return False
    mouth_w = float(np.hypot(*(points[4] - points[3]))) / p.iod
    checks = (
        abs(p.roll) <= b.max_roll,
        abs(p.yaw) <= b.max_yaw,
        b.eye_mouth[0] <= p.eye_mouth <= b.eye_mouth[1],
        0.05 <= p.pitch <= 0.95,
        b.mouth_width[0] <= mouth_w <= b.mouth_width[1],
        b.iod_of_box[0] <= p.iod / box_width <= b.iod_of_box[1],
    )
    return all(checks)


# Where a turned face lies about its landmarks. On a head seen at yaw t (a cylinder of radius R,
# the eyes at angles +-p_e on it, the cheeks at +-p_c, the nose tip n in front), the image eye
# distance shrinks with cos t and so does the cheek-to-cheek width, but their centre lands
# R sin t (cos p_c - cos p_e) from the eye midpoint: away from the nose, while the nose moves
# sin t (R (1 - cos p_e) + n) toward it. With a head's proportions (R ~1.3 eye distances, cheeks
# at 1 eye distance from the midline, the nose tip ~0.4 in front) that is ~0.75 of the nose's
# offset, the other way. (Until 2026-11 the oval moved 0.25 of it toward the nose: on the crowd
# clip's portrait at ~35 degrees the donor then spilled past the cheek onto the wall behind.)
YAW_SHIFT = 0.75


def oval(
    points: np.ndarray, scale: float = 1.0, top: float = 0.75
) -> tuple[tuple[float, float], tuple[float, float], float]:
    """The inner-face ellipse (centre, full axes, angle in degrees) spanned by 5 landmarks.

    Brows to chin and cheek to cheek, built in the face's own (roll-corrected) frame: half-width
    1.0 eye distances, from ``top`` eye distances above the eye line (0.75: the forehead; the
    brows sit at ~0.4) to 0.55 eye-mouth distances below the mouth. ``scale`` grows the axes
    about the centre. On a turned face the oval moves away from the nose (``YAW_SHIFT``).
    """
    eye_l, eye_r, nose, mouth_l, mouth_r = points
    e = (eye_l + eye_r) / 2
    m = (mouth_l + mouth_r) / 2
    v = eye_r - eye_l
    iod = max(float(np.hypot(*v)), 1e-6)
    ux = v / iod
    uy = np.array([-ux[1], ux[0]])  # down the face when the eyes are level
    em = max(float(np.dot(m - e, uy)), 0.3 * iod)
    top_y, bottom = -top * iod, em + 0.55 * em
    centre = e + uy * (top_y + bottom) / 2 - ux * YAW_SHIFT * float(np.dot(nose - e, ux))
    axes = (2.0 * iod * scale, (bottom - top_y) * scale)
    angle = float(np.degrees(np.arctan2(ux[1], ux[0])))
    return (float(centre[0]), float(centre[1])), (float(axes[0]), float(axes[1])), angle
