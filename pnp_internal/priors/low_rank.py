r"""Low-rank updates of a convolutional denoiser's weights (LoRA-style adaptation).

Each convolution's weight :math:`W` (out x in x k x k) becomes :math:`W + BA` with
:math:`B` (out x r) starting at zero and :math:`A` (r x in k k) random, so the network is
unchanged until :math:`B` moves [1]_. Adapting a pretrained denoiser to one image then fits
:math:`r(\text{out} + \text{in}\,k^2)` numbers per layer: more freedom than one gain per channel
(GainTuning), far less than all weights. Built on :mod:`torch.nn.utils.parametrize`, so the
module keeps its interface and deep copies carry the update.

References
----------
.. [1] E. J. Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", ICLR 2022.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrize

__all__ = ["LowRankUpdate", "attach_low_rank", "low_rank_parameters"]


class LowRankUpdate(nn.Module):
    """The parametrization :math:`W \\mapsto W + BA` of one convolution weight.

    Parameters
    ----------
    weight : torch.Tensor
        The weight it updates (its shape, device and dtype are used).
    rank : int
        Rank :math:`r` of the update.
    generator : torch.Generator, optional
        Draws :math:`A` (Kaiming-uniform, as LoRA).
    """

    def __init__(self, weight: torch.Tensor, rank: int, generator: torch.Generator | None = None):
        super().__init__()
        out, fan_in = weight.shape[0], weight[0].numel()
        bound = 1.0 / math.sqrt(fan_in)
        a = torch.rand(rank, fan_in, generator=generator) * 2 * bound - bound
        self.A = nn.Parameter(a.to(device=weight.device, dtype=weight.dtype))
        self.B = nn.Parameter(torch.zeros(out, rank, device=weight.device, dtype=weight.dtype))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight + (self.B @ self.A).view_as(weight).to(weight.dtype)


def attach_low_rank(model: nn.Module, rank: int = 4, *, seed: int = 0) -> list[nn.Parameter]:
    """Give every convolution of ``model`` a rank-``rank`` weight update (in place).

    Layers whose weight is already of rank ``<= rank`` (for example 1x1 convolutions with few
    inputs) get the update too: it is then a full update of that small layer. Calling it twice
    does not add updates twice.

    Returns
    -------
    list of torch.nn.Parameter
        The update factors :math:`A, B` of every layer, in module order.

    Raises
    ------
    ValueError
        If ``rank`` is not an int >= 1.
    TypeError
        If ``model`` has no convolution.
    """
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ValueError(f"rank must be an int >= 1, got {rank!r}")
    generator = torch.Generator().manual_seed(seed)
    convs = [m for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd)]
    if not convs:
        raise TypeError(f"a low-rank update needs a convolutional denoiser, "
                        f"{type(model).__name__} has no convolution layer")
    for conv in convs:
        if not parametrize.is_parametrized(conv, "weight"):
            parametrize.register_parametrization(
                conv, "weight", LowRankUpdate(conv.weight, rank, generator))
    return low_rank_parameters(model)


def low_rank_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The factors added by :func:`attach_low_rank` (empty if none)."""
    return [p for m in model.modules() if isinstance(m, LowRankUpdate) for p in (m.A, m.B)]
