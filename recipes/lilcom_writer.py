"""A faster writer of Lhotse's ``lilcom_chunky`` feature archives (same format, same bytes).

Lhotse's ``LilcomChunkyWriter`` compresses a feature matrix in chunks of 100
frames with ``lilcom.compress``: per chunk, two regression coefficients
estimated with a dozen small numpy calls in Python (``lilcom.regress_array``),
then lilcom's C++ compressor, whose closed-loop quantisation is one long
dependency chain (~25 ns per value). Together they were the slowest step of
stage 2.

:class:`FastLilcomChunkyWriter` computes the coefficients of all chunks at
once with the same float32 arithmetic (same products, same pairwise sums in the
same memory order, same clamping and rounding to 1/256), then encodes the
chunks with :mod:`recipes.lilcom_codec` (compiled with numba, chunks side by
side), and writes them with one call. Inputs that codec does not cover go to
lilcom's own compressor. The archive is read by Lhotse's stock
``LilcomChunkyReader`` (the storage type stays ``lilcom_chunky``);
``tests/test_lilcom_writer.py`` checks the bytes against ``LilcomChunkyWriter``
and ``lilcom.compress``. Unlike ``lilcom.compress``, the caller's array is left
untouched (lilcom's C compressor quantises its input in place).
"""

from pathlib import Path
from typing import List, Tuple

import numpy as np

GROUP = 32  # chunks whose coefficients are computed together
MAX_ABS = 65536.0  # larger values (never fbank log energies) go to lilcom's compressor
# |code| <= (|x| + |prediction|) / tick <= (3 max|x| + 2 tick) / tick (coefficients in [-1, 1],
# decoded values within a tick of the input); below this, codes and their zigzag values fit int32
# and lilcom never reaches its clamping of out-of-range codes.
MAX_CODE = float(1 << 29)
TICK_POWERS = range(-20, 21)  # lilcom's own limits (it refuses others)


def covered(data: np.ndarray, tick_power: int) -> bool:
    """Whether this float32 matrix and tick are ones the chunk coefficients computed here and
    :mod:`recipes.lilcom_codec` reproduce lilcom's bytes for: 2-D with at least two
    dimensions, finite, ``|x| <= MAX_ABS``, ``tick_power`` in lilcom's range, and codes that
    cannot come near int32's limits (``MAX_CODE``)."""
    if not (
        data.ndim == 2
        and data.shape[0] > 0
        and data.shape[1] > 1
        and tick_power in TICK_POWERS
        and bool(np.isfinite(data).all())
    ):
        return False
    peak = float(np.abs(data).max())
    return peak <= MAX_ABS and (3 * peak + 2 * 2.0**tick_power) * 2.0**-tick_power < MAX_CODE


def _clamp(coeff: np.ndarray) -> np.ndarray:
    """lilcom.regress_array's rule: |c| < 0.02 -> 0, else clipped to [-1, 1]."""
    out = np.clip(coeff, np.float32(-1.0), np.float32(1.0))
    out[np.abs(coeff) < 0.02] = 0
    return out.astype(np.float32)


def regression_coefficients(chunks: np.ndarray) -> np.ndarray:
    """``(num_chunks, 2)`` lilcom regression coefficients of ``(num_chunks, frames, dims)``
    float32 chunks, as ``lilcom.regress_array(chunk, True)`` computes them one by one."""
    nc, n, d = chunks.shape
    coeffs = np.zeros((nc, 2), dtype=np.float32)
    eps = np.float32(1.0e-20)
    x = chunks
    if n > 1:  # axis 0: previous frame
        num = (x[:, :-1] * x[:, 1:]).reshape(nc, -1).sum(axis=1)
        den = np.square(x[:, :-1]).reshape(nc, -1).sum(axis=1) + eps
        c0 = _clamp(num / den)
        coeffs[:, 0] = c0
        y = x.copy()
        y[:, 1:] -= x[:, :-1] * c0[:, None, None]
        x = y
    if d > 1:  # axis 1: previous dimension, on the residual of axis 0
        # regress_array swaps the axes; the products keep the (frame, dim) memory
        # order, so their sum runs over frames-major rows like this reshape
        num = (x[:, :, :-1] * x[:, :, 1:]).reshape(nc, -1).sum(axis=1)
        den = np.square(x[:, :, :-1]).reshape(nc, -1).sum(axis=1) + eps
        coeffs[:, 1] = _clamp(num / den)
    return coeffs


