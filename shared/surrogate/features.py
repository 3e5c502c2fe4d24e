"""What donor choice matches between a track and a donor: pose, skin tone, mouth, facial hair.

The same functions measure donors (in the bank) and targets (at a track's first frame), so the
comparison is like with like. They are cheap heuristics on the 5 landmarks and luminance, not
classifiers: a target with a closed mouth and no beard should not get a grinning, bearded donor.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from shared.surrogate.geometry import Pose, pose
from shared.surrogate.masks import ellipse_mask, oval_mask


def eye_contrast(lum: np.ndarray, points: np.ndarray, iod: float) -> float:
    """Spread (90th - 10th percentile over the median) of the weaker eye: washed-out, blind-looking
    eyes are the commonest flaw of the synthetic donors."""
    spreads = []
    for k in (0, 1):
        eye = _patch(lum, points[k], 0.22 * iod, 0.12 * iod)
        if eye.size == 0:
            return 0.0
        lo, hi = np.percentile(eye, [10, 90])
        spreads.append(float(hi - lo) / max(float(np.median(eye)), 1.0))
    return min(spreads)


def pale_eyes(lum: np.ndarray, points: np.ndarray, iod: float) -> float:
    """Darkest tenth of the paler eye over the cheek luminance: near 1 when an eye has no dark
    pupil or lashes (the glowing, blank eyes the generator often draws)."""
    skin = max(_skin(lum, points, iod), 1.0)
    darkest = []
    for k in (0, 1):
        eye = _patch(lum, points[k], 0.18 * iod, 0.1 * iod)
        if eye.size == 0:
            return 1.0
        darkest.append(float(np.percentile(eye, 10)) / skin)
    return max(darkest)


def chroma_spread(image: np.ndarray, points: np.ndarray) -> float:
    """Std of Lab a*/b* over the inner face: high for garish, multicoloured generator artefacts."""
    mask = oval_mask(points, image.shape[:2], scale=0.9, feather=0.0) > 0.5
    if not mask.any():
        return 0.0
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    return float(lab[mask][:, 1:].std(0).mean())


def _cheek_mask(shape: tuple[int, int], points: np.ndarray, iod: float) -> np.ndarray:
    """Two small patches of cheek below the eyes (bool [h,w])."""
    cheeks = np.zeros(shape, dtype=bool)
    for k in (0, 1):
        below = tuple(points[k] + np.array([0.0, 0.55 * iod]))
        cheeks |= ellipse_mask(shape, below, (0.35 * iod, 0.25 * iod), 0.0, 0.0) > 0.5
    return cheeks


def _pose_and_cheeks(image: np.ndarray, points: np.ndarray) -> tuple[Pose, np.ndarray | None]:
    """The landmarks' pose and the cheek patches (None when too few cheek pixels to go by)."""
    geo = pose(points)
    cheeks = _cheek_mask(image.shape[:2], points, max(geo.iod, 1.0))
    return geo, (cheeks if cheeks.sum() >= 5 else None)


def calm_eye_rims(image: np.ndarray, points: np.ndarray, margin: float = 3.0) -> np.ndarray:
    """``image`` (uint8 RGB) with the redness around its eyes brought down to its cheeks'.

    Some generated faces (~7% of the shipped bank) have red-rimmed, sore-looking eyes: 64 px hides
    it, a face painted 400 px wide does not, and a colour match to a pink face adds to it. Lab a*
    above the cheeks' median + ``margin`` is taken off, fully near the eyes and fading out by
    ~0.55 eye distances from them; everything else is left as it was.
    """
    geo, cheeks = _pose_and_cheeks(image, points)
    if cheeks is None:
        return image
    iod, shape = max(geo.iod, 1.0), image.shape[:2]
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    a = lab[..., 1]
    weight = np.maximum(*(ellipse_mask(shape, tuple(points[k]), (1.1 * iod, 0.75 * iod),
                                       geo.roll, 0.4) for k in (0, 1)))  # fmt: skip
    cut = weight * np.maximum(a - (float(np.median(a[cheeks])) + margin), 0.0)
    moved = cut > 0
    if not moved.any():
        return image
    lab[..., 1] = a - cut
    out = np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.where(moved[..., None], out, image)  # elsewhere not even a rounding step


