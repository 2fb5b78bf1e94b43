"""A compiled (numba) encoder of lilcom's 2-D float format: the bytes of ``lilcom.compress``.

Why: lilcom's own C++ compressor costs ~25 ns per value (a heap-allocated
buffer per 32 codes, a bit writer appending byte by byte to a ``std::vector``),
which made it the slowest step of stage 2 (~40 % of ``diar fbank``). This
encoder computes the same stream for many chunks in one call, ~10x faster.

The format, as lilcom 1.x writes it for a ``(frames, dims)`` float32 array with
``tick = 2**tick_power`` and integer regression coefficients ``c0`` (previous
frame) and ``c1`` (previous dimension), both in [-256, 256] (units of 1/256):

1. Closed-loop quantisation, frame by frame, dimension by dimension, in float32:
   ``pred = c1/256 * y[i, j-1] (0 for j = 0) + c0/256 * y[i-1, j] (left out for
   i = 0 or c0 = 0)``, ``code = round(x - pred) / tick)`` rounded half away from
   zero, ``y[i, j] = pred + code * tick`` (the decoded value, used by later
   predictions).
2. A stream of unsigned integers: the header ``num_axes, tick_power, frames,
   c0, dims, c1`` then the codes, each signed value mapped to ``2v`` (v >= 0)
   or ``-2v - 1`` (v < 0).
3. Each integer gets a bit width ``w[k] = max_m(nbits(u[m]) - |k - m|)``, the
   smallest widths >= the values' bit counts that change by at most one from
   one integer to the next. (lilcom computes them over windows of 64
   integers, flushing 32 at a time; the result is the same because an integer
   33 places away can lower no width: ``nbits - 33 < 0``.)
4. Bits, least significant first, packed into bytes: 5 bits ``min(w[0], 31)``
   (plus one bit ``w[0] - 31`` when ``w[0] >= 31``); then per integer with
   ``w > 0``: the step to the next width (``0`` same, ``11`` up, ``10``
   down, as the 2-bit values 0, 3, 1), then its ``w`` bits, or ``w - 1`` bits
   when the top bit is implied (``w[k-1] <= w[k] >= w[k+1]``, with
   ``w[-1] = w[0]`` and ``w[K] = w[K-1]``). Integers of width 0 are counted, and a run
   of ``n`` of them is written before the next non-zero-width integer (or at
   the end) as ``b = nbits(n) - 1`` zeros, a one, then the low ``b`` bits of ``n``.
5. The bytes ``b"L\\x00"`` (lilcom's header and format version) precede the stream.

``tests/test_lilcom_writer.py`` checks the bytes against ``lilcom.compress``
on fbank features, random walks, constant and zero chunks, huge jumps and
every partial-chunk length; inputs the encoder does not cover (not 2-D, one
dimension, non-finite or very large values, codes that could near int32's
limits: see :func:`supported`) go to lilcom itself.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from typing import Optional

import numpy as np

try:  # numba is a dependency; without it (an unsupported platform) lilcom's own compressor is used
    import numba
    from numba.cpython.unsafe.numbers import leading_zeros
except ImportError:  # pragma: no cover - exercised by forcing AVAILABLE = False in the tests
    numba = None

from recipes.lilcom_writer import MAX_ABS, MAX_CODE, TICK_POWERS, covered  # noqa: E402,F401 - numba-free limits

AVAILABLE = numba is not None


_CACHE = {"on": True}  # False once numba's cache proved unwritable (then compiled per process)


def _fallback_cache_dir() -> Optional[str]:
    """A writable directory for numba's cache when neither the install's ``__pycache__`` nor
    the user's cache directory is writable (read-only install, unwritable HOME): a per-user
    directory under the system temporary directory, or None when there is none."""
    if os.environ.get("NUMBA_CACHE_DIR"):  # the user's own choice failed: do not override it
        return None
    path = os.path.join(tempfile.gettempdir(), f"recipes-numba-cache-{getattr(os, 'getuid', lambda: 0)()}")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError:
        return None
    return path


def _jit(fn):
    """``numba.njit`` with an on-disk cache (compiled once per install, then loaded), falling
    back to a writable cache directory, or to no cache, with a warning, where numba finds no
    writable place (it would raise ``RuntimeError: cannot cache function`` on import)."""
    if not AVAILABLE:
        return fn
    options = dict(nogil=True, boundscheck=False)
    if _CACHE["on"]:
        try:
            return numba.njit(cache=True, **options)(fn)
        except RuntimeError as err:  # no cache locator
            if "cannot cache" not in str(err):
                raise
            path = _fallback_cache_dir()
            if path is not None:
                os.environ["NUMBA_CACHE_DIR"] = path  # also for worker processes started later
                numba.config.CACHE_DIR = path
                warnings.warn(
                    f"recipes.lilcom_codec: numba cannot write its cache next to {__file__} "
                    f"or in the user's cache directory; caching in {path}",
                    RuntimeWarning,
                )
                try:
                    return numba.njit(cache=True, **options)(fn)
                except RuntimeError:
                    pass
            _CACHE["on"] = False
            warnings.warn(
                "recipes.lilcom_codec: no writable directory for numba's cache (set "
                "NUMBA_CACHE_DIR to one); the encoder is compiled in each process",
                RuntimeWarning,
            )
    return numba.njit(**options)(fn)


GROUP = 64  # chunks quantised together: their closed loops are independent, so they run side by side


@_jit
def _put(out, pos, acc, nacc):
    """Moves the whole bytes of the bit accumulator ``acc`` (``nacc`` <= 48 bits, lowest
    first) to ``out[pos:]``; returns ``(pos, acc, nacc)`` with < 8 bits left. Always
    stores 6 bytes (``out`` has room), which costs less than a loop's mispredictions."""
    for b in range(6):
        out[pos + b] = np.uint8((acc >> np.uint64(8 * b)) & np.uint64(255))
    whole = nacc >> np.uint64(3)
    return pos + whole, acc >> (whole << np.uint64(3)), nacc & np.uint64(7)


