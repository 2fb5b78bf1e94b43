"""Lhotse's sample and frame arithmetic (``lhotse.utils.compute_num_samples``,
``compute_num_frames``, ``add_durations``) without importing Lhotse, for the paths that must
not pay its import (stage 2 on plain cuts, the chunk renderer). ``tests/test_features.py``
checks them against Lhotse's on random and adversarial values."""

import math


def num_samples(seconds: float, rate: int) -> int:
    """``compute_num_samples``: ``round(seconds * rate, 8)``, then half away from zero on its
    exact binary value, without Lhotse's ``Decimal`` (the fraction of a double below 2**52 is
    exact)."""
    v = round(seconds * rate, 8)
    a = abs(v)
    if not a < 2.0**52:
        from lhotse.utils import compute_num_samples

        return compute_num_samples(seconds, rate)
    n = math.floor(a)
    n += a - n >= 0.5
    return n if v >= 0 else -n


def num_frames(duration: float, frame_shift: float, rate: int) -> int:
    """``compute_num_frames``: frames of ``frame_shift`` in ``duration`` (half a hop rounds up)."""
    hop = round(frame_shift * rate)
    return int((round(duration * rate) + hop // 2) // hop)


def add_durations(*durations: float, rate: int) -> float:
    """``add_durations``: the sum, on the sample grid of ``rate`` (a cut's ``end``)."""
    return sum(num_samples(d, rate) for d in durations) / rate