def clear_forehead(image: np.ndarray, points: np.ndarray, start: float = 0.5) -> np.ndarray:
    """``image`` (uint8 RGB) with hair, a cap or a hat over its forehead turned into cheek-coloured
    skin, from ``start`` eye distances above the eye line (the brows sit at ~0.4; a ramp of +-0.1
    around it) to the top of the donor oval.

    The oval a donor is blended through reaches ~1 eye distance above its eyes, fading from ~0.5
    (``composite.CompositeOptions``); ~16% of the shipped bank wears a fringe or a cap there (moved
    by more than 20 levels here), which became a dark band or blot on the person's forehead.
    Pixels darker than 0.75 of the cheeks' luminance, and a soft edge around them, go toward the
    cheeks' colour, fully below 0.6; every other pixel is left as it was. ~0.6 ms once per donor.
    """
    geo, cheeks = _pose_and_cheeks(image, points)
    if cheeks is None:
        return image
    iod, shape = max(geo.iod, 1.0), image.shape[:2]
    lum = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    skin = float(np.median(lum[cheeks]))
    ux = (points[1] - points[0]) / iod
    e = (points[0] + points[1]) / 2
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    up = ((xs + 0.5 - e[0]) * ux[1] - (ys + 0.5 - e[1]) * ux[0]) / iod  # above the eye line
    ramp = np.clip((up - start + 0.1) / 0.2, 0.0, 1.0)  # fades in over +-0.1 eye distances
    region = (oval_mask(points, shape, scale=1.3, feather=0.0, top=0.9) > 0.5) * ramp
    dark = region * np.clip((0.75 * skin - lum) / max(0.15 * skin, 1.0), 0.0, 1.0)
    if not dark.any():
        return image
    alpha = np.maximum(dark, cv2.GaussianBlur(dark, (0, 0), max(0.08 * iod, 0.6))) * ramp
    moved = alpha > 0.0
    colour = np.median(image[cheeks].astype(np.float32), axis=0)
    out = image.astype(np.float32) * (1.0 - alpha[..., None]) + colour * alpha[..., None]
    out = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return np.where(moved[..., None], out, image)


def shadow_share(image: np.ndarray, points: np.ndarray) -> float:
    """Share of the inner face's skin (eyes, brows, nostrils and mouth left out) much darker than
    its median: a half-shadowed or hair-covered donor turns into a dark stripe once its colour is
    matched to an evenly lit face."""
    geo = pose(points)
    iod = max(geo.iod, 1.0)
    shape = image.shape[:2]
    skin = oval_mask(points, shape, scale=0.9, feather=0.0) > 0.5
    for k in (0, 1):
        skin &= ellipse_mask(shape, tuple(points[k]), (0.7 * iod, 0.45 * iod), 0.0, 0.0) < 0.5
    mouth = (points[3] + points[4]) / 2
    width = float(np.hypot(*(points[4] - points[3])))
    skin &= ellipse_mask(shape, tuple(mouth), (1.3 * width, 0.5 * iod), geo.roll, 0.0) < 0.5
    nose = points[2] + np.array([0.0, 0.05 * iod])
    skin &= ellipse_mask(shape, tuple(nose), (0.6 * iod, 0.35 * iod), geo.roll, 0.0) < 0.5
    if skin.sum() < 20:
        return 1.0
    lum = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)[skin]
    return float((lum < 0.62 * float(np.median(lum))).mean())


@dataclass(frozen=True)
class Features:
    """yaw (nose offset in eye distances), Lab tone [3], mouth openness and facial hair in 0..1."""

    yaw: float
    tone: np.ndarray
    mouth: float
    hair: float

    def as_row(self) -> np.ndarray:
        """[yaw, L, a, b, mouth, hair] as float64."""
        return np.array([self.yaw, *self.tone.tolist(), self.mouth, self.hair], dtype=np.float64)


