"""Phase-2 loss terms: the critic's and the generator's, reference and product variants.

Recognisers enter as ``PairScore`` callables (a, b) -> same-class probability [N]. The judge used in
evaluation never appears here: it stays independent of training.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F

PairScore = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def standardize(x: torch.Tensor) -> torch.Tensor:
    """Per-image standardisation as tf.image.per_image_standardization ([N,C,H,W])."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    std = x.std(dim=(1, 2, 3), keepdim=True, unbiased=False)
    floor = 1.0 / (x[0].numel() ** 0.5)
    return (x - mean) / std.clamp(min=floor)


def _gauss_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    t = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Differentiable mean SSIM per image [N] for images in [0,1] (Gaussian window 11, sigma 1.5)."""
    c = x.shape[1]
    w = _gauss_window().to(x.device, x.dtype).expand(c, 1, 11, 11)
    mu_x = F.conv2d(x, w, groups=c)
    mu_y = F.conv2d(y, w, groups=c)
    sxx = F.conv2d(x * x, w, groups=c) - mu_x**2
    syy = F.conv2d(y * y, w, groups=c) - mu_y**2
    sxy = F.conv2d(x * y, w, groups=c) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    num = (2 * mu_x * mu_y + c1) * (2 * sxy + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2)
    return (num / den).mean(dim=(1, 2, 3))


def bce_logits(logits: torch.Tensor, target: float) -> torch.Tensor:
    """BCE of a logit map against a constant label."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def bce_prob(p: torch.Tensor, target: float) -> torch.Tensor:
    """BCE of probabilities against a constant label, in float32 and clamped away from 0/1.

    Written out because F.binary_cross_entropy refuses to run under CUDA autocast.
    """
    p = p.float().clamp(1e-6, 1 - 1e-6)
    return -(target * torch.log(p) + (1.0 - target) * torch.log1p(-p)).mean()


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    on_probability: bool,
    mean: bool = False,
) -> torch.Tensor:
    """(1 - ||dD/dx||)^2 on random interpolates; the reference differentiates the summed map."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    mix = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = critic(mix)
    if on_probability:
        out = torch.sigmoid(out)
    reduced = out.flatten(1).mean(1).sum() if mean else out.sum()
    (grad,) = torch.autograd.grad(reduced, mix, create_graph=True)
    norm = grad.flatten(1).norm(dim=1)
    return ((1.0 - norm) ** 2).mean()


def reconstruction(o: torch.Tensor, x: torch.Tensor, kind: str, w_ssim: float) -> torch.Tensor:
    """Reference: MSE(O, x). Product: L1 + w_ssim * (1 - SSIM) (sharper than MSE alone)."""
    o, x = o.float(), x.float()  # SSIM's variance terms underflow in bf16 (autocast on CUDA)
    if kind == "mse":
        return F.mse_loss(o, x)
    with torch.autocast(device_type=o.device.type, enabled=False):
        return F.l1_loss(o, x) + w_ssim * (1.0 - ssim(o, x)).mean()


def scores(
    recognisers: Mapping[str, PairScore], a: torch.Tensor, b: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Same-class probability [N] per trait for standardised pairs."""
    sa, sb = standardize(a), standardize(b)
    return {name: rec(sa, sb) for name, rec in recognisers.items()}


def ano_reference(
    p_xa: Mapping[str, torch.Tensor], p_xo: Mapping[str, torch.Tensor], s: Mapping[str, int]
) -> torch.Tensor:
    """The reference's linear ANO: sum(-S p(x,A)) - sum(-S p(x,O)) (S also steers O: its quirk)."""
    score_a = sum((-s[k] * p_xa[k]).mean() for k in p_xa)
    score_o = sum((-s[k] * p_xo[k]).mean() for k in p_xo)
    return torch.as_tensor(score_a - score_o)


def ano_product(
    p_xa: Mapping[str, torch.Tensor], p_xo: Mapping[str, torch.Tensor], s: Mapping[str, int]
) -> torch.Tensor:
    """S steers A only (keep -> same, change -> different); O is pushed to "same" on every trait."""
    loss_a = sum(bce_prob(p_xa[k], 1.0 if s[k] > 0 else 0.0) for k in p_xa)
    loss_o = sum(bce_prob(p_xo[k], 1.0) for k in p_xo)
    return torch.as_tensor(loss_a + loss_o)


