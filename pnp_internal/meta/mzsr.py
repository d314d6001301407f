"""MZSR: zero-shot super-resolution from a meta-learned start, in a few gradient steps.

References
----------
.. [1] J. W. Soh, S. Cho, N. I. Cho, "Meta-Transfer Learning for Zero-Shot Super-Resolution",
   CVPR 2020. https://arxiv.org/abs/2002.12213
.. [2] A. Shocher, N. Cohen, M. Irani, "Zero-Shot" Super-Resolution using Deep Internal
   Learning, CVPR 2018.
"""

from __future__ import annotations

import functools
import json
import math
import time
import warnings
from pathlib import Path

import torch

from ..precision import check_precision, resolve
from ..solvers.result import Result
from ..solvers.zssr import MIN_LR_SIZE, ZSSRNet
from ..solvers.zssr_data import Resampler, back_project, dihedral

__all__ = ["MZSR", "WEIGHTS", "BICUBIC_WEIGHTS", "shipped_start", "takes_bicubic_start", "FORMAT",
           "load_start", "save_start", "start_input", "network_input"]

#: Value of the ``format`` metadata key of the project's meta-learned start files.
FORMAT = "pnp_internal.mzsr/1"
#: The shipped starts, one per SR factor (``pnp-internal train-meta`` writes them).
WEIGHTS = {f: Path(__file__).resolve().parent / "weights" / f"mzsr-x{f}.safetensors"
           for f in (2, 4)}
#: Starts trained on the bicubic kernel alone, used when the operator's kernel is bicubic (as
#: MZSR ships one model for bicubic and one for direct subsampling).
BICUBIC_WEIGHTS = {2: Path(__file__).resolve().parent / "weights" / "mzsr-x2-bicubic.safetensors"}


def takes_bicubic_start(factor, kernel_name: str | None) -> bool:
    """Whether :func:`shipped_start` gives the bicubic start for this factor and kernel name
    (its test-time recipe is ``recipes.MZSR_BICUBIC``)."""
    return kernel_name == "bicubic" and factor in BICUBIC_WEIGHTS


def shipped_start(factor: int, kernel_name: str | None = None) -> Path:
    """The shipped start for an SR ``factor`` and the operator's kernel name."""
    if takes_bicubic_start(factor, kernel_name):
        return BICUBIC_WEIGHTS[factor]
    if factor not in WEIGHTS:
        raise ValueError(f"MZSR ships a start for factors {sorted(WEIGHTS)} only, not "
                         f"x{factor}; use zssr (any factor) or train one with "
                         f"`pnp-internal train-meta --factor {factor}`")
    return WEIGHTS[factor]


def network_input(lr: torch.Tensor, resampler, size, back_projection: int = 0, *,
                  momentum: bool = False) -> torch.Tensor:
    """The network's input for the LR image ``lr``: its cubic interpolation to ``size``,
    back-projected onto ``lr`` ``back_projection`` times (0: the interpolation, as MZSR), with
    FISTA's momentum if ``momentum`` (:func:`~pnp_internal.solvers.zssr_data.back_project`)."""
    u = resampler.up(lr, size)
    return back_project(u, lr, resampler, back_projection, momentum=momentum) \
        if back_projection else u


def save_start(net: ZSSRNet, path, *, factor: int, input_back_projection: int = 0,
               input_momentum: bool = False, metadata: dict | None = None) -> None:
    """Write a start (float32 safetensors, string metadata) atomically; the architecture
    records the factor and the network's input (:func:`network_input`)."""
    from ..io import write_weights

    body = [m for m in net.body if isinstance(m, torch.nn.Conv2d)]
    arch = {"channels": body[0].in_channels, "width": body[0].out_channels,
            "depth": len(body), "factor": int(factor),
            "input_back_projection": int(input_back_projection)}
    if input_momentum:
        arch["input_momentum"] = True
    write_weights(net, path, fmt=FORMAT, architecture=arch, metadata=metadata,
                  dtype=torch.float32)


@functools.lru_cache(maxsize=4)
def _read(path: str, mtime_ns: int):  # keyed on the file's mtime: a rewritten start is re-read
    from safetensors import safe_open

    with safe_open(path, "pt") as f:
        meta = f.metadata() or {}
        state = {k: f.get_tensor(k) for k in f.keys()}
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a pnp_internal MZSR start (format "
                         f"{meta.get('format')!r}, expected {FORMAT!r})")
    return state, meta


def start_input(meta: dict) -> tuple[int, bool]:
    """The input a start file's network was trained on, from its metadata: back-projection
    steps and momentum (:func:`network_input`)."""
    arch = json.loads(meta["architecture"])
    return int(arch.get("input_back_projection", 0)), bool(arch.get("input_momentum", False))