def face_tone(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Lab mean (L 0..100) over the inner-face oval: what skin-tone matching compares."""
    mask = oval_mask(points, image.shape[:2], scale=0.8, feather=0.0) > 0.5
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    if not mask.any():
        return np.asarray(lab.reshape(-1, 3).mean(0), dtype=np.float64)
    return np.asarray(lab[mask].mean(0), dtype=np.float64)


def _patch(lum: np.ndarray, centre: np.ndarray, half_w: float, half_h: float) -> np.ndarray:
    h, w = lum.shape
    x0, x1 = max(int(centre[0] - half_w), 0), min(int(np.ceil(centre[0] + half_w)), w)
    y0, y1 = max(int(centre[1] - half_h), 0), min(int(np.ceil(centre[1] + half_h)), h)
    return lum[y0:y1, x0:x1] if x1 > x0 and y1 > y0 else np.empty((0, 0), np.float32)


def _skin(lum: np.ndarray, points: np.ndarray, iod: float) -> float:
    """Median luminance of the cheeks: beside the nose, within an eye distance of it."""
    nose = points[2]
    left = _patch(lum, nose - np.array([0.6 * iod, 0.0]), 0.2 * iod, 0.15 * iod)
    right = _patch(lum, nose + np.array([0.6 * iod, 0.0]), 0.2 * iod, 0.15 * iod)
    both = np.concatenate([left.ravel(), right.ravel()])
    return float(np.median(both)) if both.size else float(np.median(lum))


def mouth_open(lum: np.ndarray, points: np.ndarray, iod: float, skin: float) -> float:
    """Share of pixels between the mouth corners much darker (open) or brighter (teeth) than skin."""
    m0, m1 = points[3], points[4]
    half_w = max(0.7 * float(np.hypot(*(m1 - m0))) / 2, 1.0)
    mouth = _patch(lum, (m0 + m1) / 2, half_w, max(0.22 * iod, 1.0))
    if mouth.size == 0:
        return 1.0
    return float(((mouth < 0.55 * skin) | (mouth > 1.35 * skin)).mean())


def facial_hair(lum: np.ndarray, points: np.ndarray, iod: float, skin: float) -> float:
    """How much darker than the cheeks the upper lip and the chin are (0: not at all, 1: black)."""
    nose, mouth = points[2], (points[3] + points[4]) / 2
    lip = _patch(lum, (nose + mouth) / 2, 0.35 * iod, 0.08 * iod)
    chin = _patch(lum, mouth + (mouth - nose) * 0.9, 0.3 * iod, 0.12 * iod)
    both = np.concatenate([lip.ravel(), chin.ravel()])
    if both.size == 0 or skin <= 1.0:
        return 0.0
    return float(np.clip(1.0 - float(np.median(both)) / skin, 0.0, 1.0))


def measure(image: np.ndarray, points: np.ndarray) -> Features:
    """Features of the face with landmarks ``points`` [5,2] in ``image`` (RGB uint8)."""
    geo = pose(points)
    iod = max(geo.iod, 1.0)
    lum = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    skin = _skin(lum, points, iod)
    return Features(
        yaw=geo.yaw,
        tone=face_tone(image, points),
        mouth=mouth_open(lum, points, iod, skin),
        hair=facial_hair(lum, points, iod, skin),
    )


def inner_face(image: np.ndarray, points: np.ndarray, size: int = 64) -> np.ndarray:
    """The grey inner face (eyes to chin, an eye distance either side of the landmarks' centre)
    resized to ``size`` square, float32."""
    iod = max(pose(points).iod, 1.0)
    cx, cy = points.mean(0)
    h, w = image.shape[:2]
    x0, x1 = max(int(cx - iod), 0), min(int(np.ceil(cx + iod)), w)
    y0, y1 = max(int(cy - 1.1 * iod), 0), min(int(np.ceil(cy + 0.9 * iod)), h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.zeros((size, size), np.float32)
    grey = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)


def likeness(a: np.ndarray, b: np.ndarray, points: np.ndarray) -> float:
    """Correlation (-1..1) of two images' grey inner faces at the same landmarks: how much a
    surrogate still looks like the original, pixel for pixel. A crude stand-in for a recogniser
    (on the eval clips its rank correlation with the judge's distance over one face's donor
    candidates is -0.03 to -0.52 on 16 of 18 faces), enough to avoid the worst of a few donors."""
    x, y = inner_face(a, points), inner_face(b, points)
    x, y = x - x.mean(), y - y.mean()
    den = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum()) / den if den > 1e-6 else 0.0
