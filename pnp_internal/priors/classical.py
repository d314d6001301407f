r"""Classical priors: BM3D, total variation, identity.

All three follow the prior contract of :mod:`pnp_internal.priors.base`: ``forward(x, sigma)``
with ``x`` of shape ``(B, C, H, W)`` and ``sigma`` on the [0, 1] scale (a float or a tensor of
shape ``(B,)``), returning the same shape.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .base import Prior


def _sigmas(sigma, batch: int) -> list[float]:
    """Per-image noise levels as Python floats (checked >= 0)."""
    if isinstance(sigma, torch.Tensor):
        vals = sigma.detach().flatten().double().cpu().tolist()
        if len(vals) == 1:
            vals = vals * batch
    else:
        vals = [float(sigma)] * batch
    if len(vals) != batch:
        raise ValueError(f"sigma has {len(vals)} values for a batch of {batch} images; "
                         "give one float or one value per image")
    if any(not (v >= 0) for v in vals):
        raise ValueError(f"sigma must be >= 0 (on the [0, 1] scale), got {vals}")
    return vals


class Identity(Prior):
    """The identity denoiser ``D(x, sigma) = x`` (no prior: useful for tests and baselines).

    With IDBP and a noiseless invertible operator it gives the exact solution.
    """

    def forward(self, x, sigma, **kwargs):
        _sigmas(sigma, x.shape[0])
        return x.clone()


# -------------------------------------------------------------------------------------------
# Total variation
# -------------------------------------------------------------------------------------------


def _grad(x):
    """Forward differences with Neumann boundary, stacked: ``(2, *x.shape)`` = (d/dx, d/dy);
    the last column of d/dx and the last row of d/dy are zero."""
    dx = F.pad(torch.diff(x, dim=-1), (0, 1))
    dy = F.pad(torch.diff(x, dim=-2), (0, 0, 0, 1))
    return torch.stack((dx, dy))


def _div(p):
    """Discrete divergence, ``-grad^T``, of a field ``p = (px, py)`` whose last column of ``px``
    and last row of ``py`` are zero (as every field built from :func:`_grad` is)."""
    px, py = p[0], p[1]
    return px - F.pad(px[..., :-1], (1, 0)) + py - F.pad(py[..., :-1, :], (0, 0, 1, 0))


def tv_prox(z: torch.Tensor, lam: torch.Tensor, n_iter: int = 50) -> torch.Tensor:
    r"""Isotropic-TV proximal operator by FISTA on the dual (Beck & Teboulle's FGP).

    Solves :math:`\arg\min_x \tfrac12\|x - z\|^2 + \lambda\,\mathrm{TV}(x)` per channel, with
    :math:`\mathrm{TV}(x) = \sum_i \|(\nabla x)_i\|_2` (forward differences, Neumann boundary),
    through the dual problem :math:`\min_{\|p_i\|\le 1} \tfrac12\|z + \lambda\,\mathrm{div}\,p\|^2`
    with step :math:`1/(8\lambda)` and Nesterov momentum, starting from :math:`p = 0` (no warm
    start: the result depends only on ``z`` and ``lam``).

    Parameters
    ----------
    z : torch.Tensor
        ``(B, C, H, W)``.
    lam : torch.Tensor
        Weights, broadcastable to ``(B, 1, 1, 1)``; 0 returns ``z``.
    n_iter : int
        Number of dual iterations.
    """
    lam = lam.to(dtype=z.dtype, device=z.device)
    step = 1.0 / (8.0 * lam.clamp_min(1e-12))
    p = torch.zeros((2, *z.shape), dtype=z.dtype, device=z.device)
    q = p
    t = 1.0
    for _ in range(n_iter):
        p_new = q + step * _grad(z + lam * _div(q))        # gradient step on the dual
        p_new = p_new / torch.linalg.vector_norm(p_new, dim=0).clamp_min(1.0)  # |p_i| <= 1
        t_next = (1.0 + (1.0 + 4.0 * t * t) ** 0.5) / 2.0
        q = p_new + ((t - 1.0) / t_next) * (p_new - p)     # Nesterov momentum
        p, t = p_new, t_next
    return z + lam * _div(p)


class TV(Prior):
    r"""Total-variation denoiser: the deterministic ROF proximal map with a weight tied to sigma.

    .. math:: D(z, \sigma) = \arg\min_x \tfrac12\|x - z\|^2 + \lambda(\sigma)\,\mathrm{TV}(x),
              \qquad \lambda(\sigma) = \texttt{weight}\cdot\sigma .

    The weight grows linearly with the noise level (the best ROF weight for Gaussian noise of
    std :math:`\sigma` is close to proportional to :math:`\sigma`; ``weight=0.8`` is a good value
    for natural images at sigma 15-50/255). Each call solves the problem from scratch with a
    fixed number of FISTA dual iterations (:func:`tv_prox`), so the same input always gives the
    same output, unlike ``deepinv.models.TVDenoiser`` which warm-starts from the previous call.

    Parameters
    ----------
    weight : float
        Ratio :math:`\lambda / \sigma`.
    n_iter : int
        Dual iterations per call.

    References
    ----------
    .. [1] L. Rudin, S. Osher, E. Fatemi, "Nonlinear total variation based noise removal
       algorithms", Physica D 60, 1992.
    .. [2] A. Beck, M. Teboulle, "Fast gradient-based algorithms for constrained total variation
       image denoising and deblurring problems", IEEE TIP 18(11), 2009.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.priors import TV
    >>> z = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> torch.equal(TV()(z, 0.1), TV()(z, 0.1))
    True
    """

    def __init__(self, *, weight: float = 0.8, n_iter: int = 50):
        super().__init__()
        if not weight >= 0:
            raise ValueError(f"weight must be >= 0, got {weight!r}")
        if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 1:
            raise ValueError(f"n_iter must be an int >= 1, got {n_iter!r}")
        self.weight = float(weight)
        self.n_iter = n_iter

    def forward(self, x, sigma, **kwargs):
        s = _sigmas(sigma, x.shape[0])
        lam = torch.tensor([self.weight * v for v in s], dtype=x.dtype, device=x.device)
        return tv_prox(x, lam.view(-1, 1, 1, 1), self.n_iter)


# -------------------------------------------------------------------------------------------
# BM3D
# -------------------------------------------------------------------------------------------


class BM3D(Prior):
    r"""BM3D denoiser [1]_ through the ``bm3d`` package (gray, and CBM3D for colour).

    Gray images (and any channel count other than 3, channel by channel) use ``bm3d.bm3d``;
    3-channel images use ``bm3d.bm3d_rgb`` (opponent colour space). ``sigma`` is the noise std
    on the [0, 1] scale of the images; a batch is processed image by image on the CPU and the
    result is returned on the input's device and dtype. ``sigma = 0`` returns the input.

    Parameters
    ----------
    profile : str
        ``bm3d`` profile, ``"np"`` (normal, default), ``"refilter"``, ``"vn"``, ``"high"``, ...
    stage : {"all", "hard"}
        Both stages (hard thresholding then Wiener), or hard thresholding only (about twice as
        fast, ~0.5 dB lower).

    Notes
    -----
    BM3D costs about a second per 256x256 gray image and a few seconds per 256x256 colour image
    on one CPU core; keep the number of PnP iterations small (8 for DPIR-style deblurring).

    References
    ----------
    .. [1] K. Dabov, A. Foi, V. Katkovnik, K. Egiazarian, "Image Denoising by Sparse 3-D
       Transform-Domain Collaborative Filtering", IEEE TIP 16(8), 2007; Y. Mäkinen, L. Azzari,
       A. Foi, "Collaborative Filtering of Correlated Noise", IEEE TIP 29, 2020.
    """

    def __init__(self, *, profile: str = "np", stage: str = "all"):
        super().__init__()
        try:
            import bm3d  # noqa: F401
        except ImportError as err:  # pragma: no cover
            raise ImportError("BM3D needs the 'bm3d' package: pip install bm3d") from err
        if stage not in ("all", "hard"):
            raise ValueError(f"stage must be 'all' or 'hard', got {stage!r}")
        self.profile = profile
        self.stage = stage

    def _one(self, img: np.ndarray, s: float) -> np.ndarray:
        import bm3d

        stage = bm3d.BM3DStages.ALL_STAGES if self.stage == "all" else \
            bm3d.BM3DStages.HARD_THRESHOLDING
        if img.shape[0] == 3:
            hwc = np.ascontiguousarray(img.transpose(1, 2, 0))
            if self.stage == "all":
                out = bm3d.bm3d_rgb(hwc, s, profile=self.profile)
            else:  # bm3d_rgb has no stage argument: gray BM3D on each RGB channel instead
                out = np.stack([bm3d.bm3d(hwc[..., c], s, profile=self.profile,
                                          stage_arg=stage) for c in range(3)], axis=-1)
            return np.asarray(out).transpose(2, 0, 1)
        return np.stack([np.asarray(bm3d.bm3d(img[c], s, profile=self.profile,
                                              stage_arg=stage)) for c in range(img.shape[0])])

    def forward(self, x, sigma, **kwargs):
        s = _sigmas(sigma, x.shape[0])
        arr = x.detach().float().cpu().numpy()
        out = []
        for b in range(arr.shape[0]):
            if s[b] == 0:
                out.append(arr[b])
            else:
                out.append(self._one(arr[b], s[b]).astype(np.float32))
        return torch.from_numpy(np.stack(out)).to(device=x.device, dtype=x.dtype)
