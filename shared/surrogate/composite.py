"""The classical donor composite: warp the donor onto the face, match its colour and light, blend.

All work happens in the face's paste region at frame resolution (the donor is resampled once), in
float32 RGB 0..255. The mask is the donor's own face oval warped into the frame, intersected with
the target's oval (so neither the donor's background nor the target's hair is painted), and tapered
to zero at the region's border (so the crop edge can never show).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from shared.surrogate.geometry import apply, fit_similarity
from shared.surrogate.masks import box_ellipse_mask, oval_mask


@dataclass(frozen=True)
class CompositeOptions:
    """Mask size and softness, and which transfers run."""

    donor_scale: float = 1.18  # donor oval, in its own frame (its face only)
    target_scale: float = 1.25  # target oval the donor may cover
    feather: float = 0.3  # fraction of the oval radius over which the edge fades
    colour: bool = True  # Reinhard mean/std transfer in Lab inside the mask
    light: bool = (
        True  # the target's linear luminance gradient (light direction) replaces the donor's
    )
    blur_sigma: float = 0.2  # soft-blur cover: Gaussian sigma as a fraction of the box size
    sharpen: float = 0.8  # unsharp-mask amount on a donor upsampled more than sharpen_from (0: off)
    sharpen_from: float = 1.5  # upsampling factor from which the donor is sharpened
    min_contrast: float = 0.5  # lowest gain on the donor's luminance contrast in colour matching
    grain: float = 1.0  # film grain at the strength of the target's own fine noise (0: off)


@dataclass
class Composite:
    """One face's composite in its region: image float32 [h,w,3] and mask float32 [h,w]."""

    image: np.ndarray
    mask: np.ndarray


