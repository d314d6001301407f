"""The recipe book: every tuned number of the library, in one place, with its reason and record.

:func:`pnp_internal.solve`, the command line, the examples and the benchmark harness all read
these tables, so what a user gets is what the benchmarks measured. Each recipe is a frozen
dataclass whose fields are the options of the class it configures (``options()`` returns them
as keyword arguments), plus ``why`` (one line) and ``record`` (the benchmark record that backs
it: a file stem of ``benchmarks/results``).

Operator kinds (:data:`KINDS`): ``"denoise"``, ``"deblur"``, ``"sr"``, ``"inpaint"``, ``"cs"``
and ``"other"`` (any linear operator the library does not recognise).

References
----------
.. [1] T. Tirer, R. Giryes, "Image Restoration by Iterative Denoising and Backward
   Projections", IEEE TIP 2019; "Super-Resolution via Image-Adapted Denoising CNNs", IEEE SPL
   2019 (IDBP, IDBP-CNN-IA).
.. [2] K. Zhang et al., "Plug-and-Play Image Restoration with Deep Denoiser Prior", IEEE TPAMI
   2022 (DPIR's HQS schedule).
.. [3] S. Mohan et al., "Adaptive Denoising via GainTuning", NeurIPS 2021.
.. [4] A. Shocher, N. Cohen, M. Irani, "Zero-Shot Super-Resolution using Deep Internal
   Learning", CVPR 2018.
.. [5] D. Ulyanov, A. Vedaldi, V. Lempitsky, "Deep Image Prior", CVPR 2018.
.. [6] S. Bell-Kligler, A. Shocher, M. Irani, "Blind Super-Resolution Kernel Estimation using an
   Internal-GAN", NeurIPS 2019 (KernelGAN).
.. [7] D. Ren, K. Zhang, Q. Wang, Q. Hu, W. Zuo, "Neural Blind Deconvolution Using Deep Priors",
   CVPR 2020 (SelfDeblur).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields

from .solvers import schedules

__all__ = ["KINDS", "PnP", "ImageAdaptation", "SelfTuning", "SUREAdaptation", "ZSSRRecipe", "DIPRecipe",
           "Choice", "PNP", "DEFAULT_SOLVER", "IMAGE_ADAPTED", "IMAGE_ADAPTED_DURING",
           "GAINTUNING_DENOISE", "GAINTUNING_DENOISE_FAST", "GAINTUNING_IN_SOLVER", "SURE_DENOISE", "ZSSR_PAPER",
           "ZSSR_STAGE", "ZSSR_FAST", "DIP_DEFAULT", "DIP_MSE", "DIP_SR", "DIP_TV", "DEEP_DECODER",
           "DIP_DENOISER", "SELF2SELF", "LUMA_SR", "KernelGANRecipe", "KERNELGAN",
           "ESTIMATED_KERNEL_NOISE", "SelfDeblurRecipe",
           "SELFDEBLUR", "DEFAULT_METHOD", "DPIR_SIGMA_FLOOR",
           "ADMM_TV", "MEMORY_PER_PIXEL", "TILE", "pnp_recipe", "reading"]

#: The operator kinds a recipe can be written for.
KINDS = ("denoise", "deblur", "sr", "inpaint", "cs", "other")


_READ: ContextVar[dict | None] = ContextVar("recipes_read", default=None)


@contextmanager
def reading():
    """Collect the recipes read inside the block: ``{name: every setting}``, where ``name``
    is the recipe's name in this module (``"IMAGE_ADAPTED['sr']"``).

    Examples
    --------
    >>> import torch, pnp_internal as pi
    >>> from pnp_internal import operators, recipes
    >>> op = operators.Denoising(img_shape=(1, 16, 16))
    >>> with recipes.reading() as read:
    ...     _ = pi.solve(torch.rand(1, 1, 16, 16), op, method="cnn-gaintuning", noise_std=0.1,
    ...                  steps=1)
    >>> "GAINTUNING_DENOISE" in read
    True
    """
    read: dict = {}
    outer = _READ.get()
    token = _READ.set(read)
    try:
        yield read
    finally:
        _READ.reset(token)
        if outer is not None:  # nested blocks: the enclosing one sees these reads too
            for name, settings in read.items():
                outer.setdefault(name, settings)


_NAMES: dict[int, str] = {}


def _name_of(recipe) -> str:
    """The recipe's name in this module, looked up once per recipe."""
    key = id(recipe)
    if key not in _NAMES:
        _NAMES[key] = _find_name(recipe)
    return _NAMES[key]


