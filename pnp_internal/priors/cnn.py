"""The project's own noise-level-conditioned CNN denoiser ("DRUNet-lite").

A compact, bias-free residual U-Net (deepinv's :class:`deepinv.models.DRUNet` with 4 scales of
(32, 64, 128, 256) channels and 2 residual blocks per scale, 4.25 M parameters; the colour
one-call weights ``drunet-lite-color-fullres`` have 4 blocks per scale, 8.16 M). The noise level
enters as an extra constant input map, so one network serves every sigma a plug-and-play schedule
asks for. Weights are trained by :mod:`pnp_internal.training` and shipped as safetensors files in
``pnp_internal/priors/weights``.

References
----------
K. Zhang, Y. Li, W. Zuo, L. Zhang, L. Van Gool, R. Timofte, "Plug-and-Play Image Restoration with
Deep Denoiser Prior", IEEE TPAMI 44(10), 2022 (DRUNet).
K. Zhang, W. Zuo, L. Zhang, "FFDNet: Toward a Fast and Flexible Solution for CNN-Based Image
Denoising", IEEE TIP 27(9), 2018 (noise-level map as input).
"""

from __future__ import annotations

import copy
import functools

import json
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from deepinv.models import DRUNet

from pnp_internal.precision import FP32, check_precision, resolve

try:  # the project's prior base class, when the solvers engineer has landed it
    from pnp_internal.priors.base import Prior as _Base
except ImportError:  # pragma: no cover - fallback before base.py exists
    from deepinv.models import Denoiser as _Base

__all__ = ["CNNDenoiser", "DnCNNDenoiser", "SIGMA_MAX", "FORMAT", "available", "pretrained",
           "load_denoiser"]

#: Largest noise level (on the [0, 1] scale) seen in training.
SIGMA_MAX = 50.0 / 255.0
#: Levels up to this much above ``SIGMA_MAX`` pass without a warning: the deblurring schedules
#: start at 49/255 plus the noise, and 60 and 75 still denoise well (record ``noise-curve``).
SIGMA_SLACK = 1.1
#: Value of the ``format`` metadata key of the project's weight files.
FORMAT = "pnp_internal-denoiser-v1"
_STRIDE = 8  # three stride-2 downsamplings
#: Folder of the shipped weight files.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