def warp_donor(donor: np.ndarray, donor_points: np.ndarray, target_points: np.ndarray,
               shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Donor image warped into an [h,w] region by the similarity that aligns the landmarks.

    Returns (float32 [h,w,3] image, 2x3 matrix donor -> region).
    """
    m = fit_similarity(donor_points, target_points)
    h, w = shape
    scale = float(np.hypot(m[0, 0], m[1, 0]))
    interp = cv2.INTER_CUBIC if scale > 1.5 else cv2.INTER_LINEAR
    warped = cv2.warpAffine(donor.astype(np.float32), m, (w, h), flags=interp,
                            borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    return np.clip(warped, 0, 255, out=warped), m


def donor_scale(matrix: np.ndarray) -> float:
    """How many frame pixels one donor pixel covers under a similarity matrix."""
    return float(np.hypot(matrix[0, 0], matrix[1, 0]))


def sharpen(image: np.ndarray, scale: float, amount: float, start: float = 1.5) -> np.ndarray:
    """Unsharp mask sized to the upsampling: gives an enlarged 64 px donor back some edge contrast."""
    if amount <= 0 or scale <= start:
        return image
    soft = cv2.GaussianBlur(image, (0, 0), max(0.5 * scale, 0.8))
    out = image + amount * (image - soft)
    return np.clip(out, 0, 255, out=out)


def add_grain(image: np.ndarray, target: np.ndarray, mask: np.ndarray, strength: float,
              rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """Grain at the target's own fine-noise level inside the mask, so an enlarged donor does not
    look smoother than the camera's picture around it (the noise is random, not the target's)."""
    sel = mask > 0.5
    if strength <= 0 or sel.sum() < 16:
        return image
    grey = cv2.cvtColor(target, cv2.COLOR_RGB2GRAY).astype(np.float32)
    fine = grey - cv2.GaussianBlur(grey, (0, 0), 1.0)
    level = min(float(np.median(np.abs(fine[sel]))) * 1.4826, 8.0)  # robust sigma, capped
    if level < 0.5:
        return image
    noise = rng.standard_normal(image.shape[:2]).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 0.6) * (strength * level / 0.45)  # unit variance again
    out = image + noise[..., None]
    return np.clip(out, 0, 255, out=out)


def _plane(lum: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """Least-squares plane a + b x + c y through lum[sel], evaluated over the whole region."""
    h, w = lum.shape
    ys, xs = np.nonzero(sel)
    if len(xs) < 8:
        return np.full_like(lum, float(lum[sel].mean()) if sel.any() else 0.0)
    a = np.stack([np.ones_like(xs), xs, ys], 1).astype(np.float64)
    coef, *_ = np.linalg.lstsq(a, lum[ys, xs].astype(np.float64), rcond=None)
    gy, gx = np.mgrid[0:h, 0:w]
    return (coef[0] + coef[1] * gx + coef[2] * gy).astype(np.float32)


def match_colour(donor: np.ndarray, target: np.ndarray, mask: np.ndarray, light: bool = True,
                 min_contrast: float = 0.5) -> np.ndarray:  # fmt: skip
    """Donor (float32 RGB 0..255) with the target's Lab mean/std inside ``mask`` > 0.5.

    With ``light``, the luminance plane (the light's direction) is swapped too: the donor keeps
    its own shading details, the target lends only its overall gradient, which carries no identity.
    """
    sel = mask > 0.5
    if sel.sum() < 16:
        return donor
    d_lab = cv2.cvtColor(donor / 255.0, cv2.COLOR_RGB2LAB)
    t_lab = cv2.cvtColor(target.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    for c in range(3):
        d, t = d_lab[..., c], t_lab[..., c]
        if c == 0 and light:
            pd, pt = _plane(d, sel), _plane(t, sel)
            rd, rt = d - pd, t - pt
            gain = float(rt[sel].std()) / max(float(rd[sel].std()), 1e-3)
            d_lab[..., 0] = pt + rd * min(max(gain, min_contrast), 2.0)
        else:
            gain = float(t[sel].std()) / max(float(d[sel].std()), 1e-3)
            d_lab[..., c] = (d - float(d[sel].mean())) * min(max(gain, 0.5), 2.0) + float(
                t[sel].mean()
            )
    out = cv2.cvtColor(d_lab, cv2.COLOR_LAB2RGB) * 255.0
    return np.clip(out, 0, 255, out=out)


def compose(region: np.ndarray, donor: np.ndarray, donor_points: np.ndarray,
            target_points: np.ndarray, border: np.ndarray, options: CompositeOptions | None = None,
            rng: np.random.Generator | None = None) -> Composite:  # fmt: skip
    """The donor composite for one face region (uint8 [h,w,3]; target landmarks in region pixels).

    ``border``: float32 [h,w] taper that is 0 at the region's edge (see crops.feather_mask);
    ``rng``: grain source (None: no grain).
    """
    o = options or CompositeOptions()
    h, w = region.shape[:2]
    warped, m = warp_donor(donor, donor_points, target_points, (h, w))
    d_mask = oval_mask(apply(m, donor_points), (h, w), o.donor_scale, o.feather)
    t_mask = oval_mask(target_points, (h, w), o.target_scale, o.feather)
    mask = np.minimum(d_mask, t_mask) * border
    warped = sharpen(warped, donor_scale(m), o.sharpen, o.sharpen_from)
    if o.colour:
        warped = match_colour(warped, region, mask, o.light, o.min_contrast)
    if rng is not None:
        warped = add_grain(warped, region, mask, o.grain, rng)
    return Composite(warped, mask)


def blur_cover(region: np.ndarray, box: tuple[float, float, float, float], border: np.ndarray,
               options: CompositeOptions | None = None) -> Composite:  # fmt: skip
    """A soft blur over the face box: the cover for anything not confirmed as a face."""
    o = options or CompositeOptions()
    h, w = region.shape[:2]
    size = max(box[2] - box[0], box[3] - box[1], 2.0)
    sigma = max(o.blur_sigma * size, 1.0)
    # Blur a downscaled copy (same look, a fraction of the cost for large boxes), then upscale.
    f = min(1.0, 4.0 / sigma)
    small = cv2.resize(region, (max(1, round(w * f)), max(1, round(h * f))),
                       interpolation=cv2.INTER_AREA)  # fmt: skip
    small = cv2.GaussianBlur(small.astype(np.float32), (0, 0), sigma * f,
                             borderType=cv2.BORDER_REPLICATE)  # fmt: skip
    blurred = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    mask = box_ellipse_mask((h, w), box) * border
    return Composite(blurred, mask)


def blend(region: np.ndarray, comp: Composite) -> None:
    """Write ``comp`` into ``region`` (uint8 view into the frame) through its mask, in place."""
    base = region.astype(np.float32)
    base += (comp.image - base) * comp.mask[..., None]
    np.clip(base + 0.5, 0, 255, out=base)
    region[...] = base.astype(np.uint8)