def _find_name(recipe) -> str:
    for name, value in globals().items():
        if value is recipe:
            return name
        if isinstance(value, dict):
            for key, item in value.items():
                if item is recipe:
                    return f"{name}[{key!r}]"
    return type(recipe).__name__


class _Logged:
    """Mixin: reading a field inside :func:`reading` records the whole recipe."""

    def __getattribute__(self, attr):
        read = _READ.get()
        if read is not None and not attr.startswith("_"):
            names = object.__getattribute__(self, "__dataclass_fields__")
            name = _name_of(self) if attr in names else None
            if name is not None and name not in read:
                read[name] = {f: object.__getattribute__(self, f) for f in names}
        return object.__getattribute__(self, attr)


class _Recipe(_Logged):
    """Mixin: the recipe's settings as keyword arguments (``why`` and ``record`` left out)."""

    def options(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("why", "record")}


@dataclass(frozen=True)
class Choice(_Logged):
    """A choice that is not a set of options: a method name, a flag or a constant."""

    value: object
    why: str
    record: str = ""


@dataclass(frozen=True)
class PnP(_Recipe):
    """A plug-and-play solver's settings for one operator kind.

    Attributes
    ----------
    max_iter : int
        Number of iterations.
    schedule : {"dpir", "idbp", "constant"}
        ``"constant"``: one level, the noise level (a single denoiser call); ``"dpir"``: :class:`~pnp_internal.solvers.schedules.DPIR` (sigma from ``start`` down to
        ``max(noise, end)``, ``end=None`` = the noise level); ``"idbp"``:
        :class:`~pnp_internal.solvers.schedules.IDBPDecay` (delta from ``start`` to ``end``).
    start, end : float
        First and last level on the [0, 1] scale; multiplied by the SR factor when
        ``start_per_scale`` / ``end_per_scale``.
    eps_per_noise_var : float
        IDBP's ``eps`` is this times ``max(noise, 0.255/255)**2`` (0 for a pure projection).
    init : {"auto", "bicubic", "measurement", "fill", "adjoint"}
        Initial estimate: ``"bicubic"`` upscaling of ``y`` (SR), ``"measurement"`` = ``y``
        itself (deblurring), ``"fill"`` = the missing pixels interpolated (inpainting),
        ``"adjoint"`` = the normalised adjoint ``A^T y / A^T 1`` (any non-negative operator,
        :func:`pnp_internal.catalog.pnp.normalised_adjoint`),
        ``"auto"`` = the solver's own rule (see :class:`~pnp_internal.solvers.base.Solver`).
    """

    max_iter: int
    schedule: str
    start: float
    end: float | None
    start_per_scale: bool = False
    end_per_scale: bool = False
    eps_per_noise_var: float = 0.0
    init: str = "auto"
    why: str = ""
    record: str = ""

    def build_schedule(self, noise_std: float, scale: int | None):
        """The schedule object for this noise level and SR factor."""
        s = float(scale or 1)
        start = self.start * (s if self.start_per_scale else 1.0)
        end = None if self.end is None else self.end * (s if self.end_per_scale else 1.0)
        if self.schedule == "constant":
            return schedules.Constant(gamma=1e6)
        if self.schedule == "idbp":
            return schedules.IDBPDecay(start, end)
        return schedules.DPIR(sigma_start=start,
                              sigma_end=None if end is None else max(noise_std, end))

    def eps(self, noise_std: float) -> float:
        """IDBP's ``eps`` for this noise level."""
        if not self.eps_per_noise_var:
            return 0.0
        return self.eps_per_noise_var * max(noise_std, schedules.NOISE_FLOOR) ** 2


def _dpir(n, why, record, *, end=None, end_per_scale=False, init="auto"):
    return PnP(n, "dpir", 49 / 255, end, end_per_scale=end_per_scale, init=init, why=why,
               record=record)


_GENERIC_WHY = ("an operator the library does not recognise: DPIR's decay over 20 iterations "
                "from the normalised adjoint A^T y / A^T 1 (7-px motion blur + 2x decimation, "
                "Set12: CNN 27.89 dB against 8.55 from A^+ y; TV 25.50)")
_GENERIC_RECORD = "custom-operator-start-s2.55_set12"