class CNNDenoiser(_Base):
    r"""Noise-level-conditioned residual U-Net denoiser (DRUNet-lite).

    Parameters
    ----------
    channels : int
        1 (gray) or 3 (colour).
    nc : tuple of int
        Channels at each of the 4 scales.
    nb : int
        Residual blocks per scale.
    device : str or torch.device
        Where the weights live.
    residual : bool
        Predict the noise and subtract it (global skip ``x + net(x)``, residual learning as in
        DnCNN), which trains much faster on a small budget; ``False`` is deepinv's DRUNet.
    precision : {"auto", "fp32", "bf16"} or Precision
        Arithmetic of the network (:func:`pnp_internal.precision.resolve`; settable later as
        the attribute ``precision``). ``"auto"``: bf16 autocast for calls without gradients
        on a device with native bf16, where it halves the time (0.24 vs 0.48 CPU-s for 256x256
        colour on one core) for < 0.02 dB PSNR, and float32 for calls that need gradients.
        ``"fp32"`` also switches off an autocast opened by the caller.

    Attributes
    ----------
    precision_used : str or None
        ``"fp32"`` or ``"bf16"``: the arithmetic of the last call (``None`` before any).

    Notes
    -----
    ``forward(x, sigma)`` takes ``x`` of shape (B, C, H, W) in [0, 1] and ``sigma`` on the [0, 1]
    scale: a float, a tensor of shape (B,), or a noise-level map of shape (B or 1, 1, H, W) for
    noise whose level varies over the image (the network's noise input is a map, as in FFDNet and
    DRUNet; it was trained on constant maps). Any image size works: the input is reflect-padded
    to a multiple of 8 and cropped back. Outside training mode it runs under ``torch.no_grad``.

    References
    ----------
    K. Zhang et al., "Plug-and-Play Image Restoration with Deep Denoiser Prior", IEEE TPAMI, 2022.
    """

    def __init__(self, channels: int = 3, *, nc: tuple = (32, 64, 128, 256), nb: int = 2,
                 residual: bool = False, device: str | torch.device = "cpu",
                 precision: str = "auto"):
        super().__init__()
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (gray) or 3 (colour), got {channels!r}")
        self.channels = int(channels)
        self.config = {"arch": "drunet", "channels": self.channels, "nc": [int(c) for c in nc],
                       "nb": int(nb), "residual": bool(residual)}
        self.residual = bool(residual)
        self.net = DRUNet(in_channels=channels, out_channels=channels, nc=tuple(nc), nb=nb,
                          pretrained=None)
        self.precision = check_precision(precision)
        self.precision_used: str | None = None
        self.metadata: dict = {}
        self._warned_sigma = False
        self.to(device)

    # ------------------------------------------------------------------ forward
    def _check(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            raise ValueError(
                f"x must be a (B, C, H, W) tensor, got "
                f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        c = x.shape[1]
        if c != self.channels:
            if c == 2:
                fix = "for a gray+alpha image keep channel 0 (x[:, :1])"
            elif c == 4:
                fix = "for an RGBA image drop the alpha channel (x[:, :3])"
            elif self.channels == 3 and c == 1:
                fix = "use the gray model (pretrained('drunet-lite-gray'))"
            elif self.channels == 1 and c == 3:
                fix = "use the colour model (pretrained('drunet-lite-color')) or denoise channels separately"
            else:
                fix = "convert the image to 1 (gray) or 3 (colour) channels"
            raise ValueError(f"this denoiser expects {self.channels}-channel images, "
                             f"got x with {c} channels: {fix}")

    def _sigma_map(self, sigma, x: torch.Tensor) -> torch.Tensor:
        s = torch.as_tensor(sigma, dtype=torch.float32, device=x.device)
        if s.ndim == 4:
            if s.shape[1] != 1 or s.shape[0] not in (1, x.shape[0]) or s.shape[2:] != x.shape[2:]:
                raise ValueError(f"a noise-level map must have shape (B or 1, 1, H, W) = "
                                 f"({x.shape[0]}, 1, {x.shape[2]}, {x.shape[3]}), "
                                 f"got {tuple(s.shape)}")
            self._check_levels(s, "the noise-level map")
            return s
        if s.ndim == 0:
            s = s.expand(x.shape[0])
        s = s.reshape(-1)
        if s.numel() == 1:
            s = s.expand(x.shape[0])
        if s.numel() != x.shape[0]:
            raise ValueError(f"sigma must be a float, a tensor of shape (B,)=({x.shape[0]},) or "
                             f"a map of shape (B, 1, H, W), got shape "
                             f"{tuple(torch.as_tensor(sigma).shape)}")
        self._check_levels(s, f"sigma={sigma!r}")
        return s.view(-1, 1, 1, 1)

    def _check_levels(self, s: torch.Tensor, what: str) -> None:
        if not torch.isfinite(s).all() or (s < 0).any():
            raise ValueError(f"{what}: noise levels must be finite and >= 0 (on the [0, 1] scale)")
        if (s > SIGMA_MAX * SIGMA_SLACK).any() and not self._warned_sigma:
            self._warned_sigma = True
            warnings.warn(f"sigma={float(s.max()):.4f} is above the trained range [0, "
                          f"{SIGMA_MAX:.4f}] (50/255); the denoiser still runs but may be "
                          "inaccurate", RuntimeWarning, stacklevel=4)

    def forward_net(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Raw network on an already-padded input; ``sigma`` of shape (B, 1, 1, 1) or a map
        (B or 1, 1, H, W) of the padded size."""
        smap = sigma.to(x.dtype).expand(x.shape[0], 1, x.shape[2], x.shape[3])
        out = self.net.forward_unet(torch.cat((x, smap), 1))
        return x + out if self.residual else out

    def forward(self, x: torch.Tensor, sigma, *args, **kwargs) -> torch.Tensor:
        """Denoise ``x`` at noise level ``sigma`` (float, (B,) tensor or (B, 1, H, W) map;
        [0, 1] scale)."""
        self._check(x)
        s = self._sigma_map(sigma, x)
        dtype = x.dtype
        h, w = x.shape[-2:]
        ph, pw = (-h) % _STRIDE, (-w) % _STRIDE
        # gradients flow (in float32) in training mode or when x requires grad; else no_grad
        grads = torch.is_grad_enabled() and (self.training or x.requires_grad)
        prec = FP32 if grads and self.precision == "auto" else resolve(self.precision, x.device)
        self.precision_used = prec.name
        with torch.enable_grad() if grads else torch.no_grad():
            xin = x.float()
            if ph or pw:
                mode = "reflect" if (h > ph and w > pw) else "replicate"
                xin = F.pad(xin, (0, pw, 0, ph), mode=mode)
                if s.shape[-1] > 1:  # a noise-level map is padded with the image
                    s = F.pad(s, (0, pw, 0, ph), mode=mode)
            with torch.autocast(xin.device.type, dtype=torch.bfloat16,
                                enabled=prec.autocast_dtype is not None):
                out = self.forward_net(xin, s)
            out = out[..., :h, :w].float()
        return out.to(dtype)

    # ------------------------------------------------------------------ weights
    def save(self, path: str | Path, *, metadata: dict | None = None, half: bool = True) -> None:
        """Write the weights as safetensors (fp16 by default) with string metadata."""
        from ..io import write_weights

        write_weights(self.net, path, fmt=FORMAT, architecture=self.config, metadata=metadata,
                      dtype=torch.float16 if half else torch.float32)


class DnCNNDenoiser(_Base):
    """A deepinv :class:`~deepinv.models.DnCNN` loaded from a user's state dict (sigma ignored).

    References
    ----------
    K. Zhang, W. Zuo, Y. Chen, D. Meng, L. Zhang, "Beyond a Gaussian Denoiser: Residual Learning
    of Deep CNN for Image Denoising", IEEE TIP 26(7), 2017.
    """

    def __init__(self, channels: int, *, depth: int, nf: int, bias: bool,
                 device: str | torch.device = "cpu"):
        super().__init__()
        from deepinv.models import DnCNN
        self.channels = int(channels)
        self.config = {"arch": "dncnn", "channels": self.channels, "depth": int(depth),
                       "nf": int(nf), "bias": bool(bias)}
        self.net = DnCNN(in_channels=channels, out_channels=channels, depth=depth, bias=bias,
                         nf=nf, pretrained=None, device="cpu")
        self.metadata: dict = {}
        self.to(device)

    _check = CNNDenoiser._check

    def forward(self, x: torch.Tensor, sigma=None, *args, **kwargs) -> torch.Tensor:
        """Denoise ``x``; DnCNN is trained for one noise level, so ``sigma`` is not used."""
        self._check(x)
        ctx = torch.enable_grad() if torch.is_grad_enabled() and (
            self.training or x.requires_grad) else torch.no_grad()
        with ctx:
            return self.net(x.float()).to(x.dtype)


# ---------------------------------------------------------------------- loading
def available() -> list[str]:
    """Names of the shipped weight files, for :func:`pretrained`."""
    return sorted(p.name[: -len(".safetensors")] for p in WEIGHTS_DIR.glob("*.safetensors"))


def pretrained(name: str, *, device: str | torch.device = "cpu") -> CNNDenoiser:
    """Load a shipped denoiser by name (see :func:`available`), or a local weights file by path.

    Parameters
    ----------
    name : str
        ``"drunet-lite-color"``, ``"drunet-lite-gray"`` (see :func:`available`), or the path of a
        ``.safetensors`` / ``.pth`` / ``.pt`` file (see :func:`load_denoiser`).
    device : str or torch.device
        Where to put the weights.

    Returns
    -------
    CNNDenoiser
        In eval mode, float32 weights, ``metadata`` holding the file's metadata.
    """
    if not isinstance(name, (str, Path)):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    shipped = WEIGHTS_DIR / f"{name}.safetensors"
    if shipped.is_file():  # read once per process; every caller gets its own copy
        return copy.deepcopy(_shipped(str(name))).to(device)
    p = Path(name).expanduser()
    if p.suffix.lower() in {".safetensors", ".pth", ".pt"} or p.exists():
        return load_denoiser(p, device=device)
    raise ValueError(f"unknown pretrained denoiser {str(name)!r}; available: "
                     f"{', '.join(available()) or '(none shipped)'}; or give a path to a "
                     ".safetensors/.pth file")


@functools.lru_cache(maxsize=None)
def _shipped(name: str):
    """The shipped weights ``name``, loaded on the CPU once (the cache behind
    :func:`pretrained`)."""
    return load_denoiser(WEIGHTS_DIR / f"{name}.safetensors")


def _strip(sd: dict) -> dict:
    for key in ("state_dict", "model", "params", "net"):
        if key in sd and isinstance(sd[key], dict):
            sd = sd[key]
            break
    out = {}
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            continue
        for pre in ("module.", "net.", "model."):
            if k.startswith(pre):
                k = k[len(pre):]
        out[k] = v
    return out


def _infer_config(sd: dict, path) -> dict:
    if "m_head.weight" in sd:
        nc = [int(sd["m_head.weight"].shape[0])]
        nc += [int(sd[f"m_down{i}.{j}.weight"].shape[0])
               for i in (1, 2, 3) for j in range(64) if f"m_down{i}.{j}.weight" in sd]
        nb = sum(1 for k in sd if k.startswith("m_down1.") and k.endswith(".res.0.weight"))
        return {"arch": "drunet", "channels": int(sd["m_head.weight"].shape[1]) - 1,
                "nc": nc, "nb": nb}
    if "in_conv.weight" in sd:
        depth = 2 + sum(1 for k in sd if k.startswith("conv_list.") and k.endswith(".weight"))
        return {"arch": "dncnn", "channels": int(sd["in_conv.weight"].shape[1]),
                "depth": depth, "nf": int(sd["in_conv.weight"].shape[0]),
                "bias": "in_conv.bias" in sd}
    raise ValueError(f"{path}: unrecognised state dict (keys {sorted(sd)[:4]}...); expected a "
                     "deepinv DRUNet (m_head.weight, ...) or DnCNN (in_conv.weight, ...) state dict "
                     "or a file written by pnp-internal train-denoiser")


def load_denoiser(path: str | Path, *, device: str | torch.device = "cpu",
                  channels: int | None = None):
    """Load denoiser weights from a local file.

    Parameters
    ----------
    path : str or Path
        A safetensors file written by ``pnp-internal train-denoiser`` (architecture in its
        metadata), or a deepinv DRUNet / DnCNN state dict (``.safetensors`` or ``.pth``/``.pt``,
        read with ``torch.load(weights_only=True)``; the architecture is inferred from the keys).
    device : str or torch.device
        Where to put the weights.
    channels : int, optional
        Expected channel count; a file for another count raises ValueError.

    Returns
    -------
    CNNDenoiser or DnCNNDenoiser
        In eval mode with float32 weights.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"denoiser weights file not found: {path}")
    meta: dict = {}
    if path.suffix.lower() == ".safetensors":
        from safetensors import safe_open
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = dict(f.metadata() or {})
                sd = {k: f.get_tensor(k) for k in f.keys()}
            for shard in json.loads(meta.get("shards", "[]")):  # io.write_weights's shards
                if not (path.parent / shard).is_file():
                    raise FileNotFoundError(f"{path} continues in {shard}, which is missing "
                                            f"beside it; copy every {path.name}.part* file too")
                with safe_open(str(path.parent / shard), framework="pt") as f:
                    sd.update({k: f.get_tensor(k) for k in f.keys()})
        except FileNotFoundError:
            raise
        except Exception as e:  # safetensors raises its own error type for corrupt files
            raise ValueError(f"{path} is not a valid safetensors file ({e}); re-export it "
                             "or check the download") from e
    else:
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise ValueError(f"{path} could not be read as a PyTorch state dict with "
                             f"weights_only=True ({type(e).__name__}: {e})") from e
        if not isinstance(sd, dict):
            raise ValueError(f"{path} holds a {type(sd).__name__}, expected a state dict")
    sd = _strip(sd)
    if "architecture" in meta:
        try:
            cfg = json.loads(meta["architecture"])
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: corrupt 'architecture' metadata ({e})") from e
    else:
        cfg = _infer_config(sd, path)
    if channels is not None and cfg.get("channels") != channels:
        raise ValueError(f"{path} holds a {cfg.get('channels')}-channel model, expected "
                         f"channels={channels}; use the "
                         f"{'gray' if channels == 1 else 'colour'} weights instead")
    if cfg.get("arch") == "drunet":
        model = CNNDenoiser(cfg["channels"], nc=tuple(cfg["nc"]), nb=cfg["nb"],
                            residual=bool(cfg.get("residual", False)))
    elif cfg.get("arch") == "dncnn":
        model = DnCNNDenoiser(cfg["channels"], depth=cfg["depth"], nf=cfg["nf"], bias=cfg["bias"])
    else:
        raise ValueError(f"{path}: unknown architecture {cfg!r}; expected 'drunet' or 'dncnn'")
    target = model.net.state_dict()
    missing = sorted(set(target) - set(sd))
    unexpected = sorted(set(sd) - set(target))
    bad = [f"{k}: file {tuple(sd[k].shape)} vs model {tuple(target[k].shape)}"
           for k in target if k in sd and sd[k].shape != target[k].shape]
    if missing or unexpected or bad:
        raise ValueError(f"{path} does not match the {cfg['arch']} architecture {cfg}: "
                         f"missing keys {missing[:3]}, unexpected keys {unexpected[:3]}, "
                         f"shape mismatches {bad[:3]}")
    model.net.load_state_dict({k: v.float() for k, v in sd.items()})
    model.metadata = meta
    model.eval()
    return model.to(device)
