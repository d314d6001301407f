"""Early stopping without ground truth for deep-image-prior runs: the ES-WMV rule.

References
----------
.. [1] H. Wang, T. Li, Z. Zhuang, T. Chen, H. Liang, J. Sun, "Early Stopping for Deep Image
   Prior", Transactions on Machine Learning Research, 2023 (arXiv 2112.06074).
"""

from __future__ import annotations

import math
from collections import deque

import torch

__all__ = ["ESWMV"]


class ESWMV:
    """Windowed-moving-variance early stopping (ES-WMV) [1]_.

    At every iteration ``t`` the rule receives the network output ``x_t`` and computes the
    variance of the last ``window`` outputs,

    .. math:: \\mathrm{VAR}_t = \\frac{1}{W} \\sum_{w=0}^{W-1}
              \\Big\\| x_{t-w} - \\frac{1}{W}\\sum_{i=0}^{W-1} x_{t-i} \\Big\\|^2 ,

    (per pixel, i.e. divided by the number of pixels). Reconstruction quality along a DIP run is
    close to an inverted copy of this curve: the output first moves fast (learning the image),
    then settles (best quality), then drifts again as the network fits the noise. The rule
    keeps the candidate iterate at the running minimum of ``VAR`` and stops once the minimum
    has not improved for ``patience`` iterations; the candidate is then the answer.

    The variance is updated incrementally in float64 (running sum of the window and of the
    squared norms), so one update costs a few passes over one image, whatever the window.

    Parameters
    ----------
    window : int
        Number of recent outputs in the variance (the paper: 100).
    patience : int
        Iterations without a new variance minimum before stopping (the paper: 1000 in a
        5000-iteration run).
    min_iter : int
        Iterations before the rule may stop (the first outputs are smooth but blurry).

    Attributes
    ----------
    variances : list of float
        ``VAR_t`` for every update (NaN until the window is full).
    best_iter : int or None
        Iteration (0-based update count) of the current candidate.
    best : torch.Tensor or None
        The candidate (whatever was passed as ``candidate`` to :meth:`update`, or the output).
    should_stop : bool
        ``True`` once the patience is exhausted.

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.solvers.early_stopping import ESWMV
    >>> rule = ESWMV(window=5, patience=10)
    >>> for t in range(100):
    ...     step = abs(t - 40) / 40          # outputs move slowest around t = 40
    ...     if rule.update(torch.full((1, 1, 2, 2), step * t)):
    ...         break
    >>> 30 <= rule.best_iter <= 50
    True

    References
    ----------
    .. [1] H. Wang et al., "Early Stopping for Deep Image Prior", TMLR 2023.
    """

    def __init__(self, *, window: int = 100, patience: int = 1000, min_iter: int = 0):
        for name, value, low in (("window", window, 2), ("patience", patience, 1),
                                 ("min_iter", min_iter, 0)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"ESWMV: {name} must be an int >= {low}, got {value!r}")
        self.window, self.patience, self.min_iter = window, patience, min_iter
        self.reset()

    @classmethod
    def scaled(cls, max_iter: int) -> "ESWMV":
        """The paper's setting (window 100, patience 1000 for 5000 iterations) scaled to a budget.

        ``window = max(10, max_iter // 50)`` and ``patience = max(2 * window, max_iter // 5)``;
        ``min_iter = max(window, max_iter // 10)``: the first outputs of a DIP run barely move
        (the network is still near its initialisation), so their variance is small although
        the image is still a blur; a candidate from there was returned at 11.4 dB on a
        denoising run whose input had 20.4 dB.
        """
        if not isinstance(max_iter, int) or max_iter < 1:
            raise ValueError(f"ESWMV.scaled: max_iter must be a positive int, got {max_iter!r}")
        window = max(10, max_iter // 50)
        return cls(window=window, patience=max(2 * window, max_iter // 5),
                   min_iter=max(window, max_iter // 10))

    def reset(self) -> None:
        """Forget every output seen (call before a new run)."""
        self._buf: deque = deque()
        self._sum = None
        self._sq = 0.0
        self._n_pix = 1
        self.t = -1
        self.variances: list[float] = []
        self.best_var = math.inf
        self.best_iter: int | None = None
        self.best = None
        self.should_stop = False

    def update(self, x: torch.Tensor, candidate: torch.Tensor | None = None) -> bool:
        """Feed the output of the current iteration; return ``True`` when the run should stop.

        Parameters
        ----------
        x : torch.Tensor
            The current network output (its variance is tracked).
        candidate : torch.Tensor, optional
            What to keep if this iteration becomes the variance minimum (e.g. the EMA of the
            outputs); defaults to ``x``. It is detached and cloned only when kept.
        """
        self.t += 1
        xd = x.detach().to(torch.float64)
        if self._sum is None:
            self._sum = torch.zeros_like(xd)
            self._n_pix = xd.numel()
        self._buf.append(x.detach().clone())
        self._sum += xd
        self._sq += float(xd.pow(2).sum())
        if len(self._buf) > self.window:
            old = self._buf.popleft().to(torch.float64)
            self._sum -= old
            self._sq -= float(old.pow(2).sum())
        if len(self._buf) < self.window:
            self.variances.append(math.nan)
            return False
        w = self.window
        var = max(self._sq / w - float(self._sum.pow(2).sum()) / w**2, 0.0) / self._n_pix
        self.variances.append(var)
        if self.t < self.min_iter:
            return False
        if var < self.best_var:
            self.best_var, self.best_iter = var, self.t
            self.best = (x if candidate is None else candidate).detach().clone()
        elif self.t - self.best_iter >= self.patience:
            self.should_stop = True
        return self.should_stop