#: (kind, solver) -> the solver's settings. IDBP's SR schedule ends at 1/255 instead of the
#: paper's s/255 (better at x2 and x3 on Set5, Y, gray weights, 30 iterations; that comparison
#: has no record).
PNP: dict[tuple[str, str], PnP] = {
    ("deblur", "idbp"): PnP(8, "idbp", 49 / 255, 7.65 / 255, eps_per_noise_var=100.0,
                            init="measurement", why="delta decays as DPIR's sigma; eps against "
                            "the noise a blur inverse amplifies (BM3D, 64x64 Set3C crops)",
                            record="deblur-gauss1.6_set3c_full"),
    ("deblur", "hqs"): _dpir(8, "DPIR's 8 iterations from y (A^+ y amplifies the noise)",
                             "deblur-gauss1.6_set3c_full", init="measurement"),
    ("deblur", "admm"): _dpir(8, "DPIR's schedule, from y", "deblur-gauss1.6_set3c_full",
                              init="measurement"),
    ("sr", "idbp"): PnP(30, "idbp", 12 / 255, 1 / 255, start_per_scale=True, init="bicubic",
                        why="IDBP-CNN's 12s/255 start, ending at 1/255 (see the note above)",
                        record="quick_sr-x2_set5"),
    ("sr", "hqs"): _dpir(24, "DPIR SR: sigma down to max(noise, s/255), from bicubic",
                         "quick_sr-x2_set5", end=1 / 255, end_per_scale=True, init="bicubic"),
    ("sr", "admm"): _dpir(24, "DPIR SR schedule, from bicubic", "quick_sr-x2_set5", end=1 / 255,
                          end_per_scale=True, init="bicubic"),
    ("inpaint", "idbp"): PnP(30, "idbp", 24 / 255, 2 / 255, init="fill",
                             why="from the interpolated fill: 27-38 dB against 12-18 from A^+ y",
                             record="quick_inpaint-50_set12"),
    ("inpaint", "hqs"): _dpir(24, "DPIR schedule from the interpolated fill",
                              "quick_inpaint-50_set12", init="fill"),
    ("inpaint", "admm"): _dpir(24, "DPIR schedule from the interpolated fill",
                               "quick_inpaint-50_set12", init="fill"),
    ("cs", "idbp"): PnP(100, "idbp", 49 / 255, 2 / 255,
                        why="from the dim A^T y: 100 iterations give 26-33 dB, 30 give 9-14",
                        record="quick_cs-25_set12"),
    ("cs", "hqs"): _dpir(100, "100 iterations from A^T y (30 gave 13-23 dB)", "quick_cs-25_set12"),
    ("cs", "admm"): _dpir(100, "100 iterations from A^T y", "quick_cs-25_set12"),
    **{("denoise", s): PnP(1, "constant", 0.0, None, why="one call D(y, sigma_n)",
                           record="denoise-s25_cbsd68") for s in ("idbp", "hqs", "admm")},
    ("other", "idbp"): PnP(20, "idbp", 49 / 255, 2 / 255, init="adjoint", why=_GENERIC_WHY,
                           record=_GENERIC_RECORD),
    ("other", "hqs"): _dpir(20, _GENERIC_WHY, _GENERIC_RECORD, end=2 / 255, init="adjoint"),
    ("other", "admm"): _dpir(20, _GENERIC_WHY, _GENERIC_RECORD, end=2 / 255, init="adjoint"),
}

#: kind -> the solver a prior gets when only the prior is named.
DEFAULT_SOLVER = {
    "denoise": Choice("idbp", "a single denoiser call"),
    "deblur": Choice("hqs", "the robust one: Levin Set12 32.74 dB (admm collapses to 27.43); "
                            "Set3C 28.98 (admm 29.10, idbp 28.72)", "pnp-cnn_deblur-levin_set12"),
    "sr": Choice("idbp", "cnn-idbp 39.44 dB against cnn-hqs 39.12 on Set5 x2 crops",
                 "quick_sr-x2_set5"),
    "inpaint": Choice("admm", "Set12 50%: cnn-admm 34.18 dB, cnn-hqs 33.77",
                      "pnp-cnn_inpaint-50_set12"),
    "cs": Choice("idbp", "cnn-idbp 30.89 dB against cnn-hqs 29.90 on Set12 64 px",
                 "quick_cs-25_set12"),
    "other": Choice("hqs", "DPIR's HQS is the most robust on an unknown operator"),
}


def pnp_recipe(kind: str, solver: str) -> PnP:
    """The settings of ``solver`` (``"idbp"``, ``"hqs"``, ``"admm"``) for operator ``kind``."""
    key = (kind if kind in KINDS else "other", solver)
    if key not in PNP:
        raise ValueError(f"no recipe for solver {solver!r}; valid: idbp, hqs, admm")
    return PNP[key]