def chunk_coefficients(data: np.ndarray, chunk_size: int) -> np.ndarray:
    """``(num_chunks, 2)`` integer lilcom coefficients (units of 1/256) of the chunks of
    ``chunk_size`` frames of a 2-D float32 matrix, the last chunk possibly shorter."""
    T, d = data.shape
    full = T // chunk_size
    out = np.empty((-(-T // chunk_size), 2), dtype=np.int64)
    chunks = data[: full * chunk_size].reshape(full, chunk_size, d)
    for g in range(0, full, GROUP):  # groups of chunks: the temporaries stay in cache
        out[g : min(g + GROUP, full)] = np.round(
            regression_coefficients(chunks[g : g + GROUP]).astype(np.float64) * 256
        )
    if full * chunk_size < T:
        out[full] = np.round(regression_coefficients(data[None, full * chunk_size :]).astype(np.float64)[0] * 256)
    return out


def _encoded(data: np.ndarray, tick_power: int, chunk_size: int, compiled: bool = True) -> Tuple[memoryview, List[int]]:
    """The lilcom bytes of the chunks of ``chunk_size`` frames of ``data``, concatenated,
    and each chunk's size: from :mod:`recipes.lilcom_codec` where it covers the input,
    else from ``lilcom.compress`` per chunk (what Lhotse's writer calls).

    ``compiled=False``: the coefficients computed here, then lilcom's own C compressor per
    chunk (the same bytes; about 1.7x slower than the numba codec, but with no numba import
    and cache load, about 1 s of a process: the better choice below a few hours of audio)."""
    data = np.array(data, dtype=np.float32, order="C", copy=True)  # both compressors write into it
    if compiled:
        from recipes import lilcom_codec  # imports numba: only when asked for

        compiled = lilcom_codec.AVAILABLE
    if covered(data, tick_power):
        coeffs = chunk_coefficients(data, chunk_size)
        if compiled:
            buffer, ends = lilcom_codec.encode_chunks(data, coeffs, tick_power, chunk_size)
            return memoryview(buffer), np.diff(ends, prepend=0).tolist()
        import lilcom_extension  # lilcom.compress's core: lilcom.compress(x) == compress_float(x, [tick, *coeffs])

        blobs = [
            lilcom_extension.compress_float(data[b : b + chunk_size], [tick_power, *map(int, coeffs[i])])
            for i, b in enumerate(range(0, data.shape[0], chunk_size))
        ]
        return memoryview(b"".join(blobs)), [len(b) for b in blobs]
    import lilcom

    blobs = [
        lilcom.compress(data[b : b + chunk_size], tick_power=tick_power) for b in range(0, data.shape[0], chunk_size)
    ]
    return memoryview(b"".join(blobs)), [len(b) for b in blobs]


def compress_chunked(data: np.ndarray, tick_power: int = -5, chunk_size: int = 100) -> List[bytes]:
    """``lhotse.features.compression.lilcom_compress_chunked``, faster (same bytes)."""
    buffer, sizes = _encoded(data, tick_power, chunk_size)
    ends = np.cumsum([0] + sizes).tolist()
    return [buffer[a:b].tobytes() for a, b in zip(ends[:-1], ends[1:])]


class FastLilcomChunkyWriter:
    """Lhotse's ``LilcomChunkyWriter`` with :mod:`recipes.lilcom_codec`: same file name rule, same
    archive, same storage keys. Not a subclass, so that stage 2 imports no Lhotse (its
    constructor, ``name``, ``storage_path``, ``close`` and context manager are the same as
    Lhotse's writer's; ``tests/test_lilcom_writer.py`` checks them against it)."""

    name = "lilcom_chunky"
    CHUNK_SIZE = 500  # lhotse.features.io.CHUNKY_FORMAT_CHUNK_SIZE (a test checks)

    def __init__(self, storage_path, tick_power: int = -5, mode: str = "wb", compiled: bool = True):
        """``compiled``: encode with the numba codec (see :func:`_encoded`)."""
        self.compiled = compiled
        if "b" not in mode:
            mode = mode + "b"
        if mode not in ("wb", "ab"):
            raise ValueError(f"mode {mode!r}: expected 'w' or 'a'")
        p = Path(storage_path)
        self.storage_path_ = p.with_suffix(p.suffix + ".lca" if p.suffix != ".lca" else ".lca")  # Lhotse's rule
        self.tick_power = tick_power
        self.file = open(self.storage_path_, mode=mode)
        self.curr_offset = self.file.tell()

    @property
    def storage_path(self) -> str:
        return str(self.storage_path_)

    def close(self) -> None:
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *args) -> None:
        self.close()

    def write(self, key: str, value: np.ndarray) -> str:
        buffer, sizes = _encoded(value, self.tick_power, self.CHUNK_SIZE, self.compiled)
        self.file.write(buffer)
        key = ",".join(map(str, [self.curr_offset] + sizes))
        self.curr_offset += sum(sizes)
        return key