def load_start(path) -> tuple[ZSSRNet, dict]:
    """A fresh network holding the start at ``path`` and the file's metadata."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no MZSR start at {path}; train one with `pnp-internal "
                                "train-meta` or pass another path")
    state, meta = _read(str(path.resolve()), path.stat().st_mtime_ns)
    arch = json.loads(meta["architecture"])
    net = ZSSRNet(arch["channels"], arch["width"], arch["depth"])
    net.load_state_dict(state)
    return net, meta


class MZSR:
    r"""Meta-learned zero-shot SR [1]_: a few SGD steps from a meta-trained start.

    The start is ZSSR's network [2]_ (8 conv layers, residual over its input) meta-trained so
    that a few steps on the image's own pair adapt it to the degradation (``pnp-internal
    train-meta``). At test time the only pair is the LR image ``y`` as the target and its son
    ``D(y)`` (the operator's kernel and decimation), interpolated back to ``y``'s size, as the
    input; the adapted network is then applied to the interpolated ``y``. A start trained on
    back-projected inputs (its file says so) gets them here too (:func:`network_input`).

    Parameters
    ----------
    steps : int
        Gradient steps on the image's pair (0: the start itself).
    lrs : sequence of float
        Learning rate of each plain SGD step, the last repeated (MZSR's direct-subsampling
        schedule: 2e-2, then 1e-2 for three steps, then 5e-3).
    ensemble : bool
        Median over the 8 flips/rotations of the interpolated input (ZSSR's self-ensemble).
    back_projection : int
        Iterative back-projection steps onto ``y`` at the end (0: none).
    noise_std : float
        Std of Gaussian noise added to the son (noisy LR images, [0, 1] scale).
    weights : path-like, optional
        A start written by :func:`save_start`; default the shipped one for the operator's factor
        and kernel (:func:`shipped_start`).
    net : ZSSRNet, optional
        A start given as a network (copied, not changed), instead of ``weights``.
    input_back_projection : int
        With ``net``: the back-projection steps of its input (:func:`network_input`); a start
        file records its own.
    input_momentum : bool
        With ``net``: whether those steps use momentum (:func:`network_input`); a start file
        records it.
    seed : int or None
        Seed of the son's noise.
    device : str or torch.device, optional
        Where to adapt (default: ``y``'s device).
    precision : {"auto", "fp32", "bf16"} or Precision
        Arithmetic of the network (:func:`pnp_internal.precision.resolve`); back-projection is
        float32.
    progress : bool
        Unused (the run is a few steps); accepted as every solver does.

    Notes
    -----
    Colour networks take gray images as three equal channels and return their mean.
    History: ``"seconds"`` and ``"residual"`` (the L1 loss on the image's pair) per step.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.operators import Downsampling
    >>> from pnp_internal.solvers import ZSSRNet
    >>> op = Downsampling(2, img_shape=(3, 64, 64), kernel="bicubic")
    >>> y = op.A(torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)))
    >>> MZSR(steps=2, net=ZSSRNet(3)).solve(y, op).x.shape
    torch.Size([1, 3, 64, 64])
    """

    def __init__(self, *, steps=10, lrs=(2e-2, 1e-2, 1e-2, 1e-2, 5e-3), ensemble=False,
                 back_projection=0, noise_std=0.0, weights=None, net=None,
                 input_back_projection=0, input_momentum=False, seed=None, device=None,
                 precision="auto", progress=False):
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
            raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
        lrs = tuple(float(v) for v in lrs)
        if not lrs or min(lrs) <= 0:
            raise ValueError(f"lrs must hold at least one positive learning rate, got {lrs!r}")
        if isinstance(back_projection, bool) or not isinstance(back_projection, int) \
                or back_projection < 0:
            raise ValueError(f"back_projection must be an integer >= 0, got "
                             f"{back_projection!r}")
        if noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std!r}")
        if net is not None and weights is not None:
            raise ValueError("give the start as weights= (a file) or net= (a network), not both")
        self.steps, self.lrs, self.ensemble = steps, lrs, bool(ensemble)
        self.back_projection, self.noise_std = back_projection, float(noise_std)
        self.weights, self.net, self.seed = weights, net, seed
        self.input_back_projection = int(input_back_projection)
        self.input_momentum = bool(input_momentum)
        self.device, self.progress = device, progress
        self.precision = check_precision(precision)

    def _start(self, factor: int, kernel_name: str | None) -> tuple[ZSSRNet, tuple[int, bool]]:
        """A fresh copy of the start (the shipped one for ``factor`` and the operator's
        ``kernel_name`` by default) and its input's back-projection (steps, momentum)."""
        if self.net is not None:
            net = ZSSRNet(self.net.body[0].in_channels, self.net.body[0].out_channels,
                          sum(isinstance(m, torch.nn.Conv2d) for m in self.net.body))
            net.load_state_dict(self.net.state_dict())
            return net, (self.input_back_projection, self.input_momentum)
        path = shipped_start(factor, kernel_name) if self.weights is None else self.weights
        net, meta = load_start(path)
        arch = json.loads(meta["architecture"])
        if arch.get("factor") != factor:
            raise ValueError(f"the start {path} was meta-trained for x{arch.get('factor')}, the "
                             f"operator is x{factor}; pass a start trained for x{factor}")
        return net, start_input(meta)

    def solve(self, y, operator, x0=None, x_true=None, callback=None) -> Result:
        """Super-resolve ``y`` (B, C, h, w) for the downsampling ``operator``; each image of
        a batch adapts its own copy of the start."""
        if x0 is not None:
            raise ValueError("MZSR starts from the interpolation of y; pass x0=None.")
        if not isinstance(y, torch.Tensor) or y.dim() != 4:
            raise ValueError(f"y must be a (B, C, h, w) tensor, got "
                             f"{getattr(y, 'shape', type(y))}")
        factor = getattr(operator, "factor", None)
        if not isinstance(factor, int) or factor < 2:
            raise ValueError(f"operator must be a downsampling (operators.Downsampling or "
                             f"deepinv.physics.Downsampling) with an integer factor >= 2; got "
                             f"{type(operator).__name__}")
        b, c, h, w = y.shape
        if min(h, w) < max(MIN_LR_SIZE, 4 * factor):
            raise ValueError(f"the LR image y is {h}x{w}; MZSR needs at least "
                             f"{max(MIN_LR_SIZE, 4 * factor)} pixels per side at factor "
                             f"{factor} to make its training pair")
        shape = getattr(operator, "img_shape", None)
        shape = (c, h * factor, w * factor) if shape is None else tuple(shape)[-3:]
        device = torch.device(self.device) if self.device is not None else y.device
        prec = resolve(self.precision, device)
        start, input_bp = self._start(factor, getattr(operator, "kernel_name", None))
        if start.body[0].in_channels not in (c, 3):
            raise ValueError(f"the start takes {start.body[0].in_channels} channels, y has {c}")
        rs = Resampler(operator, shape)
        gen = torch.Generator().manual_seed(self.seed if self.seed is not None else 0)
        outs, hist, notes = [], {}, []
        for i in range(b):
            x, hist_i, note = self._one(start, input_bp, y[i:i + 1].to(device).float(), rs,
                                        shape, prec, gen)
            outs.append(x)
            hist = hist_i if i == 0 else hist
            notes += [f"image {i}: {note}"] if note else []
        msg = "; ".join([f"adapted by {self.steps} step(s) from the meta-learned start", *notes])
        return Result(torch.cat(outs).to(y.device), len(hist["residual"]), not notes, hist,
                      msg, precision=prec.name)

    def _one(self, start, input_bp, y, rs, shape, prec, gen):
        c = y.shape[1]
        gray = c == 1 and start.body[0].in_channels == 3
        y3 = y.expand(-1, 3, -1, -1) if gray else y
        fmt = prec.memory_format
        net = start.to(y.device).to(memory_format=fmt).train()
        son = rs.down(y3)
        if self.noise_std > 0:
            son = son + torch.randn(son.shape, generator=gen).to(son) * self.noise_std
        inp = network_input(son, rs, y.shape[-2:], input_bp[0], momentum=input_bp[1])
        inp = inp.contiguous(memory_format=fmt)
        opt = torch.optim.SGD(net.parameters(), lr=self.lrs[0])
        hist = {"seconds": [], "residual": []}
        t0 = time.perf_counter()
        best, best_loss, note = None, float("inf"), ""
        for k in range(self.steps):
            for group in opt.param_groups:
                group["lr"] = self.lrs[min(k, len(self.lrs) - 1)]
            with prec.autocast(y.device):
                out = net(inp)
            loss = (out.float() - y3).abs().mean()
            value = float(loss.detach())
            if not math.isfinite(value):  # diverged: keep the weights of the lowest loss
                if best is not None:
                    net.load_state_dict(best)
                note = (f"the loss became non-finite at step {k + 1}; kept the weights of the "
                        f"lowest loss ({best_loss:.4g})")
                warnings.warn(f"MZSR: {note}; lower lrs", stacklevel=3)
                break
            if value < best_loss:
                best_loss = value
                best = {n: v.detach().clone() for n, v in net.state_dict().items()}
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            hist["seconds"].append(time.perf_counter() - t0)
            hist["residual"].append(value)
        net.eval()
        with torch.no_grad():
            u = network_input(y3, rs, shape[-2:], input_bp[0], momentum=input_bp[1])
            ks = range(8) if self.ensemble else [0]
            preds = []
            for k in ks:
                with prec.autocast(y.device):
                    p = net(dihedral(u, k).contiguous(memory_format=fmt)).float()
                preds.append(dihedral(p, k, inverse=True).clamp(0, 1))
            x = torch.stack(preds).sort(0).values
            x = x[(len(preds) - 1) // 2:len(preds) // 2 + 1].mean(0)  # numpy's median
            x = back_project(x, y3, rs, self.back_projection)
        return (x.mean(1, keepdim=True) if gray else x), hist, note
