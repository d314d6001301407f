"""The one place that decides the arithmetic of every network loop: bfloat16 autocast or float32.

bf16 autocast halves the cost of convolutions only where the hardware computes in bf16: CUDA
GPUs that support it, and CPUs with AVX512-BF16 or AMX. Elsewhere oneDNN emulates bf16 and the
same loop gets much slower, so ``"auto"`` picks bf16 only where it is native, and every loop's
``precision=`` option overrides the choice. Data-consistency steps, losses and SURE's
divergence stay float32 whatever is chosen.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
from dataclasses import dataclass

import torch

__all__ = ["Precision", "FP32", "CHOICES", "native_bf16", "resolve", "check_precision",
           "float32", "has_precision_flag"]

#: Values accepted by every ``precision=`` option (besides a :class:`Precision`).
CHOICES = ("auto", "fp32", "bf16")
_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
_warned: set[str] = set()


@dataclass(frozen=True)
class Precision:
    """The arithmetic of a network loop, as chosen by :func:`resolve`.

    Attributes
    ----------
    name : str
        ``"fp32"`` or ``"bf16"``.
    autocast_dtype : torch.dtype or None
        ``torch.bfloat16`` for bf16, ``None`` for float32 (no autocast).
    channels_last : bool
        Put the network and its inputs in ``torch.channels_last`` memory (on CPU, where
        oneDNN's convolutions use that layout without reordering; see :func:`resolve`).
    """

    name: str
    autocast_dtype: torch.dtype | None = None
    channels_last: bool = False

    @property
    def memory_format(self) -> torch.memory_format:
        """``torch.channels_last`` when :attr:`channels_last`, else ``torch.contiguous_format``."""
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def autocast(self, device: torch.device | str):
        """``torch.autocast`` in bf16 on ``device`` for bf16, a no-op context for float32."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(torch.device(device).type, dtype=self.autocast_dtype)


#: Float32, no autocast, memory layout left as it is.
FP32 = Precision("fp32")


def has_precision_flag(model) -> bool:
    """Whether ``model`` has a settable ``precision`` flag (a ``precision=`` value), as the
    project's CNN wrapper does."""
    flag = getattr(model, "precision", None)
    return isinstance(flag, Precision) or (isinstance(flag, str) and flag in CHOICES)


@contextlib.contextmanager
def float32(model: torch.nn.Module):
    """Run ``model`` in float32 inside the block: autocast off and, for a network with a
    ``precision`` flag (the project's CNN wrapper, whose ``"auto"`` is bf16 without gradients),
    the flag set to :data:`FP32`, then restored. For SURE's divergence and hold-out checks."""
    old = getattr(model, "precision", None)
    flagged = has_precision_flag(model)
    device = next((p.device.type for p in model.parameters()), "cpu")
    if flagged:
        model.precision = FP32
    try:
        with torch.autocast(device, enabled=False):
            yield model
    finally:
        if flagged:
            model.precision = old


def check_precision(precision):
    """Return ``precision`` if it is a valid ``precision=`` value, else raise ValueError.

    For constructors, which do not know the device yet (:func:`resolve` decides later).
    """
    if isinstance(precision, Precision) or (isinstance(precision, str) and precision in CHOICES):
        return precision
    raise ValueError(f"precision must be one of {', '.join(map(repr, CHOICES))} (or a "
                     f"pnp_internal.precision.Precision), got {precision!r}")


def _cpuinfo_flags() -> set[str] | None:
    """The ``flags`` of /proc/cpuinfo (Linux: what the kernel enables), ``None`` elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        return None
    return None


@functools.lru_cache(maxsize=None)
def _cpu_native_bf16() -> bool:
    try:
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return False  # this build has no oneDNN bf16 kernels
    except (AttributeError, RuntimeError):  # pragma: no cover - builds without oneDNN
        return False
    flags = _cpuinfo_flags()
    if flags is None:
        caps = getattr(torch.cpu, "get_capabilities", lambda: {})()
        flags = {k for k in _CPU_FLAGS if caps.get(k)}
    return any(k in flags for k in _CPU_FLAGS)


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bf16 natively, so bf16 autocast makes a loop faster.

    True on CUDA devices with bf16 support (``torch.cuda.is_bf16_supported``, emulation not
    counted) and on x86 CPUs whose flags (/proc/cpuinfo on Linux, ``torch.cpu`` capabilities
    elsewhere) include AVX512-BF16 or AMX-BF16 with a oneDNN build that has bf16 kernels. The
    CPU answer is cached.

    Why: without these instructions oneDNN emulates bf16, and on a 2-core AMD EPYC with AVX2
    only a DRUNet-lite training step under bf16 autocast took 16.1 s against 0.65 s in
    float32. CPUs of other architectures answer False (their bf16 speed is unmeasured).
    """
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return False
        try:
            return bool(torch.cuda.is_bf16_supported(including_emulation=False))
        except TypeError:  # pragma: no cover - older torch without the keyword
            return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return _cpu_native_bf16()
    return False


def resolve(precision: str | Precision = "auto", device: torch.device | str = "cpu"
            ) -> Precision:
    """The :class:`Precision` a loop on ``device`` runs with.

    Parameters
    ----------
    precision : {"auto", "fp32", "bf16"} or Precision
        ``"auto"``: bf16 where :func:`native_bf16`, float32 elsewhere. ``"bf16"`` on a CPU
        without native bf16 is honoured but warns once (it is likely much slower). A
        :class:`Precision` is returned unchanged.
    device : torch.device or str
        Where the network runs.

    Returns
    -------
    Precision
        ``channels_last`` is set on CPU, for float32 as for bf16 (oneDNN's bf16 kernels want
        it, and float32 gains too). Float32 training steps on the 2-core AMD EPYC
        (avx512_bf16), 2 threads, contiguous vs channels_last, median of 30 interleaved steps,
        two runs: DRUNet-lite (batch 4x3x64x64, L1, Adam) 0.121 / 0.127 s vs 0.101 / 0.109 s;
        ZSSR net (64 channels, 8 layers, 1x3x128x128) 0.078 / 0.090 s vs 0.079 / 0.082 s;
        one run of 20 steps on 256x256 colour: DIP skip net 0.110 vs 0.086 s, Self2Self net
        0.216 vs 0.181 s. Off on CUDA (not measured there).

    Raises
    ------
    ValueError
        If ``precision`` is not one of ``"auto"``, ``"fp32"``, ``"bf16"`` or a Precision.
    """
    if isinstance(check_precision(precision), Precision):
        return precision
    device = torch.device(device)
    native = native_bf16(device)
    if precision == "auto":
        precision = "bf16" if native else "fp32"
    cpu = device.type == "cpu"
    if precision == "fp32":
        return Precision("fp32", None, channels_last=cpu)
    if not native and device.type not in _warned:
        _warned.add(device.type)
        warnings.warn(f"precision='bf16' on {device.type}, which has no native bf16 (AVX512-BF16 "
                      "or AMX on CPUs): the loop is likely much slower than in float32; use "
                      "precision='auto' or 'fp32'", RuntimeWarning, stacklevel=2)
    return Precision("bf16", torch.bfloat16, channels_last=cpu)
