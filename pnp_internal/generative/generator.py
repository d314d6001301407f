"""The project's small image generator ``G(z)``: 64x64 images from a 128-d latent vector.

The network is deepinv's :class:`~deepinv.models.DCGANGenerator` [1]_ (four stride-2 transposed
convolutions with batch normalisation, ``tanh`` output, mapped here to [0, 1]). Its weights are
the decoder of a variational auto-encoder [2]_ trained by :mod:`pnp_internal.generative.training`
on 64x64 crops of the training images, so ``z`` drawn from N(0, I) is a plausible latent and
``|z|^2`` is the natural regulariser of CSGM. The shipped generator is colour; the gray
generator is its luma (ITU-R BT.601), one linear map more, so that the same weights serve both.

References
----------
.. [1] A. Radford, L. Metz and S. Chintala, "Unsupervised Representation Learning with Deep
   Convolutional Generative Adversarial Networks", ICLR 2016.
.. [2] D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from deepinv.models import DCGANGenerator
from torch import nn

__all__ = ["Generator", "pretrained", "FORMAT", "SIZE", "WEIGHTS"]

#: Value of the ``format`` metadata key of the project's generator weight files.
FORMAT = "pnp_internal-generator-v1"
#: Side of the generated images.
SIZE = 64
#: The shipped generator weights.
WEIGHTS = Path(__file__).resolve().parent / "weights" / "vae64-color.safetensors"
_LUMA = (0.299, 0.587, 0.114)


class Generator(nn.Module):
    """``G(z)``: a latent batch ``(B, nz)`` to images ``(B, channels, 64, 64)`` in [0, 1].

    Parameters
    ----------
    nz : int
        Latent dimension.
    ngf : int
        Width of the last hidden layer (the others are 2, 4 and 8 times it).
    channels : int
        3 for colour, 1 for the luma of the colour output (the network itself is colour).

    Examples
    --------
    >>> import torch
    >>> from pnp_internal.generative import Generator
    >>> g = Generator(nz=8, ngf=4).eval()
    >>> g(torch.zeros(2, 8)).shape
    torch.Size([2, 3, 64, 64])
    >>> g.gray()(torch.zeros(2, 8)).shape
    torch.Size([2, 1, 64, 64])
    """

    def __init__(self, *, nz: int = 128, ngf: int = 64, channels: int = 3):
        super().__init__()
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (gray) or 3 (colour), got {channels}")
        self.nz, self.ngf, self.channels = int(nz), int(ngf), int(channels)
        self.net = DCGANGenerator(output_size=SIZE, nz=self.nz, ngf=self.ngf, nc=3)
        self.metadata: dict = {}

    @property
    def config(self) -> dict:
        return {"arch": "dcgan", "nz": self.nz, "ngf": self.ngf, "size": SIZE}

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.nz:
            raise ValueError(f"expected z of shape (B, {self.nz}), got {tuple(z.shape)}")
        x = (self.net(z[:, :, None, None]) + 1) / 2
        if self.channels == 1:
            w = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
            x = (x * w).sum(1, keepdim=True)
        return x

    def coarse_parameters(self, stages: int) -> list[nn.Parameter]:
        """The weights of the first ``stages`` of the network's five resolution stages (each
        a transposed convolution and its batch norm, 4x4 to 64x64 from the latent): the
        coarse layers, whose change moves the image's structure rather than single pixels."""
        convs = [i for i, m in enumerate(self.net.model) if isinstance(m, nn.ConvTranspose2d)]
        if not 1 <= stages <= len(convs):
            raise ValueError(f"stages must be in [1, {len(convs)}], got {stages}")
        end = convs[stages] if stages < len(convs) else len(self.net.model)
        return [p for m in list(self.net.model)[:end] for p in m.parameters()]

    def gray(self) -> "Generator":
        """The same weights (shared, not copied) with a luma output."""
        out = Generator(nz=self.nz, ngf=self.ngf, channels=1)
        out.net, out.metadata = self.net, self.metadata
        return out.train(self.training)

    def save(self, path: str | Path, *, metadata: dict | None = None) -> None:
        """Write the weights (float16 safetensors) with string metadata, atomically."""
        from ..io import write_weights

        write_weights(self.net, path, fmt=FORMAT, architecture=self.config, metadata=metadata)

    @classmethod
    def load(cls, path: str | Path, *, channels: int = 3) -> "Generator":
        """Read weights written by :meth:`save`."""
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no generator weights at {path}; train them with "
                                    "`pnp-internal train-generator` or pass another path")
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path} is not a pnp_internal generator file (format "
                             f"{meta.get('format')!r}, expected {FORMAT!r})")
        arch = json.loads(meta["architecture"])
        out = cls(nz=arch["nz"], ngf=arch["ngf"], channels=channels)
        out.net.load_state_dict({k: v.float() for k, v in state.items()})
        out.metadata = meta
        return out.eval()


def pretrained(channels: int = 3, *, path: str | Path | None = None) -> Generator:
    """The shipped generator (colour, or its luma with ``channels=1``), in eval mode."""
    return Generator.load(WEIGHTS if path is None else path, channels=channels)