@_jit
def _zero_run(zeros, out, pos, acc, nacc):
    """Writes lilcom's code of a run of ``zeros`` integers of width 0 (``b = nbits(zeros) - 1``
    zeros, a one, then the low ``b`` bits of ``zeros``) in two parts of at most 32 bits, so
    the accumulator never holds more than 39; returns ``(pos, acc, nacc)``."""
    b = np.uint64(63 - leading_zeros(np.uint64(zeros)))
    one = np.uint64(1)
    acc |= (one << b) << nacc
    pos, acc, nacc = _put(out, pos, acc, nacc + b + one)
    acc |= (np.uint64(zeros) & ((one << b) - one)) << nacc
    return _put(out, pos, acc, nacc + b)


@_jit
def _encode_group(x, coeffs, tick_power, vals, widths, xt, prev, out, pos, ends):
    """Appends the lilcom bytes of the chunks ``x[c]`` (``(G, n, d)`` float32; ``coeffs[c]``:
    their integer coefficients) to ``out`` from byte ``pos``, chunk c ending at ``ends[c]``;
    returns the new end. Scratch: ``vals``, ``widths`` ``(>= 6 + n d, >= G)`` int32,
    ``xt`` ``(>= n, >= d, >= G)`` float32, ``prev`` ``(>= G,)`` float32.

    The chunks go through each step side by side (index c innermost), so the long
    dependency chain of one chunk's closed loop (each value predicted from the last
    decoded one) no longer sets the pace, and the compiler can use SIMD."""
    G, n, d = x.shape
    K = 6 + n * d
    tick = np.float32(2.0**tick_power)
    inv_tick = np.float32(2.0**-tick_power)
    half = 0.5
    f0 = np.empty(G, dtype=np.float32)
    f1 = np.empty(G, dtype=np.float32)
    for c in range(G):
        c0, c1 = coeffs[c, 0], coeffs[c, 1]
        # a zero coefficient: lilcom skips the term; adding 0 * y instead changes no code
        f0[c] = np.float32(c0 / 256.0)
        f1[c] = np.float32(c1 / 256.0)
        head = (2, tick_power, n, c0, d, c1)
        for k in range(6):
            v = head[k]
            vals[k, c] = 2 * v if v >= 0 else -2 * v - 1
        for i in range(n):
            for j in range(d):
                xt[i, j, c] = x[c, i, j]
    # 1. closed-loop quantisation (float32 as lilcom; round half away from zero)
    for i in range(n):
        for c in range(G):
            prev[c] = 0.0
        for j in range(d):
            k = 6 + i * d + j
            for c in range(G):
                pred = prev[c]
                if i > 0:
                    pred = pred + xt[i - 1, j, c] * f0[c]
                v = (xt[i, j, c] - pred) * inv_tick
                r = np.float64(v)
                code = np.int32(np.trunc(r + half) if r >= 0 else np.trunc(r - half))
                y = pred + np.float32(code) * tick
                xt[i, j, c] = y
                prev[c] = y * f1[c]
                vals[k, c] = (code << 1) ^ (code >> 31)
    # 2. bit widths: w[k] = max(nbits(u[k]), w[k-1] - 1, w[k+1] - 1)
    for c in range(G):
        w = 32 - leading_zeros(np.uint32(vals[0, c]))
        widths[0, c] = w
    for k in range(1, K):
        for c in range(G):
            w = np.int32(32 - leading_zeros(np.uint32(vals[k, c])))
            last = widths[k - 1, c] - 1
            widths[k, c] = w if w > last else last
    for k in range(K - 2, -1, -1):
        for c in range(G):
            nxt = widths[k + 1, c] - 1
            if nxt > widths[k, c]:
                widths[k, c] = nxt
    # 3. bits, chunk by chunk (branch-free but for runs of width 0)
    for c in range(G):
        widths[K, c] = widths[K - 1, c]  # lilcom's end rule: the last step is "same width"
        out[pos] = 76  # "L": lilcom's header
        out[pos + 1] = 0  # format version
        pos += 2
        first = widths[0, c]
        acc = np.uint64(31 if first >= 31 else first)
        nacc = np.uint64(5)
        if first >= 31:
            acc |= np.uint64(first - 31) << nacc
            nacc += np.uint64(1)
        zeros = 0
        prev_w = first
        for k in range(K):
            cur = widths[k, c]
            if cur == 0:
                zeros += 1
                prev_w = cur
                continue
            if zeros:
                pos, acc, nacc = _zero_run(zeros, out, pos, acc, nacc)
                zeros = 0
            nxt = widths[k + 1, c]
            moved = np.uint64(nxt != cur)
            step_bits = moved | (np.uint64(nxt > cur) << np.uint64(1))  # same 0, down 01, up 11 (first bit lowest)
            step_len = np.uint64(1) + moved
            width = np.uint64(cur - (prev_w <= cur and nxt <= cur))  # top bit implied: not written
            value = np.uint64(np.uint32(vals[k, c])) & ((np.uint64(1) << width) - np.uint64(1))
            acc |= (step_bits | (value << step_len)) << nacc
            nacc += step_len + width
            pos, acc, nacc = _put(out, pos, acc, nacc)
            prev_w = cur
        if zeros:
            pos, acc, nacc = _zero_run(zeros, out, pos, acc, nacc)
        if nacc > 0:
            out[pos] = np.uint8(acc & np.uint64(255))
            pos += 1
        ends[c] = pos
    return pos