@dataclass(frozen=True)
class ImageAdaptation(_Recipe):
    """Options of :class:`~pnp_internal.priors.ImageAdapted` (IDBP-CNN-IA [1]_)."""

    steps: int
    batch_size: int = 16
    lr: float = 1e-4
    train: str = "all"
    check_every: int = 8
    patience: int = 4
    min_decrease: float = 0.0
    adapt_every: int | None = None
    why: str = ""
    record: str = ""


_IA_SHORT = dict(steps=16, check_every=4, patience=3)
#: kind -> fine-tuning before the iterations (``ia-*``).
IMAGE_ADAPTED = {
    "sr": ImageAdaptation(96, why="96 steps on the LR image's own pairs: Set5 x2 37.25 -> 37.44",
                          record="ia-v2_sr-x2_set5"),
    "deblur": ImageAdaptation(**_IA_SHORT, why="16 steps, hold-out every 4: Set3C 28.72 -> 28.81 dB",
                              record="ia_deblur-gauss1.6_set3c"),
    "inpaint": ImageAdaptation(**_IA_SHORT, why="the deblurring recipe (no dedicated record)"),
    "cs": ImageAdaptation(**_IA_SHORT, why="the deblurring recipe (no dedicated record)"),
    "other": ImageAdaptation(**_IA_SHORT, why="the deblurring recipe (no dedicated record)"),
}
#: kind -> re-adaptation on the current estimate every 10 iterations (``ia-idbp-during``):
#: half the steps each time.
IMAGE_ADAPTED_DURING = {
    k: ImageAdaptation(**{**v.options(), "steps": v.steps // 2, "adapt_every": 10},
                       why="half the steps, every 10 iterations", record=v.record)
    for k, v in IMAGE_ADAPTED.items()
}


@dataclass(frozen=True)
class SelfTuning(_Recipe):
    """Options of :class:`~pnp_internal.priors.GainTuning` / ``SUREFineTuned`` (SURE on y)."""

    steps: int
    lr: float
    batch_size: int
    crop: int
    check_every: int = 4
    patience: int = 2
    min_decrease: float = 0.0
    adapt_every: int | None = None
    why: str = ""
    record: str = ""


#: ``cnn-gaintuning``: SURE on one 256x256 crop per step, 72 steps [3]_.
GAINTUNING_DENOISE = SelfTuning(72, 2e-3, 1, 256, check_every=10, patience=3,
                                why="CBSD68 30.934 dB against cnn's 30.869 (12 steps on 64 px: +0.02)",
                                record="gaintuning_denoise-s25_cbsd68")
#: ``cnn-gaintuning-fast``: two thirds of the steps, for CPUs without native bf16 (SURE runs in
#: float32 everywhere: 72 steps take about 40 s on a 256x256 image on 2 cores).
GAINTUNING_DENOISE_FAST = SelfTuning(48, 2e-3, 1, 256, check_every=8, patience=3,
                                     why="first 8 CBSD68 images, sigma 25, float32: 30.950 dB "
                                         "in 22.6 s/image; 72 steps 30.954 in 34.5 s "
                                         "(gaintuning-fp32_denoise-s25_cbsd68); cnn 30.910",
                                     record="gaintuning-fast_denoise-s25_cbsd68")
#: ``gt-*``: a cheap recipe, re-tuned every 10 iterations on the denoiser's input.
GAINTUNING_IN_SOLVER = SelfTuning(12, 2e-3, 4, 64, adapt_every=10,
                                  why="12 steps on 64 px crops, cheap enough to repeat")


@dataclass(frozen=True)
class SUREAdaptation(SelfTuning):
    """Options of :class:`~pnp_internal.priors.SUREFineTuned`: which parameters SURE trains."""

    train: str = "all"
    rank: int = 4


#: ``cnn-sure``: a rank-4 update of every convolution fitted to y by SURE; the hold-out decides
#: how long (checked every 20 steps, stop after 3 checks without a 0.5 % decrease, <= 200).
SURE_DENOISE = SUREAdaptation(200, 1e-3, 1, 192, check_every=20, patience=3, min_decrease=0.005,
                              train="lora", rank=4,
                              why="Manga109 first 8, sigma 25: 31.43 dB in 136 s/image on one "
                                  "core, cnn-gaintuning 31.32, cnn 31.16; 200 steps without the "
                                  "rule: LoRA > all weights > last layers > gains",
                              record="ood_denoise-s25_manga109")


@dataclass(frozen=True)
class ZSSRRecipe(_Recipe):
    """Options of :class:`~pnp_internal.solvers.ZSSR` [4]_ (the path is chosen per factor)."""

    max_iter: int
    min_iter: int
    crop: int
    test_every: int
    slope_window: int = 256
    ensemble: bool = True
    back_projection: int = 10
    why: str = ""
    record: str = ""


#: The paper's budget: crops 128, up to 3000 iterations, lr policy down to 1e-6.
ZSSR_PAPER = ZSSRRecipe(3000, 256, 128, 50, why="the paper's settings; gradual x4: Set5 31.45",
                        record="zssr-v4_sr-x4_set5")
#: The budget of each gradual stage: crops 96, lr decisions every 128, <= 800 iterations.
ZSSR_STAGE = ZSSRRecipe(800, 128, 96, 25, slope_window=128,
                        why="six official x2 stages at this budget: Set5 37.40 dB, 83 s/image",
                        record="zssr-v4_sr-x2_set5")
#: ``zssr-fast`` below x4: the stage budget with crops 80.
ZSSR_FAST = ZSSRRecipe(800, 128, 80, 25, slope_window=128,
                       why="1.5x1.5 then x2: Set5 37.24 dB in 24 s/image", record="zssr-v4_sr-x2_set5")


@dataclass(frozen=True)
class KernelGANRecipe(_Recipe):
    """Options of :class:`~pnp_internal.blind.KernelGAN` [6]_."""

    max_iter: int
    crop: int
    lr: float
    why: str = ""
    record: str = ""


#: Blind SR: the kernel of ``y`` for the ``*-kernelgan`` methods and ``solve(kernel="estimate")``.
KERNELGAN = KernelGANRecipe(3000, 64, 2e-4, why="the paper's settings")

#: Noise level (at least) that the plug-and-play solvers assume with an estimated SR kernel: the
#: kernel's error acts as noise, and an exact back-projection with a slightly wrong kernel
#: over-sharpens (ZSSR, which learns from ``y``, does not read it).
ESTIMATED_KERNEL_NOISE = Choice(2.55 / 255, "with KernelGAN's kernel and no noise floor, HQS "
                                            "and IDBP over-sharpen the image")


@dataclass(frozen=True)
class SelfDeblurRecipe(_Recipe):
    """Options of :class:`~pnp_internal.blind.SelfDeblur` [7]_."""

    kernel_size: int
    max_iter: int
    lr: float
    kernel_lr: float
    width: int
    skip_channels: int
    depth: int
    why: str = ""
    record: str = ""


#: Blind deblurring (``selfdeblur``, ``<deblur>-selfdeblur``): the paper's networks and budget;
#: the kernel side is the largest Levin et al. kernel's, as an upper bound of an unknown blur.
SELFDEBLUR = SelfDeblurRecipe(27, 5000, 0.01, 1e-4, 128, 16, 5,
                              why="the paper's settings (hours per image on a CPU: for GPUs)")


@dataclass(frozen=True)
class DIPRecipe(_Recipe):
    """Options of :class:`~pnp_internal.solvers.DIP` [5]_ beyond its defaults."""

    max_iter: int | None = None
    reg_noise_std: float = 1 / 30
    tv_weight: float = 0.0
    loss: str = "auto"
    why: str = ""
    record: str = ""


DIP_DEFAULT = DIPRecipe(why="the paper's perturbation 1/30; SURE loss for Gaussian denoising",
                        record="dip_runs")
DIP_MSE = DIPRecipe(loss="mse", why="the paper's DIP: MSE from a random code (F16: 29.69 dB, "
                   "SURE 31.76)", record="dip_runs")
DIP_SR = DIPRecipe(reg_noise_std=0.03, why="the paper's SR perturbation")
DIP_TV = DIPRecipe(tv_weight=2e-3, loss="mse", why="DIP-TV (Liu et al. 2019), weight not tuned")
#: ``deep-decoder``: Deep Decoder width and depth, no input perturbation (Heckel & Hand 2019).
DEEP_DECODER = Choice({"channels": 64, "depth": 5, "reg_noise_std": 0.0},
                      "the paper's k = 64, 5 upsamplings; it has no input to perturb")
#: ``dip-*``: DIPDenoiser as the prior of a PnP solver.
DIP_DENOISER = Choice({"steps": 300, "warm_steps": 50},
                      "300 cold steps, 50 warm ones per later call (discrepancy stop)")
#: ``self2self``: Self2Self's class defaults (1000 steps, 32 dropout predictions).
SELF2SELF = Choice({}, "the class defaults: 1000 steps, 32 predictions (Quan et al. 2020)")

#: Colour SR with a CNN prior restores the luminance with the gray model, chroma bicubic
#: (IDBP-CNN's "SR is done on the Y channel").
LUMA_SR = Choice(True, "Set5 x2, IDBP 30 iterations: RGB colour model 36.19 dB, Y gray 37.09",
                 "ia_sr-x2_set5")

#: kind -> the method :func:`pnp_internal.solve` runs when none is named: the best measured
#: method that restores a 256x256 image within 30 s on 2 CPU cores.
DEFAULT_METHOD = {
    "denoise": Choice("cnn-gaintuning-fast", "CBSD68 sigma 25, first 8 images: 30.950 dB "
                                             "against cnn's 30.910 in 22.6 s/image in float32; "
                                             "cnn alone: 30.87 on all 68 in 0.4 s",
                      "gaintuning-fast_denoise-s25_cbsd68"),
    "deblur": Choice("cnn-hqs", "Set3C gauss 1.6: 29.33 dB in 1.6 s/image on one core; with "
                                "the earlier colour weights it also led ia-idbp and bm3d-hqs "
                                "(pnp-cnn_deblur-gauss1.6_set3c)", "cnn-v2_deblur-gauss1.6_set3c"),
    "sr": Choice("ia-idbp", "Set5 x2 37.44 dB in 15 s/image (cnn-idbp 37.25, zssr 37.40 in "
                            "130 s); 256x256: 11.3 s in float32, 7.3 s in bf16",
                 "ia-v2_sr-x2_set5"),
    "inpaint": Choice("cnn-admm", "Set12 50%: 34.18 dB in 6 s (cnn-hqs 33.77, tv-admm "
                                  "29.40 on crops)", "pnp-cnn_inpaint-50_set12"),
    "cs": Choice("cnn-idbp", "Set12 25% 64 px: 30.89 dB in 4 s (tv-admm 27.27)",
                 "quick_cs-25_set12"),
    "other": Choice("cnn-hqs", "DPIR's HQS with the shipped CNN from the normalised adjoint: "
                               "27.89 dB on a custom blur + decimation (TV 25.50)",
                    "custom-operator-start-s2.55_set12"),
}

#: Noise level given to deepinv's DPIR on noiseless problems (its penalty uses max(0.01, sigma)).
DPIR_SIGMA_FLOOR = Choice(0.01, "0.01 beat 0.255/255 and 2.55/255 on Set12 x2")
#: kind -> (lambda, stepsize) of deepinv's ADMM-TV baseline, from a grid on 64x64 crops.
ADMM_TV = Choice({"deblur": (0.002, 10.0), "sr": (0.002, 10.0), "inpaint": (0.002, 100.0),
                  "cs": (0.002, 100.0)}, "grid lambda 0.002..0.1, stepsize 1, 10, 100")

#: Peak memory of one method family per pixel of the restored image (bytes; float32 CNN
#: passes, bf16 about half), from which :mod:`pnp_internal.memory` picks tile sizes and refuses
#: images that cannot fit. ``cnn``: one DRUNet-lite pass without gradients; ``dip``: a DIP or
#: Deep Decoder training step; ``zssr``: ZSSR's final geometric-ensemble pass; ``self2self``: a
#: Self2Self step. The largest measured value plus about 15 % for the solver's own copies.
MEMORY_PER_PIXEL = Choice({"cnn": 1300, "dip": 4200, "zssr": 1200, "self2self": 2800},
                          "peak RSS over the inputs, colour, 2 threads: cnn 1136 B/px at 512 px, "
                          "922 at 1024 (bf16 565 and 482); dip 3632 at 256, 2739 at 512; zssr "
                          "1046 (of the output); self2self 2423", "memory-per-pixel")
#: Tiled CNN passes: tile centres up to ``max_tile`` px with ``margin`` px of context, used when
#: the whole image would take more than ``budget`` of the free memory.
TILE = Choice({"margin": 32, "max_tile": 1024, "budget": 0.5},
              "margin 32: tiles of 128 change each task's default method on 512x512 Kodak24 "
              "crops by 0.023 dB at most (ia-idbp SR 26.98 -> 26.96 dB)", "tiled-vs-untiled")
