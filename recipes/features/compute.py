"""The fbank computations, with no Lhotse and no torch: :class:`NumpyFbank` (kaldi-native-fbank's
features vectorised over blocks of frames) and :func:`knf_features` (kaldi-native-fbank
itself). Their Lhotse feature extractors are in :mod:`recipes.features.extractors`; stage 2
(:mod:`recipes.features.stage`) calls these directly, so that ``diar fbank`` on plain cuts
imports neither Lhotse nor torch (bench/fbank_process.py: start-up is part of its time).

Trap handled here: ``OnlineFbank.get_frame(i)`` returns a *view* of a buffer owned by the
extractor (it changes after ``pop()`` and dangles once the extractor is freed), so frames
are copied into a fresh array; every kaldi-native-fbank option is set from the config
(its defaults are ``snip_edges=True`` and a non-zero dither).
"""

from __future__ import annotations

import math
import threading
from contextlib import contextmanager

import numpy as np
import scipy.fft
from scipy.linalg import blas

from recipes.features.config import KnfFbankConfig


def _knf_options(config: KnfFbankConfig):
    import kaldi_native_fbank as knf

    # every option set explicitly, one line each (a deliberate parallel list: none is left to the
    # binding's defaults, which differ from ours: snip_edges, dither)
    opts = knf.FbankOptions()
    fo = opts.frame_opts
    fo.samp_freq = float(config.sampling_rate)
    fo.frame_length_ms = config.frame_length * 1000.0
    fo.frame_shift_ms = config.frame_shift * 1000.0
    fo.dither = config.dither
    fo.snip_edges = config.snip_edges
    fo.preemph_coeff = config.preemph_coeff
    fo.remove_dc_offset = config.remove_dc_offset
    fo.window_type = config.window_type
    fo.round_to_power_of_two = config.round_to_power_of_two
    mo = opts.mel_opts
    mo.num_bins = config.num_mel_bins
    mo.low_freq = config.low_freq
    mo.high_freq = config.high_freq
    opts.use_energy = config.use_energy
    opts.energy_floor = config.energy_floor
    opts.use_log_fbank = config.use_log_fbank
    opts.use_power = config.use_power
    # Guard against a binding that hands out copies of the nested option
    # structs (then the assignments above would be silently lost).
    if (
        opts.frame_opts.snip_edges != config.snip_edges
        or opts.frame_opts.dither != config.dither
        or opts.frame_opts.samp_freq != config.sampling_rate
        or opts.mel_opts.num_bins != config.num_mel_bins
        or opts.mel_opts.high_freq != config.high_freq
    ):
        raise RuntimeError("kaldi_native_fbank ignored option assignments; got:\n" + str(opts))
    return opts


def knf_features(samples: np.ndarray, config: KnfFbankConfig) -> np.ndarray:
    """kaldi-native-fbank's features of float32 mono ``samples`` at ``config.sampling_rate``:
    ``(T, num_mel_bins [+ 1])`` float32."""
    import kaldi_native_fbank as knf

    fbank = knf.OnlineFbank(_knf_options(config))
    dim = config.num_mel_bins + int(config.use_energy)
    if samples.size:
        # accept_waveform takes the numpy array directly (converted in C++);
        # passing a Python list is only slower.
        fbank.accept_waveform(float(config.sampling_rate), samples)
    fbank.input_finished()
    num_frames = fbank.num_frames_ready
    feats = np.empty((num_frames, dim), dtype=np.float32)
    # No bulk getter exists in kaldi-native-fbank 1.23.  get_frame()
    # returns a view into the extractor's buffer: copy each row out.
    for i in range(num_frames):
        feats[i] = fbank.get_frame(i)
    return feats


# ------------------------------------------------------------ numpy backend
def _povey_window(n: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / (n - 1))) ** 0.85


_WINDOWS = {
    "povey": _povey_window,
    "hanning": lambda n: 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / (n - 1)),
    "hamming": lambda n: 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(n) / (n - 1)),
    "rectangular": lambda n: np.ones(n),
    "sine": lambda n: np.sin(np.pi * np.arange(n) / (n - 1)),
    "blackman": lambda n: (
        0.42 - 0.5 * np.cos(2 * np.pi * np.arange(n) / (n - 1)) + 0.08 * np.cos(4 * np.pi * np.arange(n) / (n - 1))
    ),
}