@_jit
def _encode_chunks(data, chunk_size, coeffs, tick_power, out, ends):
    """lilcom bytes of the chunks ``data[b : b + chunk_size]`` (``coeffs[c]``: their
    integer coefficients) one after another in ``out``; ``ends[c]``: where chunk c ends."""
    num_frames, d = data.shape
    full = num_frames // chunk_size
    g = min(GROUP, max(full, 1))
    vals = np.empty((6 + chunk_size * d, g), dtype=np.int32)
    widths = np.empty((7 + chunk_size * d, g), dtype=np.int32)
    xt = np.empty((chunk_size, d, g), dtype=np.float32)
    prev = np.empty(g, dtype=np.float32)
    pos = 0
    for a in range(0, full, g):
        b = min(a + g, full)
        group = data[a * chunk_size : b * chunk_size].reshape(b - a, chunk_size, d)
        pos = _encode_group(group, coeffs[a:b], tick_power, vals, widths, xt, prev, out, pos, ends[a:b])
    if full * chunk_size < num_frames:
        rest = data[full * chunk_size :]
        pos = _encode_group(
            rest.reshape(1, rest.shape[0], d), coeffs[full:], tick_power, vals, widths, xt, prev, out, pos, ends[full:]
        )
    return pos


def supported(data: np.ndarray, tick_power: int) -> bool:
    """Whether :func:`encode_chunks` gives lilcom's bytes for this float32 matrix and tick:
    numba is there and the input is :func:`~recipes.lilcom_writer.covered`."""
    return AVAILABLE and covered(data, tick_power)


def encode_chunks(data: np.ndarray, coeffs: np.ndarray, tick_power: int, chunk_size: int):
    """``(buffer, ends)``: the lilcom bytes of ``data`` in chunks of ``chunk_size`` frames
    (``coeffs``: ``(num_chunks, 2)`` integer regression coefficients), concatenated;
    chunk c is ``buffer[ends[c-1]:ends[c]]``. ``data`` (float32, C order, see
    :func:`supported`) is overwritten with the decoded values, as lilcom does."""
    num_chunks = -(-data.shape[0] // chunk_size)
    # at most 2 step bits + 32 value bits per integer, 6 bits of start, 2 header bytes
    bound = num_chunks * (3 + (34 * (6 + chunk_size * data.shape[1]) + 6 + 7) // 8) + 8  # + 8: _put's stores
    out = np.empty(bound, dtype=np.uint8)
    ends = np.empty(num_chunks, dtype=np.int64)
    end = _encode_chunks(data, chunk_size, np.ascontiguousarray(coeffs, dtype=np.int64), tick_power, out, ends)
    return out[:end], ends


def warm_up() -> bool:
    """Compiles the encoder now (or loads it from numba's cache): call it in a parent process
    before starting workers, so that forked workers inherit the compiled code and spawned
    ones find it in the cache, instead of each compiling it again (~7 s of CPU each).
    Returns whether the compiled encoder is available."""
    if not AVAILABLE:
        return False
    data = np.linspace(-3.0, 3.0, 2 * 3 * 4, dtype=np.float32).reshape(6, 4)
    coeffs = np.zeros((2, 2), dtype=np.int64)
    encode_chunks(data, coeffs, -5, 3)
    return True