def con_div_reference(
    recognisers: Mapping[str, PairScore],
    a1: torch.Tensor,
    a2: torch.Tensor,
    s: Mapping[str, int],
    images_per_subject: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference's CON and DIV, contradiction included (see ``con_div_resolved``).

    CON: S-weighted scores of (A1[i], A2[i]) (same subject, other session) minimised, which with
    S = -1 pushes them to "different". DIV: pairs (roll(A1, -k/2)[i], A2[i]) labelled -1 when the
    roll lands on the same subject (pushed "same") and +1 when it lands on the next one ("different"),
    the last subject's rows zero. On the same-subject pairs CON and DIV pull in opposite directions.
    """
    combined = lambda p: sum(-s[k] * p[k] for k in p)  # noqa: E731
    con = combined(scores(recognisers, a1, a2)).mean()
    half = images_per_subject // 2
    rolled = torch.roll(a1, shifts=-half, dims=0)
    n_subjects = a1.shape[0] // images_per_subject
    block = torch.cat((-torch.ones(half), torch.ones(images_per_subject - half)))
    labels = torch.cat((block.repeat(n_subjects - 1), torch.zeros(images_per_subject)))
    div = (labels.to(a1.device) * combined(scores(recognisers, rolled, a2))).mean()
    return torch.as_tensor(con), div


def con_div_resolved(
    recognisers: Mapping[str, PairScore],
    a1: torch.Tensor,
    a2: torch.Tensor,
    images_per_subject: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The product's resolution: each pair is pushed one way only.

    The product seeds the noise per track, so one subject's images in x1 and x2 share one key here.
    CON (consistency): same subject, same key (A1[i], A2[i]) -> "same" on every trait, so one track
    keeps one surrogate identity across frames and sessions (what stability measures).
    DIV (diversity): different subjects (A1[i], A2 rolled by one subject) -> "different" identity,
    so surrogates do not collapse onto one face. Unlinkability across tracks comes from the key: a
    new track gets new noise, and the wrong-key term keeps noise meaningful.
    """
    con = sum(bce_prob(p, 1.0) for p in scores(recognisers, a1, a2).values())
    other = torch.roll(a2, shifts=images_per_subject, dims=0)
    ident = {k: v for k, v in recognisers.items() if k == "identity"} or dict(recognisers)
    div = sum(bce_prob(p, 0.0) for p in scores(ident, a1, other).values())
    return torch.as_tensor(con), torch.as_tensor(div)


def histogram_reference(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """The reference's chi2 term: hard 100-bin histograms, so its gradient is nil (kept for logs)."""
    h_t = torch.histc(y_true.detach().float(), bins=100, min=0.0, max=1.0) / y_true.detach().sum()
    h_p = torch.histc(y_pred.detach().float(), bins=100, min=0.0, max=1.0) / y_pred.detach().sum()
    return torch.sqrt(torch.mean((h_t - h_p) ** 2))


def soft_histogram(x: torch.Tensor, bins: int = 32, bandwidth: float = 0.03) -> torch.Tensor:
    """Differentiable brightness histogram per image [N, bins] (Gaussian kernel density)."""
    lum = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).flatten(1)  # [N, H*W]
    centres = torch.linspace(0.0, 1.0, bins, device=x.device, dtype=x.dtype)
    w = torch.exp(-((lum[:, :, None] - centres) ** 2) / (2 * bandwidth**2))  # [N, HW, bins]
    h = w.sum(1)
    return h / h.sum(1, keepdim=True).clamp(min=1e-8)


def histogram_product(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """L1 between soft brightness histograms of x and A: keeps the scene's exposure."""
    return (soft_histogram(x) - soft_histogram(a)).abs().sum(1).mean()


def structure(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """L1 between 8x8-pooled A and x: pose and light stay, fine identity detail may change."""
    return F.l1_loss(F.avg_pool2d(a, 8), F.avg_pool2d(x, 8))


def wrong_key(o_wrong: torch.Tensor, x: torch.Tensor, margin: float) -> torch.Tensor:
    """Hinge: a restoration under another key closer than ``margin`` (mean |.|) to x is penalised."""
    dist = (o_wrong - x).abs().mean(dim=(1, 2, 3))
    return F.relu(margin - dist).mean()
