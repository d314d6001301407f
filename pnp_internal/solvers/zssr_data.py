"""Training pairs for ZSSR, made from the low-resolution image alone.

Three pieces, all working at any image size:

* :class:`Resampler` - the operator's own downscaler (its kernel and decimation, read from the
  operator by probing it with impulses, so a bicubic, Gaussian or user kernel all work) and the
  matching cubic upscaler (aligned with the operator's sampling grid).
* :class:`PairSampler` - "HR father" crops of the LR image (and of smaller versions of it, scale
  augmentation), their "LR sons" made by the operator's kernel and interpolated back to the
  father's size, crops drawn with probability proportional to the gradient magnitude, and the 8
  flips/rotations.

References
----------
.. [1] A. Shocher, N. Cohen, M. Irani, "Zero-Shot" Super-Resolution using Deep Internal
   Learning, CVPR 2018.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_PADDINGS = {"circular": "circular", "reflect": "reflect", "replicate": "replicate",
             "constant": "constant", "zeros": "constant"}


def _cubic(t: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    """Keys' cubic convolution kernel (``a = -0.5``, as MATLAB's ``imresize``)."""
    t = t.abs()
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return torch.where(t <= 1, near, torch.where(t < 2, far, torch.zeros_like(t)))


def _symmetric_matrix(taps: torch.Tensor, w: torch.Tensor, n_in: int) -> torch.Tensor:
    """Rows of weights ``w`` on input positions ``taps`` (n_out, k) as a normalised dense
    matrix, positions outside ``[0, n_in)`` reflected (symmetric border extension)."""
    idx = taps.long() % (2 * n_in)
    idx = torch.where(idx >= n_in, 2 * n_in - 1 - idx, idx)
    rows = torch.arange(taps.shape[0])[:, None].expand_as(idx)
    m = torch.zeros(taps.shape[0], n_in, dtype=torch.float64)
    m.index_put_((rows.reshape(-1), idx.reshape(-1)), w.reshape(-1), accumulate=True)
    return m / m.sum(1, keepdim=True)


def interp_matrix(n_in: int, n_out: int, factor: float, offset: float = None) -> torch.Tensor:
    """Dense 1-D cubic interpolation matrix ``(n_out, n_in)``, float64.

    Low-resolution sample ``k`` sits at high-resolution coordinate ``factor * k + offset``
    (``offset = (factor - 1) / 2`` is the usual pixel-centre convention); the borders are
    extended symmetrically, as MATLAB's ``imresize`` does.
    """
    if offset is None:
        offset = (factor - 1) / 2
    u = (torch.arange(n_out, dtype=torch.float64) - offset) / factor
    taps = torch.floor(u)[:, None] - 1 + torch.arange(4, dtype=torch.float64)[None]
    w = _cubic(u[:, None] - taps)
    return _symmetric_matrix(taps, w, n_in)


def resize(x: torch.Tensor, size: tuple, *, factor: float = None, offset: float = None):
    """Cubic resize of ``x`` (B, C, H, W) to ``size`` (H', W') with separable matrices."""
    h, w = x.shape[-2:]
    fh = size[0] / h if factor is None else factor
    fw = size[1] / w if factor is None else factor
    mh = interp_matrix(h, size[0], fh, offset).to(x)
    mw = interp_matrix(w, size[1], fw, offset).to(x)
    return torch.einsum("bchw,Hh,Ww->bcHW", x, mh, mw)


def resize_matrix(n_in: int, n_out: int, scale: float) -> torch.Tensor:
    """MATLAB ``imresize`` cubic weights ``(n_out, n_in)`` for a resize by ``scale``, float64.

    Output pixel ``i`` sits at input coordinate ``(i + 0.5) / scale - 0.5``; for ``scale < 1``
    the kernel is stretched by ``1 / scale`` (antialiasing). Borders are extended
    symmetrically. Row ``i`` depends on ``i`` and ``scale`` only, not on ``n_out``.
    """
    stretch = min(scale, 1.0)
    u = (torch.arange(n_out, dtype=torch.float64) + 0.5) / scale - 0.5
    n_taps = math.ceil(4 / stretch) + 2
    taps = torch.floor(u - 2 / stretch)[:, None] + torch.arange(n_taps, dtype=torch.float64)
    w = stretch * _cubic(stretch * (u[:, None] - taps))
    return _symmetric_matrix(taps, w, n_in)


class CubicResampler:
    """Ideal bicubic resizing by a scale ``(s_h, s_w)``, fractional and anisotropic allowed.

    The downscaler and upscaler of gradual SR's intermediate stages (e.g. 1 x 1.5), with the
    same interface as :class:`Resampler`: ``down`` shrinks by the scale (antialiased cubic, as
    MATLAB's ``imresize``), ``up`` enlarges to a given size on the same grid.
    """

    def __init__(self, scale: tuple):
        self.scale = (float(scale[0]), float(scale[1]))
        if min(self.scale) < 1:
            raise ValueError(f"scale must be >= 1 on both axes, got {scale!r}")
        self.factor = max(self.scale)

    def _apply(self, x, size, sh, sw):
        mh = resize_matrix(x.shape[-2], size[0], sh).to(x)
        mw = resize_matrix(x.shape[-1], size[1], sw).to(x)
        return torch.einsum("bchw,Hh,Ww->bcHW", x, mh, mw)

    def down(self, x: torch.Tensor) -> torch.Tensor:
        """Shrink ``x`` (B, C, H, W) by the scale (output size rounded up)."""
        h, w = x.shape[-2:]
        size = (math.ceil(h / self.scale[0] - 1e-9), math.ceil(w / self.scale[1] - 1e-9))
        return self._apply(x, size, 1 / self.scale[0], 1 / self.scale[1])

    def up(self, y: torch.Tensor, size: tuple) -> torch.Tensor:
        """Enlarge ``y`` by the scale to ``size`` (H', W')."""
        return self._apply(y, size, *self.scale)


class Resampler:
    """The downscaler of a kernel-and-decimation operator, usable at any image size.

    The operator's footprint ``g`` (``y[k] = sum_d g[d] x[f k + d]``) is read by applying
    ``operator.A`` to ``f * f`` impulses; ``down`` then re-applies it (same padding) to images
    of any size, and ``up`` is the cubic interpolation on the same sampling grid (LR pixel ``k``
    at HR coordinate ``f k + c``, ``c`` the footprint's centre of mass).

    Parameters
    ----------
    operator : deepinv.physics.LinearPhysics
        A downsampling operator with an integer attribute ``factor``.
    img_shape : tuple of int
        The operator's HR image shape ``(C, H, W)``.
    """

    def __init__(self, operator, img_shape: tuple):
        factor = getattr(operator, "factor", None)
        if isinstance(factor, torch.Tensor) and factor.numel() == 1:
            factor = factor.item()
        if isinstance(factor, float) and factor.is_integer():
            factor = int(factor)
        if not isinstance(factor, int) or isinstance(factor, bool) or factor < 1:
            raise ValueError(
                f"operator must be a downsampling (operators.Downsampling or "
                f"deepinv.physics.Downsampling) with an integer `factor`; got "
                f"{type(operator).__name__} with factor={factor!r}. Build one with "
                f"operators.Downsampling(factor, img_shape=...).")
        padding = str(getattr(operator, "padding", "circular"))
        if padding not in _PADDINGS:
            raise ValueError(f"operator padding must be one of {sorted(_PADDINGS)}, got "
                             f"{padding!r}; rebuild the operator with padding='circular'.")
        self.factor, self.padding = factor, _PADDINGS[padding]
        self.kernel, self.pad, self.offset = self._probe(operator, img_shape)

    def _probe(self, operator, img_shape):
        c, h, w = img_shape
        f = self.factor
        p0, q0 = f * (h // f // 2), f * (w // f // 2)
        delta = torch.zeros(f * f, c, h, w)
        phases = [(r, s) for r in range(f) for s in range(f)]
        for i, (r, s) in enumerate(phases):
            delta[i, :, p0 + r, q0 + s] = 1.0
        dev = _device_of(operator)
        with torch.no_grad():
            resp = operator.A(delta.to(dev)).detach().cpu().double()[:, 0]
        radius_h, radius_w = min(p0 - 1, h - p0 - f), min(q0 - 1, w - q0 - f)
        rh, rw = max(1, min(radius_h, 16 * f + 16)), max(1, min(radius_w, 16 * f + 16))
        g = torch.zeros(2 * rh + 1, 2 * rw + 1, dtype=torch.float64)
        kh, kw = resp.shape[-2:]
        # y[k] = g[p0 + r - f k]: scatter every response sample to its offset d
        for i, (r, s) in enumerate(phases):
            dh = p0 + r - f * torch.arange(kh)
            dw = q0 + s - f * torch.arange(kw)
            mh, mw = dh.abs() <= rh, dw.abs() <= rw
            g[(dh[mh] + rh)[:, None], (dw[mw] + rw)[None]] = resp[i][mh][:, mw]
        tiny = 1e-7 * g.abs().max()
        rows = torch.nonzero(g.abs().amax(1) > tiny).flatten()
        cols = torch.nonzero(g.abs().amax(0) > tiny).flatten()
        if g.abs().max() == 0 or len(rows) == 0:
            raise ValueError("operator.A maps impulses to zero: it is not a downsampling with "
                             "a kernel; use operators.Downsampling.")
        g = g[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        top, left = int(rh - rows[0]), int(rw - cols[0])
        pad = (left, g.shape[1] - 1 - left, top, g.shape[0] - 1 - top)
        total = g.sum()
        off_h = float((g.sum(1) * (torch.arange(g.shape[0]) - top)).sum() / total)
        off_w = float((g.sum(0) * (torch.arange(g.shape[1]) - left)).sum() / total)
        self._check(operator, img_shape, g.float(), pad)
        return g.float(), pad, (round(off_h, 6), round(off_w, 6))

    def _check(self, operator, img_shape, g, pad):
        x = torch.rand((1,) + tuple(img_shape), generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            ref = operator.A(x.to(_device_of(operator))).detach().cpu()
        self.kernel, self.pad = g, pad
        got = self.down(x)
        if got.shape[:2] == ref.shape[:2] and all(
                0 <= a - b <= 1 for a, b in zip(got.shape[-2:], ref.shape[-2:])):
            got = got[..., :ref.shape[-2], :ref.shape[-1]]  # decimation offset: one sample less
        if got.shape != ref.shape or (got - ref).abs().max() > 1e-4 * max(1.0, ref.abs().max()):
            raise ValueError(
                f"operator {type(operator).__name__} does not act as a shift-invariant kernel "
                f"followed by decimation by {self.factor}; ZSSR needs such a downsampling "
                f"operator (operators.Downsampling or deepinv.physics.Downsampling).")

    def down(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the operator's kernel and decimation to ``x`` of any size (B, C, H, W)."""
        b, c, h, w = x.shape
        k = self.kernel.to(x)
        xp = x.reshape(b * c, 1, h, w)
        if any(p >= s for p, s in zip(self.pad, (w, w, h, h))):
            mode = "replicate"  # too small for circular/reflect padding: extend the border
        else:
            mode = self.padding
        xp = F.pad(xp, self.pad, mode=mode)
        y = F.conv2d(xp, k[None, None], stride=self.factor)
        return y.reshape(b, c, *y.shape[-2:])

    def up(self, y: torch.Tensor, size: tuple, factor: int = None) -> torch.Tensor:
        """Cubic upscaling of ``y`` to ``size`` on the operator's sampling grid."""
        f = self.factor if factor is None else factor
        mh = interp_matrix(y.shape[-2], size[0], f, self.offset[0] * f / self.factor).to(y)
        mw = interp_matrix(y.shape[-1], size[1], f, self.offset[1] * f / self.factor).to(y)
        return torch.einsum("bchw,Hh,Ww->bcHW", y, mh, mw)


def _device_of(module) -> torch.device:
    """Device of an operator's buffers (CPU when it has none)."""
    if isinstance(module, torch.nn.Module):
        for t in module.buffers():
            return t.device
    return torch.device("cpu")


def back_project(x: torch.Tensor, y: torch.Tensor, resampler, steps: int, *,
                 momentum: bool = False) -> torch.Tensor:
    """``steps`` iterative back-projections ``x += U(y - D x)`` of ``x`` onto the LR image
    ``y`` (``D``, ``U`` the resampler's kernel-and-decimation and cubic upscaling), clipped
    to [0, 1] (Irani & Peleg 1991, as ZSSR's and MZSR's post-processing).

    ``momentum=True`` extrapolates each step from the last two iterates with FISTA's weight
    ``k / (k + 3)`` (Beck & Teboulle 2009): on a wide kernel (Gaussian of std 2 at x2) 50
    such steps reach what 300 plain ones do."""
    x = x.clamp(0, 1)
    v = x
    for k in range(steps):
        low = resampler.down(v)[..., :y.shape[-2], :y.shape[-1]]
        new = (v + resampler.up(y - low, v.shape[-2:])).clamp(0, 1)
        v = new + (k / (k + 3)) * (new - x) if momentum else new
        x = new
    return x


def dihedral(x: torch.Tensor, k: int, inverse: bool = False) -> torch.Tensor:
    """The ``k``-th (0..7) of the 8 flips/rotations of ``x`` (or its inverse)."""
    if not inverse:
        x = x.flip(-1) if k >= 4 else x
        return torch.rot90(x, k % 4, dims=(-2, -1))
    x = torch.rot90(x, -(k % 4), dims=(-2, -1))
    return x.flip(-1) if k >= 4 else x


class PairSampler:
    """Random (interpolated son, father) crop pairs from one LR image.

    Parameters
    ----------
    y : torch.Tensor
        The LR image ``(1, C, h, w)``.
    resampler : Resampler
        Gives the downscaler (sons) and the upscaler (network input).
    crop : int
        Side of the father crops (smaller fathers are used whole).
    scales : sequence of float
        Sizes of the fathers relative to ``y`` (scale augmentation), e.g. ``1.0 ... 0.5``.
    extra_fathers : list of torch.Tensor
        Further fathers (e.g. an intermediate output of gradual SR).
    noise_std : float
        Std of Gaussian noise added to the sons (for noisy LR inputs).
    affine : float
        Probability of an affine father instead of a plain crop: rotated by any angle,
        sheared (std 0.1) and stretched anisotropically (scale difference std 0.25), resampled
        with cubic interpolation (reflected borders); its son is made from the warped crop.
        The official code draws such fathers half of the time.
    generator : torch.Generator
        Source of all randomness.
    """

    def __init__(self, y, resampler, *, crop, scales, extra_fathers=(), noise_std=0.0,
                 affine=0.0, generator):
        self.rs, self.crop, self.noise_std, self.gen = resampler, crop, noise_std, generator
        self.affine = float(affine)
        h, w = y.shape[-2:]
        fathers = []
        for s in scales:
            size = (max(2, round(h * s)), max(2, round(w * s)))
            fathers.append(y if size == (h, w) else
                           F.interpolate(y, size=size, mode="bicubic", antialias=True,
                                         align_corners=False).clamp(0, 1))
        fathers += list(extra_fathers)
        self.levels = []
        for fa in fathers:
            son = resampler.down(fa)
            gray = fa.mean(1, keepdim=True)
            gx = F.pad(gray.diff(dim=-1), (0, 1, 0, 0), mode="replicate")
            gy = F.pad(gray.diff(dim=-2), (0, 0, 0, 1), mode="replicate")
            grad = (gx.square() + gy.square()).sqrt()[0, 0].cpu()
            self.levels.append((fa, son, resampler.up(son, fa.shape[-2:]), grad))

    def sample(self):
        """One augmented pair ``(input, target)``, each ``(1, C, c, c)``."""
        g = self.gen
        father, son, interp, grad = self.levels[
            int(torch.randint(len(self.levels), (1,), generator=g))]
        h, w = father.shape[-2:]
        if self.affine > 0 and float(torch.rand((), generator=g)) < self.affine:
            return self._affine(father, grad)
        ch, cw = min(self.crop, h), min(self.crop, w)
        # crop centre drawn with probability ~ gradient magnitude (1% of the mean as a floor)
        valid = grad[ch // 2:h - (ch - ch // 2) + 1, cw // 2:w - (cw - cw // 2) + 1]
        prob = (valid + 0.01 * valid.mean() + 1e-12).flatten()
        idx = int(torch.multinomial(prob, 1, generator=g))
        top, left = divmod(idx, valid.shape[1])
        if self.noise_std > 0:
            noise = torch.randn(son.shape, generator=g) * self.noise_std
            interp = interp + self.rs.up(noise.to(son), father.shape[-2:])
        inp = interp[..., top:top + ch, left:left + cw]
        tgt = father[..., top:top + ch, left:left + cw]
        k = int(torch.randint(8, (1,), generator=g))
        scale = getattr(self.rs, "scale", None)
        if scale is not None and scale[0] != scale[1]:
            k = 2 * (k // 2)  # anisotropic scale: keep the axes (no 90-degree turns)
        return dihedral(inp, k), dihedral(tgt, k)


    def _affine(self, father, grad):
        """A father warped by a random rotation, shear and anisotropic scale, and its son."""
        g = self.gen
        h, w = father.shape[-2:]
        c = min(self.crop, h, w)
        # centre drawn with probability ~ gradient magnitude, anywhere in the image
        prob = (grad + 0.01 * grad.mean() + 1e-12).flatten()
        cy, cx = divmod(int(torch.multinomial(prob, 1, generator=g)), w)
        theta = float(torch.rand((), generator=g)) * 2 * math.pi
        diff = float(torch.randn((), generator=g)) * 0.25
        shx, shy = (float(v) for v in torch.randn(2, generator=g) * 0.1)
        sx, sy = 1 + diff / 2, 1 - diff / 2
        if float(torch.rand((), generator=g)) < 0.5:
            sx = -sx
        rot = torch.tensor([[math.cos(theta), -math.sin(theta)], [math.sin(theta),
                                                                  math.cos(theta)]])
        mat = rot @ torch.tensor([[1, shx], [shy, 1]]) @ torch.diag(torch.tensor([1 / sx,
                                                                                  1 / sy]))
        # output pixel offsets (pixels) -> source pixel offsets, then normalised coordinates
        r = torch.arange(c, dtype=torch.float32) - (c - 1) / 2
        oy, ox = torch.meshgrid(r, r, indexing="ij")
        src = torch.stack([ox.flatten(), oy.flatten()]).T @ mat.T.float()
        gx = (src[:, 0] + cx) * 2 / (w - 1) - 1
        gy = (src[:, 1] + cy) * 2 / (h - 1) - 1
        grid = torch.stack([gx, gy], -1).reshape(1, c, c, 2).to(father)
        tgt = F.grid_sample(father, grid, mode="bicubic", padding_mode="reflection",
                            align_corners=True).clamp(0, 1)
        son = self.rs.down(tgt)
        if self.noise_std > 0:
            son = son + torch.randn(son.shape, generator=g).to(son) * self.noise_std
        return self.rs.up(son, (c, c)), tgt


def father_scales(n: int, smallest: float = 0.5) -> list:
    """``n`` father sizes from 1 down to ``smallest`` (geometric)."""
    if n <= 1:
        return [1.0]
    return [math.exp(math.log(smallest) * i / (n - 1)) for i in range(n)]
