"""Render a simulated mixture, or only a window of it, at 8 kHz from the source cache.

``render(cut, cache)`` gives what ``resample(MixedCut.load_audio(), 8 kHz)`` gives
(soxr; within 1e-3 RMS relative, ``tests/test_source_cache.py``), without decoding a
FLAC file or resampling anything: each audible track's samples are read from the
memory-mapped cache (:mod:`recipes.simulation.cache`) and added at their offset, with
Lhotse's SNR gains (energies measured at the source rate, as Lhotse measures them,
the reference being the first non-noise track). A window of a mixture
(``MixedCut.truncate`` / ``cut_into_windows``, so a ``MixedCut`` whose tracks are
truncated) reads only the window's samples of each track.

The result is float32 (Lhotse's own mix of a noisy window is float64 under NumPy 2,
from the SNR gain, and then fails in ``Fbank.extract_batch``).

Where a mixture cannot be rendered exactly from the cache, :class:`NotRenderable` is
raised and the caller loads it with Lhotse: a track with audio effects (reverberation
transforms), a source missing from the cache, a track that is not a plain cut, or a
position that falls between two 8 kHz samples.
"""

from typing import Optional

import numpy as np

from recipes.simulation.cache import RATE, SourceCache, source_key


class NotRenderable(Exception):
    """The mixture needs Lhotse's own loader (the message says why)."""


def _samples_at(seconds: float, rate: int) -> int:
    from lhotse.utils import compute_num_samples

    return compute_num_samples(seconds, rate)


def _track_plan(track, cache: SourceCache):
    """``(key, first8, count8, first_src, count_src, offset8)`` of a non-padding track."""
    from lhotse.cut import MonoCut

    cut = track.cut
    if not isinstance(cut, MonoCut) or not cut.has_recording:
        raise NotRenderable(f"track {cut.id} is a {type(cut).__name__}")
    rec = cut.recording
    if rec.transforms:
        raise NotRenderable(f"track {cut.id} has audio transforms ({len(rec.transforms)})")
    key = source_key(rec)
    if key not in cache:
        raise NotRenderable(f"source {key} is not in the cache")
    sr = rec.sampling_rate
    first_src = _samples_at(cut.start, sr)
    count_src = _samples_at(cut.duration, sr)
    offset_src = _samples_at(track.offset, sr)
    ratio = RATE / sr
    for n in (first_src, offset_src):
        if abs(n * ratio - round(n * ratio)) > 1e-6:
            raise NotRenderable(f"track {cut.id}: sample {n} at {sr} Hz falls between two {RATE} Hz samples")
    return (
        key,
        int(round(first_src * ratio)),
        _samples_at(cut.duration, RATE),
        first_src,
        count_src,
        int(round(offset_src * ratio)),
    )


def render(cut, cache: SourceCache, num_samples: Optional[int] = None) -> np.ndarray:
    """The mixture ``cut`` (a ``MixedCut``, or a window of one) at 8 kHz, float32, ``(N,)``;
    ``N = num_samples`` or ``compute_num_samples(cut.duration, 8000)``."""
    from lhotse.cut import MixedCut, MixTrack, MonoCut, PaddingCut

    if isinstance(cut, MonoCut) and cut.has_recording:  # e.g. a window of a mixture with one track left
        cut = MixedCut(id=cut.id, tracks=[MixTrack(cut=cut)])
    if not isinstance(cut, MixedCut):
        raise NotRenderable(f"cut {cut.id} is a {type(cut).__name__}, not a mixture")
    tracks = [t for t in cut.tracks if not t.mute] or list(cut.tracks)
    if cut.transforms:
        raise NotRenderable(f"mixture {cut.id} has transforms")
    total = _samples_at(cut.duration, RATE) if num_samples is None else num_samples
    plans = [None if isinstance(t.cut, PaddingCut) else _track_plan(t, cache) for t in tracks]

    def audio(i):
        key, first8, count8, _, _, _ = plans[i]
        return cache.samples(key, first8, count8)

    def energy(i):
        key, _, _, first_src, count_src, _ = plans[i]
        return cache.energy(key, first_src, count_src)

    # Lhotse: the SNR reference is the first track marked so, else the first non-padding track
    # without an SNR; the mixer's reference energy is the first track's (scaled) energy unless
    # the reference is another track.
    ref = next((i for i, t in enumerate(cut.tracks) if getattr(t, "is_snr_reference", False)), None)
    if ref is None:
        ref = next((i for i, t in enumerate(cut.tracks) if not isinstance(t.cut, PaddingCut) and t.snr is None), None)
    if ref is None:
        raise NotRenderable(f"mixture {cut.id}: no SNR reference track")
    ref_track = cut.tracks[ref]
    ref_i = next((i for i, t in enumerate(tracks) if t is ref_track), None)
    out = np.zeros(total, dtype=np.float32)
    first = tracks[0]
    reference_energy = None
    if ref_i != 0:  # a muted reference (ref_i None) is still measured, as Lhotse does
        reference_energy = energy(ref_i) if ref_i is not None else _muted_energy(ref_track, cache)
    gains = []
    if plans[0] is None:  # padding first: silence (Lhotse pads with zeros in the time domain)
        first_gain, first_energy = 1.0, 0.0
    else:
        first_energy = energy(0)
        first_gain = 1.0
        if first.snr is not None and reference_energy is not None and reference_energy > 0 and first_energy > 0:
            first_gain = float(np.sqrt(reference_energy * 10.0 ** (-first.snr / 10) / first_energy))
    mixer_reference = reference_energy if reference_energy is not None else first_energy * first_gain**2
    gains.append(first_gain)
    for i, t in enumerate(tracks[1:], 1):
        g = 1.0
        if plans[i] is not None and t.snr is not None and mixer_reference > 0:
            e = energy(i)
            if e > 0:
                g = float(np.sqrt(mixer_reference * 10.0 ** (-t.snr / 10) / e))
        gains.append(g)
    for i, (plan, g) in enumerate(zip(plans, gains)):
        if plan is None:
            continue
        x = audio(i)
        at = plan[5]
        a, b = max(at, 0), min(at + len(x), total)
        if b > a:
            out[a:b] += np.float32(g) * x[a - at : b - at]
    return out


def _muted_energy(track, cache: SourceCache) -> float:
    key, _, _, first_src, count_src, _ = _track_plan(track, cache)
    return cache.energy(key, first_src, count_src)
