"""ZSSR: "zero-shot" super-resolution, a small CNN trained on the LR image alone.

References
----------
.. [1] A. Shocher, N. Cohen, M. Irani, "Zero-Shot" Super-Resolution using Deep Internal
   Learning, CVPR 2018. https://arxiv.org/abs/1712.06087
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import torch
import torch.nn as nn

from ..precision import check_precision, resolve
from .base import Result, SolverState, _psnr
from .zssr_data import (CubicResampler, PairSampler, Resampler, back_project, dihedral,
                        father_scales)
from .zssr_stages import isotropic, plan_stages, rebases, shrunk, stage_scales

MIN_LR_SIZE = 16


class ZSSRNet(nn.Module):
    """``depth`` 3x3 conv layers of ``width`` channels with ReLUs, residual over the input
    (the interpolated LR image): ZSSR's network [1]_, also MZSR's."""

    def __init__(self, channels=3, width=64, depth=8, generator=None):
        super().__init__()
        sizes = [channels] + [width] * (depth - 1) + [channels]
        convs = [nn.Conv2d(a, b, 3, padding=1) for a, b in zip(sizes[:-1], sizes[1:])]
        for conv in convs:
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu", generator=generator)
            nn.init.zeros_(conv.bias)
        convs[-1].weight.data.mul_(0.1)
        layers = []
        for conv in convs[:-1]:
            layers += [conv, nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers, convs[-1])

    def forward(self, x):
        return x + self.body(x)


class ZSSR:
    r"""Zero-shot super-resolution [1]_: learn the LR->HR map from the LR image itself.

    Parameters
    ----------
    max_iter : int
        Cap on training iterations (the paper: 3000).
    min_iter : int
        Iterations between two learning-rate decisions (the paper: 256).
    lr : float
        Initial Adam learning rate (1e-3).
    lr_min : float
        Training stops once the learning rate has been divided down to this value (1e-6).
    crop : int
        Side of the father crops (the paper: 128); smaller fathers are used whole.
    test_every : int
        Period of the reconstruction-error test (full LR son -> LR image) that feeds the
        learning-rate policy (the paper: 50); the policy is checked every ``1.2 * test_every``.
    slope_window : int
        Iterations covered by the linear fit of the reconstruction errors (the paper: 256).
    slope_ratio : float
        Divide the learning rate by 10 when ``-slope_ratio * slope < std(slope)`` (1.5).
    n_scales : int
        Number of father sizes, from 1 down to 0.5 of the LR image (scale augmentation).
    ensemble : bool
        Geometric self-ensemble: median over the 8 flips/rotations.
    back_projection : int or bool
        Iterative back-projection steps ``x += U(y - D x)`` (``U`` cubic, ``D`` the operator's
        kernel); ``True`` means 10 (the paper), ``False`` / 0 none.
    gradual : bool or sequence
        Super-resolve through intermediate scales, each with the ideal cubic kernel, before
        the final jump with the operator's kernel; every intermediate output enlarged alike on
        both axes joins the fathers of the later stages (at several sizes). ``True``: at
        factor 2 the official code's ``X2_GRADUAL_IDEAL_CONF`` stages 1x1.5, 1.5x1, 1.5x1.5,
        1.5x2, 2x1.5, then 2x2 (about 6x the time); at factors 4, 6, 8, ...: the same stages
        up to 2x2, then the final jump from the 2x2 output (see ``rebase``; Set5 x4: 31.3 dB
        against 30.6 with a single 2x2 stage and no rebase). A sequence gives the
        intermediate scales, each a float (both axes) or a pair ``(s_h, s_w)`` between 1 and
        the factor, e.g. ``[2, 3]`` at x4.
    warm_start : bool
        With ``gradual``, each stage goes on training the network of the previous one, as the
        official code does (``init_net_for_each_sf=False``, the default); ``False`` starts
        each stage afresh.
    revive : bool
        Watch for a dead network: when the residual it predicts on the test pair has become
        constant (its spatial std below 1e-3 of the interpolation error's: every ReLU of a layer
        died), re-initialise it and its optimiser and go on training, with a warning. The L1
        loss makes a zero residual an easy way out on images with large flat areas: on Set14
        ppt3 at x4 the network died at the start of the second gradual stage and every later
        stage returned interpolation plus back-projection.
    rebase : bool or sequence of float or None
        With ``gradual``, the isotropic intermediate output at these scales (``True``: every
        one), back-projected to ``y``, becomes the input of the later stages, as the official
        ``base_change_sfs`` ("recommended for high scale factors"). The later stages then use
        the ideal cubic kernel at the relative scale, and the result is back-projected to
        ``y`` with the operator. ``None`` (default): at 2 when ``gradual=True``, the factor is
        above 2 and the operator's kernel is the bicubic one (x4 = x2 on ``y``, then x2 on its
        output); never for other kernels, whose final jump must use the operator's kernel.
    affine : float
        Probability of an affine training father (any rotation angle, shear, anisotropic
        stretch; see :class:`~pnp_internal.solvers.zssr_data.PairSampler`), as the official
        code (0.5); otherwise a crop with one of the 8 flips/rotations. Measured on Set5 x2
        (one jump): 0.5 gives 37.19 dB, 0 gives 37.05 (every image gains, 0.04-0.21 dB).
    noise_std : float
        Std of Gaussian noise added to the sons (for noisy LR images, on the [0, 1] scale).
    width, depth : int
        Network size (the paper: 64 channels, 8 layers).
    seed : int or None
        Seed of the initialisation and of the pair sampling.
    device : str or torch.device or None
        Where to train (default: ``y``'s device).
    progress : bool
        Show a tqdm bar.
    precision : {"auto", "fp32", "bf16"} or Precision
        Arithmetic of the network while training and predicting
        (:func:`pnp_internal.precision.resolve`): ``"auto"`` is bf16 autocast where the device
        computes bf16 natively, float32 elsewhere. ``Result.precision`` says which ran.

    Notes
    -----
    Training pairs are crops of the LR image ``y`` (the "fathers", also taken from versions of
    ``y`` scaled by ``n_scales`` factors in [0.5, 1]) and of their "sons" ``D(father)``, with
    ``D`` the operator's own kernel and decimation, interpolated back to the father's size; crops
    are drawn with probability proportional to the gradient magnitude and flipped/rotated at
    random; a fraction ``affine`` of the fathers is instead warped (any rotation angle, shear,
    anisotropic stretch) before its son is made. With ``gradual``, each intermediate stage is
    trained the same way with the ideal cubic kernel at its scale, its output is
    self-ensembled and back-projected, and isotropic outputs join the fathers. The CNN ``x = u + r_theta(u)`` (``u`` the cubic interpolation) is fitted with the L1
    loss and Adam. Learning-rate policy: every ``test_every`` iterations the MSE of
    ``net(up(D y))`` against ``y`` is recorded; a line is fitted to the errors of the last
    ``slope_window`` iterations and, when its slope is not clearly negative
    (``-slope_ratio * slope < std``, ``std`` the standard error of the slope), the learning rate
    is divided by 10 (at most once per ``min_iter`` iterations); training ends when it reaches
    ``lr_min``. The output is the median of the 8 transformed predictions (each back-projected)
    and is back-projected again. Training and the network's forward passes at inference run
    in the arithmetic of ``precision``; under bf16 autocast the network's input and its
    residual connection stay float32 (measured on Set5 baby and butterfly x2 on a CPU with
    AVX512-BF16: the same PSNR to 0.001 dB as float32 inference, 6-12 % less CPU time in
    all); back-projection is float32.

    History: ``"seconds"``, ``"residual"`` (training L1 loss), ``"lr"`` and, when ``x_true`` is
    given, ``"psnr"`` of the plain (no ensemble, no back-projection) prediction, evaluated every
    ``test_every`` iterations and carried forward in between. ``callback(state)`` receives a
    :class:`~pnp_internal.solvers.base.SolverState` after every training iteration (its ``x``
    is ``None``: the network is mid-training; ``residual`` is the training loss); returning
    ``True`` stops the training.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.operators import Downsampling
    >>> op = Downsampling(2, img_shape=(1, 64, 64), kernel="bicubic")
    >>> y = op.A(torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(0)))
    >>> res = ZSSR(max_iter=20, ensemble=False, seed=0).solve(y, op)
    >>> res.x.shape
    torch.Size([1, 1, 64, 64])
    """

    def __init__(self, *, max_iter=3000, min_iter=256, lr=1e-3, lr_min=1e-6, crop=128,
                 test_every=50, slope_window=256, slope_ratio=1.5, n_scales=6, ensemble=True,
                 back_projection=10, gradual=False, warm_start=True, revive=True, rebase=None,
                 affine=0.5, noise_std=0.0,
                 width=64, depth=8, seed=None, device=None, progress=False, precision="auto"):
        for name, val, lo in [("max_iter", max_iter, 1), ("min_iter", min_iter, 1),
                              ("crop", crop, 8), ("test_every", test_every, 1),
                              ("slope_window", slope_window, 1), ("n_scales", n_scales, 1),
                              ("width", width, 1), ("depth", depth, 2)]:
            if not isinstance(val, int) or isinstance(val, bool) or val < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {val!r}")
        if not 0 < lr_min <= lr:
            raise ValueError(f"need 0 < lr_min <= lr, got lr={lr!r}, lr_min={lr_min!r}")
        if noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std!r}")
        if isinstance(back_projection, bool):
            back_projection = 10 if back_projection else 0
        if not isinstance(back_projection, int) or back_projection < 0:
            raise ValueError(f"back_projection must be an int >= 0 or a bool, got "
                             f"{back_projection!r}")
        self.max_iter, self.min_iter, self.lr, self.lr_min = max_iter, min_iter, lr, lr_min
        self.crop, self.test_every, self.slope_window = crop, test_every, slope_window
        self.slope_ratio, self.n_scales, self.ensemble = slope_ratio, n_scales, ensemble
        self.back_projection, self.noise_std = back_projection, noise_std
        self.gradual = stage_scales(gradual)
        self.warm_start = bool(warm_start)
        self.revive = bool(revive)
        if rebase is None or isinstance(rebase, (bool, np.bool_)):
            self.rebase = rebase if rebase is None else bool(rebase)
        else:
            try:
                self.rebase = tuple(float(r) for r in rebase)
            except (TypeError, ValueError):
                raise ValueError(f"rebase must be a bool or a sequence of scales, got "
                                 f"{rebase!r}") from None
        if not 0 <= affine <= 1:
            raise ValueError(f"affine is a probability in [0, 1], got {affine!r}")
        self.affine = float(affine)
        self.width, self.depth, self.seed = width, depth, seed
        self.device, self.progress = device, progress
        self.precision = check_precision(precision)

    # ------------------------------------------------------------------ public
    def solve(self, y, operator, x0=None, x_true=None, callback=None) -> Result:
        """Super-resolve ``y`` (B, C, h, w) for the downsampling ``operator``.

        Returns a :class:`Result` whose ``x`` has the operator's image shape (``factor`` times
        the size of ``y``). Images of a batch are handled one after the other, each with its
        own network.
        """
        if x0 is not None:
            raise ValueError("ZSSR starts from the interpolation of y; pass x0=None.")
        if not isinstance(y, torch.Tensor) or y.dim() != 4:
            raise ValueError(f"y must be a (B, C, h, w) tensor, got "
                             f"{getattr(y, 'shape', type(y))}")
        img_shape = self._img_shape(y, operator)
        device = torch.device(self.device) if self.device is not None else y.device
        self._prec = resolve(self.precision, device)
        rs = Resampler(operator, img_shape)
        if x_true is not None and tuple(x_true.shape[1:]) != img_shape:
            raise ValueError(f"x_true must have shape (B, *{img_shape}), got "
                             f"{tuple(x_true.shape)}")
        gen = torch.Generator().manual_seed(
            self.seed if self.seed is not None else int(torch.randint(2**31, (1,))))
        outs, n_iter, conv, hist, msg = [], 0, True, {}, ""
        for b in range(y.shape[0]):
            ref = None if x_true is None else x_true[b:b + 1].to(device)
            x, res = self._one(y[b:b + 1].to(device).float(), rs, img_shape, ref, gen, callback)
            outs.append(x)
            n_iter, conv, msg = max(n_iter, res.n_iter), conv and res.converged, res.message
            hist = res.history if b == 0 else hist
        return Result(torch.cat(outs).to(y.device), n_iter, conv, hist, msg,
                      precision=self._prec.name)

    # ---------------------------------------------------------------- internals
    def _img_shape(self, y, operator):
        factor = getattr(operator, "factor", None)
        if not isinstance(factor, int) or factor < 1:
            raise ValueError(
                f"operator must be a downsampling (operators.Downsampling or "
                f"deepinv.physics.Downsampling) with an integer `factor`; got "
                f"{type(operator).__name__}.")
        _, c, h, w = y.shape
        if min(h, w) < max(MIN_LR_SIZE, 4 * factor):
            raise ValueError(
                f"the LR image y is {h}x{w}; ZSSR needs at least "
                f"{max(MIN_LR_SIZE, 4 * factor)} pixels per side at factor {factor} to make "
                f"training pairs. Use a larger image (or plain bicubic upscaling).")
        shape = getattr(operator, "img_shape", None) or getattr(operator, "imsize", None)
        shape = (c, h * factor, w * factor) if shape is None else tuple(shape)[-3:]
        with torch.no_grad():
            try:
                meas = tuple(operator.A(torch.zeros((1,) + shape)).shape)
            except Exception as err:  # the operator's own shape check
                raise ValueError(f"operator.A rejects an image of shape {shape}: {err}") from err
        if meas[1:] != (c, h, w):
            raise ValueError(
                f"factor {factor} on the operator's image shape {shape} gives LR images of "
                f"shape {meas[1:]}, but y has shape {(c, h, w)}; build the operator with "
                f"img_shape=({c}, {h * factor}, {w * factor}) or pass the y it produced.")
        return shape

    def _stages(self, factor):
        """Intermediate scales ``(s_h, s_w)`` of gradual SR before the final jump."""
        return plan_stages(self.gradual, factor)

    def _rebases(self, rs, scale):
        """Whether the output of the isotropic stage ``scale`` becomes the new input."""
        return rebases(self.gradual, self.rebase, rs, scale)

    def _one(self, y, rs, img_shape, x_true, gen, callback):
        """Train on one LR image (1, C, h, w) and return (x, Result of the training)."""
        c, h, w = y.shape[1:]
        fathers, net = [], None
        base, base_scale = y, 1.0  # with rebase: the latest isotropic output and its scale
        for sh, sw in self._stages(rs.factor):
            size = (math.ceil(h * sh - 1e-9), math.ceil(w * sw - 1e-9))
            stage = CubicResampler((sh / base_scale, sw / base_scale))
            net, _ = self._train(base, stage, (c,) + size, fathers, None, gen, None,
                                 net if self.warm_start else None)
            if sh != sw:  # an anisotropic stage only trains the network further
                continue
            out = self._infer(net, base, stage, size)
            if self._rebases(rs, sh):  # official base_change_sfs
                out = self._back_project(out, y, CubicResampler((sh, sw)))
                base, base_scale, fathers = out, sh, []
            else:  # as the official code: isotropic outputs become fathers
                fathers += shrunk(out, sh / base_scale, self.n_scales)
        if base is y:
            final = rs
        else:
            rel = rs.factor / base_scale
            final = CubicResampler((rel, rel))
        net, res = self._train(base, final, img_shape, fathers, x_true, gen, callback,
                               net if self.warm_start else None)
        x = self._infer(net, base, final, img_shape[-2:])
        return (x if base is y else self._back_project(x, y, rs)), res

    def _train(self, y, rs, img_shape, fathers, x_true, gen, callback, warm=None):
        c = y.shape[1]
        dev = y.device
        fmt, prec = self._prec.memory_format, self._prec
        net = ZSSRNet(c, self.width, self.depth, gen).to(dev).to(memory_format=fmt)
        if warm is not None:  # gradual SR: go on training the previous stage's network
            net.load_state_dict(warm.state_dict())
            net.train()
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, fused=True)
        sampler = PairSampler(y, rs, crop=self.crop, scales=father_scales(self.n_scales),
                              extra_fathers=fathers, noise_std=self.noise_std,
                              affine=self.affine, generator=gen)
        son_up = rs.up(rs.down(y), y.shape[-2:])
        interp_err = float((son_up - y).std(dim=(-2, -1)).max())
        up_y = rs.up(y, img_shape[-2:]) if x_true is not None else None
        hist = {"seconds": [], "residual": [], "lr": []}
        if x_true is not None:
            hist["psnr"] = []
        steps, errs, lr, last_change, psnr = [], [], self.lr, 0, float("nan")
        converged, message = False, f"reached max_iter={self.max_iter}"
        bar = None
        if self.progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=self.max_iter, desc="ZSSR", leave=False)
        t0 = time.perf_counter()
        it = revived = 0
        while it < self.max_iter:
            inp, tgt = sampler.sample()
            with prec.autocast(dev):
                out = net(inp.contiguous(memory_format=fmt))
            loss = (out.float() - tgt).abs().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            it += 1
            if not torch.isfinite(loss):
                warnings.warn("ZSSR: non-finite training loss, training stopped", stacklevel=3)
                message = "stopped on a non-finite loss"
                break
            if it % self.test_every == 0:
                with torch.no_grad(), prec.autocast(dev):
                    rec = net(son_up.contiguous(memory_format=fmt)).float()
                if self.revive and float((rec - son_up).std(dim=(-2, -1)).max()) < 1e-3 * interp_err:
                    # the ReLUs died and the residual is (nearly) constant: start afresh
                    revived += 1
                    net = ZSSRNet(c, self.width, self.depth, gen).to(dev).to(memory_format=fmt)
                    opt = torch.optim.Adam(net.parameters(), lr=self.lr, fused=True)
                    lr, last_change, steps, errs, warm = self.lr, it, [], [], None
                else:
                    steps.append(it)
                    errs.append(float((rec.clamp(0, 1) - y).square().mean()))
                if x_true is not None:
                    psnr = _psnr(self._predict(net, up_y), x_true)
            hist["seconds"].append(time.perf_counter() - t0)
            hist["residual"].append(loss.item())
            hist["lr"].append(lr)
            if x_true is not None:
                hist["psnr"].append(psnr)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{lr:.0e}")
            if callback is not None and callback(SolverState(
                    iteration=it, x=None, sigma=None, residual=hist["residual"][-1],
                    change=float("nan"), psnr=hist["psnr"][-1] if x_true is not None else None,
                    seconds=hist["seconds"][-1])):
                message, converged = "stopped by the callback", True
                break
            check = max(1, round(1.2 * self.test_every))
            if it % check == 0 and it - last_change > self.min_iter:
                n = max(3, self.slope_window // self.test_every)
                if len(errs) >= n and self._plateau(steps[-n:], errs[-n:]):
                    lr /= 10
                    last_change = it
                    if lr <= self.lr_min * (1 + 1e-6):
                        converged, message = True, f"learning rate reached lr_min after {it}"
                        break
                    for group in opt.param_groups:
                        group["lr"] = lr
        if bar is not None:
            bar.close()
        if revived:
            h, w = img_shape[-2:]
            warnings.warn(f"ZSSR: the network died (constant residual) and was re-initialised "
                          f"{revived} time(s) during the stage to {h}x{w}", stacklevel=3)
            message += f"; re-initialised {revived} time(s) after the network died"
        net.eval()
        return net, Result(None, it, converged, hist, message)

    def _plateau(self, steps, errs):
        """The paper's rule: a linear fit whose slope is small against its standard error."""
        (slope, _), cov = np.polyfit(np.asarray(steps, float), np.asarray(errs, float), 1,
                                     cov=True)
        return -self.slope_ratio * slope < np.sqrt(max(cov[0, 0], 0.0))

    @torch.no_grad()
    def _predict(self, net, u):
        with self._prec.autocast(u.device):
            return net(u.contiguous(memory_format=self._prec.memory_format)).float()

    @torch.no_grad()
    def _infer(self, net, y, rs, size):
        """Self-ensemble (median of 8 flips/rotations) and back-projection, in float32."""
        u = rs.up(y, size)
        ks = [0] if not self.ensemble else range(8) if isotropic(rs) else [0, 2, 4, 6]
        outs = []
        for k in ks:
            x = dihedral(self._predict(net, dihedral(u, k)), k, inverse=True)
            outs.append(self._back_project(x, y, rs))
        x = torch.stack(outs).sort(0).values
        x = x[(len(outs) - 1) // 2:len(outs) // 2 + 1].mean(0)  # numpy's median
        return self._back_project(x, y, rs)

    def _back_project(self, x, y, rs):
        return back_project(x, y, rs, self.back_projection)