def kaldi_mel_banks(config: KnfFbankConfig, fft_size: int) -> np.ndarray:
    """``(fft_size // 2, num_mel_bins)`` triangular mel weights, built as Kaldi's MelBanks does
    (mel = 1127 ln(1 + f / 700); bins 0 .. fft_size/2 - 1; high_freq <= 0 is an offset from Nyquist)."""
    sr = config.sampling_rate
    nyquist = 0.5 * sr
    high = config.high_freq if config.high_freq > 0 else nyquist + config.high_freq
    mel = lambda f: 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)  # noqa: E731
    lo_mel, hi_mel = mel(config.low_freq), mel(high)
    delta = (hi_mel - lo_mel) / (config.num_mel_bins + 1)
    bin_mel = mel(np.arange(fft_size // 2) * sr / fft_size)
    banks = np.zeros((fft_size // 2, config.num_mel_bins))
    for b in range(config.num_mel_bins):
        left, centre, right = lo_mel + b * delta, lo_mel + (b + 1) * delta, lo_mel + (b + 2) * delta
        up = (bin_mel > left) & (bin_mel <= centre)
        down = (bin_mel > centre) & (bin_mel < right)
        banks[up, b] = (bin_mel[up] - left) / (centre - left)
        banks[down, b] = (right - bin_mel[down]) / (right - centre)
    return banks.astype(np.float32)


_BLAS_CONTROLLER = None
MEL_GROUPS = 4  # NumpyFbank: mel products per block (see NumpyFbank.__init__)


def _blas_controller():
    """A threadpoolctl controller over the BLAS libraries loaded by numpy and scipy.linalg
    (built once, after both are imported: it only sees libraries already loaded)."""
    global _BLAS_CONTROLLER
    if _BLAS_CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _BLAS_CONTROLLER = ThreadpoolController()
    return _BLAS_CONTROLLER


_ONE_BLAS_THREAD = threading.local()


@contextmanager
def one_blas_thread():
    """BLAS (numpy's, scipy's) limited to one thread inside the block, restored after; nested
    blocks cost nothing (threadpoolctl's limit queries every library, ~0.2-0.5 ms, so a caller
    running many extractions, e.g. a dataset's batch, takes it once)."""
    if getattr(_ONE_BLAS_THREAD, "active", False):
        yield
        return
    with _blas_controller().limit(limits=1, user_api="blas"):
        _ONE_BLAS_THREAD.active = True
        try:
            yield
        finally:
            _ONE_BLAS_THREAD.active = False


class NumpyFbank:
    """The same fbank as kaldi-native-fbank, vectorised over blocks of frames (numpy, scipy's FFT).

    Kaldi's per-frame steps are rewritten as whole-signal operations: frames
    past the edges read the signal reflected (Kaldi's rule for
    ``snip_edges: false``); pre-emphasis ``x[n] - c x[n-1]`` is applied once to
    the whole signal, and the frame's DC removal becomes the subtraction of
    ``(1 - c) * mean`` (frame means from a cumulative sum), with Kaldi's special
    first sample ``(1 - c) * (x[0] - mean)``. Frames are processed in blocks of
    ``block_frames``: windowing, rank-1 DC update, one batched real FFT, power,
    and the mel energies as one BLAS matrix product. Every step but the matrix
    product is exact per frame; the product's accumulation order may depend on
    the frame's position in the block (OpenBLAS edge kernels), which changes a
    log-mel value by a few float32 ulps (< 1e-5), far below lilcom's storage
    step. ``tests/test_fbank_pipeline.py`` checks the result against
    kaldi-native-fbank (< 1e-3) and across block sizes (< 1e-5).
    """

    def __init__(self, config: KnfFbankConfig, block_frames: int = 1024, fft: str = "scipy"):
        """``fft``: ``scipy`` (pocketfft; imports no torch: stage 2) or ``torch`` (MKL on x86,
        15-25 % faster on these batches, where torch is loaded anyway: on-the-fly features).
        The two differ by float32 rounding (< 3e-4 in log-mel, far below lilcom's step)."""
        if fft not in ("scipy", "torch"):
            raise ValueError(f"fft {fft!r}: expected 'scipy' or 'torch'")
        self._rfft = self._torch_rfft if fft == "torch" else self._scipy_rfft
        if config.dither != 0:
            raise ValueError("the numpy backend implements dither 0 only; use backend 'knf'")
        if config.use_energy or not config.use_log_fbank or not config.use_power:
            raise ValueError("the numpy backend implements log power mel energies without energy; use backend 'knf'")
        self.config = config
        self.block_frames = block_frames
        sr = config.sampling_rate
        self.win = int(round(config.frame_length * sr))
        self.hop = int(round(config.frame_shift * sr))
        self.fft = 1 << (self.win - 1).bit_length() if config.round_to_power_of_two else self.win
        window = _WINDOWS[config.window_type](self.win)
        self.window = window.astype(np.float32)
        self.banks = kaldi_mel_banks(config, self.fft)
        # Power and mel weights as matrix products on the squared (re, im) pairs of
        # the FFT (weights repeated for re and im: no strided add), in MEL_GROUPS
        # groups of consecutive filters, each over the FFT bins its filters cover
        # (triangular filters are local: 4 groups need ~1/3 of the multiply-adds of
        # one dense product; measured fastest of 1-8 groups for 23 bins).
        # Entries: (first filter, end filter, first re/im column, end column, weights).
        self.mel_groups = []
        nmel = config.num_mel_bins
        for lo_f, hi_f in [(nmel * i // MEL_GROUPS, nmel * (i + 1) // MEL_GROUPS) for i in range(MEL_GROUPS)]:
            used = np.flatnonzero(self.banks[:, lo_f:hi_f].any(axis=1))
            if hi_f > lo_f:
                lo_b, hi_b = (int(used[0]), int(used[-1]) + 1) if len(used) else (0, 1)
                weights = np.repeat(self.banks[lo_b:hi_b, lo_f:hi_f], 2, axis=0).astype(np.float32)
                self.mel_groups.append((lo_f, hi_f, 2 * lo_b, 2 * hi_b, weights))

    @staticmethod
    def _scipy_rfft(frames: np.ndarray) -> np.ndarray:
        """Real FFT of each row as ``(rows, 2 * bins)`` float32 (re, im interleaved), scipy's
        pocketfft on one thread (no torch import: 1.8 s of a stage-2 process)."""
        return scipy.fft.rfft(frames, axis=1, workers=1).view(np.float32)

    @staticmethod
    def _torch_rfft(frames: np.ndarray) -> np.ndarray:
        """The same with torch's FFT (faster without ``out=``, which copies)."""
        import torch

        return torch.view_as_real(torch.fft.rfft(torch.from_numpy(frames), dim=1)).numpy().reshape(len(frames), -1)

    def num_frames(self, num_samples: int) -> int:
        if self.config.snip_edges:
            return 0 if num_samples < self.win else 1 + (num_samples - self.win) // self.hop
        return (num_samples + self.hop // 2) // self.hop

    def _segment(self, x: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """Samples ``lo .. hi`` of ``x``, indices past the edges reflected as Kaldi does
        for ``snip_edges: false`` (-1 -> 0, -2 -> 1, n -> n-1, n+1 -> n-2). A view
        when no reflection is needed."""
        n = len(x)
        if lo >= 0 and hi <= n:
            return x[lo:hi]
        if -n <= lo < n and 0 < hi <= 2 * n:  # one reflection at each end at most: copy only the ends
            head = x[: max(-lo, 0)][::-1]  # -1, -2, .. -> 0, 1, ..
            tail = x[2 * n - hi : n][::-1] if hi > n else x[:0]  # n, n+1, .. -> n-1, n-2, ..
            return np.concatenate([head, x[max(lo, 0) : min(hi, n)], tail])
        idx = np.arange(lo, hi)
        while ((idx < 0) | (idx >= n)).any():
            idx = np.where(idx < 0, -idx - 1, idx)
            idx = np.where(idx >= n, 2 * n - 1 - idx, idx)
        return x[idx]

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        # The BLAS calls below are small (a rank-1 update and a (block x 128) @ (128 x 23)
        # product per block); OpenBLAS would hand each to its thread pool, whose
        # wake-ups cost ~6x the whole computation. One thread, restored on return.
        with one_blas_thread():
            return self._compute(samples)

    def _compute(self, samples: np.ndarray) -> np.ndarray:
        """Blocks of frames, each from its own slice of the signal (kept in cache):
        pre-emphasis, frame means, windowing, DC removal, FFT, power, mel, log."""
        cfg = self.config
        x = np.ascontiguousarray(samples, dtype=np.float32)
        win, hop, half = self.win, self.hop, self.fft // 2
        T = self.num_frames(len(x))
        out = np.empty((T, cfg.num_mel_bins), dtype=np.float32)
        if T == 0:
            return out
        first = 0 if cfg.snip_edges else hop // 2 - win // 2  # sample where frame 0 starts
        c = np.float32(cfg.preemph_coeff)
        g = math.gcd(win, hop)  # frame sums from sums over groups of g samples
        size = min(self.block_frames, T)
        seg_len = (size - 1) * hop + win
        e = np.empty(seg_len, dtype=np.float32)
        frames = np.lib.stride_tricks.as_strided(e, shape=(size, win), strides=(hop * 4, 4))  # frame i: e[i*hop:][:win]
        buf = np.zeros((size, self.fft), dtype=np.float32)
        w, w0 = self.window, self.window[0]
        w_padded = np.zeros(self.fft, dtype=np.float32)
        w_padded[:win] = w
        floor = np.float32(np.finfo(np.float32).eps)
        for a in range(0, T, size):
            b = min(a + size, T)
            k = b - a
            n_seg = (k - 1) * hop + win
            seg = self._segment(x, a * hop + first, a * hop + first + n_seg)  # frame a+i: seg[i*hop:][:win]
            es = e[:n_seg]  # pre-emphasis x[n] - c x[n-1]; es[0] is never read (first samples are set below)
            np.multiply(seg[:-1], c, out=es[1:])
            np.subtract(seg[1:], es[1:], out=es[1:])
            blk = buf[:k]
            np.multiply(frames[:k], w, out=blk[:, :win])
            if cfg.remove_dc_offset:
                # frame sums from sums of groups of g samples, added in the same order
                # whatever the block (frame i = groups i*r .. i*r + q - 1)
                # (einsum's row sums are exact whatever the row's position; BLAS gemv's are not)
                groups = np.einsum("ij->i", seg[: n_seg // g * g].reshape(-1, g))
                r, q = hop // g, win // g
                m = groups[0 : (k - 1) * r + 1 : r].copy()
                for j in range(1, q):
                    m += groups[j : j + (k - 1) * r + 1 : r]
                m *= np.float32(1 / win)
                # blk -= outer((1 - c) m, w), in place (BLAS rank-1 update on the transposed view)
                blas.sger(-1.0, w_padded, (1 - c) * m, a=blk.T, overwrite_a=True)
            else:
                m = np.float32(0)
            blk[:, 0] = (1 - c) * (seg[0 : n_seg - win + 1 : hop] - m) * w0  # Kaldi: x[0] - c x[0]
            # (k, half + 1, re/im); Kaldi's banks ignore the Nyquist bin
            sq = self._rfft(blk).reshape(k, 2 * (half + 1))
            np.square(sq, out=sq)
            mel = out[a:b]
            for lo_f, hi_f, lo_c, hi_c, weights in self.mel_groups:
                np.matmul(sq[:, lo_c:hi_c], weights, out=mel[:, lo_f:hi_f])
            np.maximum(mel, floor, out=mel)
            np.log(mel, out=mel)
        return out

    def extract(self, samples, sampling_rate: int) -> np.ndarray:
        """Same interface as :meth:`KaldiNativeFbank.extract` (for on-the-fly features)."""
        if sampling_rate != self.config.sampling_rate:
            raise ValueError(f"NumpyFbank is configured for {self.config.sampling_rate} Hz, got {sampling_rate} Hz")
        samples = np.asarray(samples)
        if samples.ndim == 2:
            if samples.shape[0] != 1:
                raise ValueError(f"NumpyFbank expects mono audio, got shape {samples.shape}")
            samples = samples[0]
        return self(samples)
