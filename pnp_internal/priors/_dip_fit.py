"""Small helpers shared by the deep-image-prior family (DIP solver, DIPDenoiser, Self2Self).

Torch-only on purpose: both ``solvers`` and ``priors`` import it without import cycles.
"""

from __future__ import annotations

import random

import torch


def make_generator(seed, device) -> torch.Generator:
    """A generator on ``device`` seeded with ``seed`` (fresh entropy when ``seed`` is None)."""
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise TypeError(f"seed must be an int or None, got {seed!r}")
    gen = torch.Generator(device=device)
    gen.manual_seed(seed if seed is not None else random.SystemRandom().randrange(2**62))
    return gen


def seeded_net(build, seed):
    """Call ``build()`` with the global RNG seeded (restored afterwards) for a deterministic init."""
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        return build()


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Anisotropic total variation, mean absolute horizontal + vertical differences."""
    return ((x[..., 1:, :] - x[..., :-1, :]).abs().mean()
            + (x[..., :, 1:] - x[..., :, :-1]).abs().mean())


def sure_loss(net, zin, y, sigma, gen, tau=None):
    """Monte-Carlo SURE of ``net(y)`` as a denoiser of ``y`` (Metzler et al. 2018), in float32.

    ``SURE = ||y - f(y)||^2 / N - sigma^2 + 2 sigma^2 / N * div f(y)``, with
    ``div f(y) ~ b . (f(y + tau b) - f(y)) / tau``, ``b ~ N(0, I)``.
    Returns ``(loss, f(zin))``.
    """
    tau = sigma * 0.1 if tau is None else tau
    out = net(zin).float()
    b = torch.randn(y.shape, generator=gen, device=y.device)
    out_b = net(zin + tau * b).float()
    n = y.numel()
    div = (b * (out_b - out)).sum() / tau
    loss = (y - out).pow(2).sum() / n - sigma**2 + 2 * sigma**2 * div / n
    return loss, out


def check_operator(y, operator, x0, who):
    """Return the image shape for ``y`` under ``operator``; raise when shapes do not agree."""
    for name in ("A", "A_adjoint"):
        if not callable(getattr(operator, name, None)):
            raise TypeError(f"{who}: operator must be a linear operator with A and A_adjoint "
                            f"(e.g. a deepinv LinearPhysics), got {type(operator).__name__}")
    with torch.no_grad():
        if x0 is not None:
            if not isinstance(x0, torch.Tensor) or x0.ndim != 4:
                raise ValueError(f"{who}: x0 must be a (B, C, H, W) tensor, got "
                                 f"{getattr(x0, 'shape', type(x0).__name__)}")
            shape = tuple(x0.shape)
        else:
            try:
                shape = tuple(operator.A_adjoint(y).shape)
            except Exception as err:  # noqa: BLE001 - report any shape failure uniformly
                raise ValueError(f"{who}: operator.A_adjoint does not accept y of shape "
                                 f"{tuple(y.shape)} ({err}); y must be shaped like the "
                                 "operator's measurements") from err
        if len(shape) != 4:
            raise ValueError(f"{who}: expected images of shape (B, C, H, W), got {shape}")
        try:
            out_shape = tuple(operator.A(torch.zeros(shape, device=y.device)).shape)
        except Exception as err:  # noqa: BLE001
            raise ValueError(f"{who}: operator.A fails on an image of shape {shape} ({err})") from err
    if out_shape != tuple(y.shape):
        raise ValueError(f"{who}: operator output shape {out_shape} does not match y of shape "
                         f"{tuple(y.shape)}; pass the y this operator produced (or fix img_shape)")
    return shape


def reinit(net, seed):
    """Re-initialise every sub-module of ``net`` that has ``reset_parameters``, seeded."""
    def build():
        for m in net.modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
        return net
    return seeded_net(build, seed)
