"""FFT convolution with boundary handling, shared by :class:`Blur` and :class:`Downsampling`.

A kernel ``k`` of odd size ``(2 rh + 1, 2 rw + 1)`` has its centre at ``(rh, rw)`` and the
convolution is ``(k * x)[n] = sum_m k[m] x[n - m]``. The boundary modes are

* ``"circular"``: periodic image, output ``(H, W)``, computed by FFT at size ``(H, W)``;
* ``"reflect"`` / ``"replicate"``: the image is extended by ``(rh, rw)`` pixels (as
  ``torch.nn.functional.pad`` does; ``reflect`` mirrors without repeating the edge pixel),
  output ``(H, W)``;
* ``"valid"``: only the pixels whose support lies inside the image, output
  ``(H - 2 rh, W - 2 rw)``.

The extension is a gather with an index map, so its adjoint is the matching ``index_add``;
the non-circular modes convolve by FFT at a fast length at least ``H + 2 rh`` (no
wrap-around reaches the kept pixels), so large kernels cost the same as small ones.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import torch

PADDINGS = ("circular", "reflect", "replicate", "valid")


def check_padding(padding) -> str:
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    return padding


def _pad_index(n: int, r: int, padding: str) -> np.ndarray:
    if padding == "valid" or r == 0:
        return np.arange(n)
    if padding == "reflect" and n < 2:
        raise ValueError(f"padding='reflect' needs at least 2 pixels per side, got {n}; "
                         "use padding='replicate'")
    mode = {"reflect": "reflect", "replicate": "edge"}[padding]
    return np.pad(np.arange(n), r, mode=mode)


class ConvMixin:
    """Registers the buffers of an FFT convolution with a fixed kernel and boundary mode."""

    def _setup_conv(self, kernel: torch.Tensor, hw: tuple[int, int], padding: str) -> None:
        kernel = kernel.to(torch.float64)
        kh, kw = kernel.shape
        h, w = hw
        if kh > h or kw > w:
            raise ValueError(f"kernel of size {kh}x{kw} is larger than the image ({h}x{w}); "
                             "use a smaller kernel or a larger image")
        rh, rw = kh // 2, kw // 2
        self.padding = padding
        self._rh, self._rw = rh, rw
        if padding == "circular":
            fh, fw = h, w
            self._crop = (0, h, 0, w)
            idx_h, idx_w = np.arange(h), np.arange(w)
        else:
            idx_h, idx_w = _pad_index(h, rh, padding), _pad_index(w, rw, padding)
            ph, pw = len(idx_h), len(idx_w)
            fh = scipy.fft.next_fast_len(ph, real=True)
            fw = scipy.fft.next_fast_len(pw, real=True)
            self._crop = (rh, ph - rh, rw, pw - rw)
        self._fft_hw = (fh, fw)
        self._conv_out = (self._crop[1] - self._crop[0], self._crop[3] - self._crop[2])
        self._pads = padding != "circular" and padding != "valid" and (rh or rw)
        # kernel placed with its centre at (0, 0) of the periodic FFT grid
        grid = torch.zeros((fh, fw), dtype=torch.float64)
        grid[:kh, :kw] = kernel
        grid = torch.roll(grid, shifts=(-rh, -rw), dims=(0, 1))
        spec = torch.fft.rfft2(grid)
        self.register_buffer("kernel", kernel.to(torch.float32))
        self.register_buffer("_spec", torch.view_as_real(spec).to(torch.float32).contiguous())
        self.register_buffer("_idx_h", torch.as_tensor(idx_h, dtype=torch.long))
        self.register_buffer("_idx_w", torch.as_tensor(idx_w, dtype=torch.long))

    def _spectrum(self) -> torch.Tensor:
        return torch.view_as_complex(self._spec)

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        if self._pads:
            x = x.index_select(-2, self._idx_h).index_select(-1, self._idx_w)
        fh, fw = self._fft_hw
        out = torch.fft.irfft2(torch.fft.rfft2(x, s=(fh, fw)) * self._spectrum(), s=(fh, fw))
        h0, h1, w0, w1 = self._crop
        if (h0, h1, w0, w1) == (0, fh, 0, fw):
            return out
        return out[..., h0:h1, w0:w1]

    def _conv_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        fh, fw = self._fft_hw
        h0, h1, w0, w1 = self._crop
        if (h0, h1, w0, w1) != (0, fh, 0, fw):
            full = y.new_zeros(y.shape[:-2] + (fh, fw))
            full[..., h0:h1, w0:w1] = y
            y = full
        out = torch.fft.irfft2(torch.fft.rfft2(y) * self._spectrum().conj(), s=(fh, fw))
        ph, pw = len(self._idx_h), len(self._idx_w)
        out = out[..., :ph, :pw]
        if self._pads:
            h, w = self.img_shape[1:]
            tmp = out.new_zeros(out.shape[:-1] + (w,)).index_add_(-1, self._idx_w, out)
            out = tmp.new_zeros(tmp.shape[:-2] + (h, w)).index_add_(-2, self._idx_h, tmp)
        return out.contiguous()
