"""Render a simulated mixture, or only a window of it, at 8 kHz from the source cache.

``render(cut, cache)`` gives what ``resample(MixedCut.load_audio(), 8 kHz)`` gives
(soxr; within 1e-3 RMS relative, ``tests/test_source_cache.py``), without decoding a
FLAC file or resampling anything: each audible track's samples are read from the
memory-mapped cache (:mod:`recipes.simulation.cache`) and added at their offset, with
Lhotse's SNR gains (energies measured at the source rate, as Lhotse measures them,
the reference being the first non-noise track).

Windows have one of two semantics:

- a chunk from :func:`recipes.dataset.chunk_cuts`, whose tracks carry their whole extent
  (``custom["mix_track"]``, :func:`recipes.dataset.mark_mix_tracks`), is that part of the
  whole mixture: ``resample(whole.load_audio())`` sliced at the chunk (within 1e-3,
  ``tests/test_render_windows.py``). The SNR gains come from the whole tracks' energies
  and the mixture's reference (the block table: no samples read); a reverberant track
  cut by the chunk is reverberated whole (its tail from before the chunk, its power after
  reverberation over the whole track, as ``normalize_output`` measures it) and the chunk's
  piece kept: the only samples read outside the chunk are the rest of such tracks (one
  utterance each in ``diar simulate``'s mixtures);
- any other window (``MixedCut.truncate`` / ``cut_into_windows`` by hand) has Lhotse's
  semantics: each truncated track mixed on its own (SNR gains from the window's energies,
  a reverberant track reverberated from the window's piece only, no tail), reading only
  the window's samples.

Reverberation (a track whose recording carries Lhotse's ``ReverbWithImpulseResponse``
with an RIR recording, as ``diar simulate`` writes it) is applied at 8 kHz, with Lhotse's
semantics: the track's samples convolved with the RIR, shifted by the RIR's peak, and
scaled back to the track's power at the source rate (``normalize_output``). The 8 kHz
kernel is the RIR band-limited to 4 kHz in the frequency domain (flat to 3.8 kHz, a
raised-cosine edge to 4 kHz), centred on its peak so that a peak on an odd 16 kHz sample
stays in place. The power after reverberation is the 8 kHz output's plus the source's
power above 4 kHz (its energy at the source rate minus the 8 kHz copy's) times the RIR's
mean power gain above 4 kHz: exact for speech with little energy above 4 kHz, an
approximation otherwise (``tests/test_source_cache.py`` measures it against Lhotse).
Each RIR's kernel is built once per process.

The result is float32 (Lhotse's own mix of a noisy window is float64 under NumPy 2,
from the SNR gain, and then fails in ``Fbank.extract_batch``).

Where a mixture cannot be rendered exactly from the cache, :class:`NotRenderable` is
raised and the caller loads it with Lhotse: a track with other audio transforms (or a
generated RIR, ``rirs: fast``), a source missing from the cache, a track that is not a
plain cut, or a position that falls between two 8 kHz samples.
"""

import json
from typing import Optional

import numpy as np

from recipes.frames import num_samples as _samples_at
from recipes.simulation.cache import RATE, SourceCache, source_key


class NotRenderable(Exception):
    """The mixture needs Lhotse's own loader (the message says why)."""


def _track_plan(track, cache: SourceCache, whole: bool = False):
    """``(key, first8, count8, first_src, count_src, offset8, reverb kernel or None, extent)``
    of a non-padding track; ``extent`` (with ``whole``): ``(first8, count8, first_src,
    count_src)`` of the whole track the window's piece was cut from (``custom["mix_track"]``)."""
    from lhotse.cut import MonoCut

    cut = track.cut
    if not isinstance(cut, MonoCut) or not cut.has_recording:
        raise NotRenderable(f"track {cut.id} is a {type(cut).__name__}")
    rec = cut.recording
    kernel = _reverb_kernel(cut.id, rec) if rec.transforms else None
    key = source_key(rec)
    if key not in cache:
        raise NotRenderable(f"source {key} is not in the cache")
    sr = rec.sampling_rate
    offset_src = _samples_at(track.offset, sr)
    _check_grid(cut.id, sr, offset_src)
    extent = None
    if whole:
        m = cut.custom["mix_track"]
        extent = (*_span8(cut.id, m["start"], m["duration"], sr), _samples_at(m["duration"], sr))
    return (
        key,
        *_span8(cut.id, cut.start, cut.duration, sr),
        _samples_at(cut.duration, sr),
        int(round(offset_src * RATE / sr)),
        kernel,
        extent,
    )


def _check_grid(cut_id, sr: int, *samples: int) -> None:
    ratio = RATE / sr
    for n in samples:
        if abs(n * ratio - round(n * ratio)) > 1e-6:
            raise NotRenderable(f"track {cut_id}: sample {n} at {sr} Hz falls between two {RATE} Hz samples")


def _span8(cut_id, start: float, duration: float, sr: int):
    """``(first8, count8, first_src)`` of a span of a source at ``sr``."""
    first_src = _samples_at(start, sr)
    _check_grid(cut_id, sr, first_src)
    return int(round(first_src * RATE / sr)), _samples_at(duration, RATE), first_src


def _whole(cut) -> bool:
    """Every audible track carries its whole extent (``recipes.dataset.mark_mix_tracks``)."""
    from lhotse.cut import PaddingCut

    return all(isinstance(t.cut, PaddingCut) or "mix_track" in (t.cut.custom or {}) for t in cut.tracks)


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
    whole = _whole(cut)
    plans = [None if isinstance(t.cut, PaddingCut) else _track_plan(t, cache, whole) for t in tracks]

    def energy(i):  # the whole track's, for a window that knows it (Lhotse mixes the whole mixture)
        key, _, _, first_src, count_src, _, _, extent = plans[i]
        return cache.energy(key, *(extent[2:] if whole else (first_src, count_src)))

    def audio(i):
        key, first8, count8, _, _, _, kernel, extent = plans[i]
        if kernel is None:
            return cache.samples(key, first8, count8)
        if not whole:  # Lhotse's window: the truncated track reverberated on its own
            return kernel.reverberate(cache.samples(key, first8, count8), energy(i))
        # the whole track reverberated (its tail before the window, its power after the
        # reverberation: normalize_output), the window's piece kept
        w8, wn8 = extent[:2]
        y = kernel.reverberate(cache.samples(key, w8, wn8), energy(i))
        return y[first8 - w8 : first8 - w8 + count8]

    gains = (_whole_gains if whole else _window_gains)(cut, tracks, plans, energy, cache)
    out = np.zeros(total, dtype=np.float32)
    tmp = np.empty(total, dtype=np.float32)
    for i, (plan, g) in enumerate(zip(plans, gains)):
        if plan is None:
            continue
        at = plan[5]
        if plan[6] is None:  # plain track: only its samples inside the output, added in place
            _add_samples(cache, plan[0], plan[1], plan[2], at, np.float32(g), out, tmp)
            continue
        x = audio(i)
        a, b = max(at, 0), min(at + len(x), total)
        if b > a:
            out[a:b] += np.float32(g) * x[a - at : b - at]
    return out


def _add_samples(cache: SourceCache, key: str, first: int, count: int, at: int, g, out, tmp) -> None:
    """``out[at + j] += g * cache.samples(key, first, count)[j]`` where ``at + j`` is inside ``out``,
    with the same float32 roundings (``pcm * scale``, then ``* g``, then the sum), reading only
    the source samples that land in ``out`` (no zero-filled track copy, no temporaries)."""
    shard, e = cache._entries[key]
    pcm = cache._arrays(shard)[0]
    # output positions at + j, j in [0, count), inside [0, len(out)) and inside the source
    j0 = max(0, -at, -first)
    j1 = min(count, len(out) - at, e["num_samples"] - first)
    if j1 <= j0:
        return
    n = j1 - j0
    t = tmp[:n]
    src = e["offset"] + first + j0
    np.multiply(pcm[src : src + n], np.float32(e["scale"]), out=t, dtype=np.float32, casting="unsafe")
    np.multiply(t, g, out=t)
    o = out[at + j0 : at + j1]
    np.add(o, t, out=o)


def _gain(reference_energy: float, snr: float, e: float) -> float:
    if reference_energy > 0 and e > 0:
        return float(np.sqrt(reference_energy * 10.0 ** (-snr / 10) / e))
    return 1.0


def _whole_gains(cut, tracks, plans, energy, cache: SourceCache) -> list:
    """Lhotse's SNR gains on the whole mixture (``custom["mix_track"]``: each track's own
    SNR, None for gain 1, and the mixture's reference; the energies of the whole tracks)."""
    ref = next((t.cut.custom["mix_track"]["ref"] for t, p in zip(tracks, plans) if p is not None), None)
    if ref is None:  # only padding audible
        return [1.0] * len(tracks)
    if ref["source"] not in cache:
        raise NotRenderable(f"source {ref['source']} (the SNR reference) is not in the cache")
    rate = ref["rate"]
    reference_energy = None
    gains = []
    for i, (t, p) in enumerate(zip(tracks, plans)):
        snr = None if p is None else t.cut.custom["mix_track"]["snr"]
        if snr is None:
            gains.append(1.0)
            continue
        if reference_energy is None:  # reverberation keeps the power (normalize_output)
            span = _samples_at(ref["start"], rate), _samples_at(ref["duration"], rate)
            reference_energy = cache.energy(ref["source"], *span)
        gains.append(_gain(reference_energy, snr, energy(i)))
    return gains


def snr_reference(tracks) -> Optional[int]:
    """Index of a mixture's SNR reference in ``tracks``, Lhotse's mixer's rule: the first track
    marked ``is_snr_reference``, else the first non-padding track without an SNR; None if none."""
    from lhotse.cut import PaddingCut

    ref = next((i for i, t in enumerate(tracks) if getattr(t, "is_snr_reference", False)), None)
    if ref is None:
        ref = next((i for i, t in enumerate(tracks) if not isinstance(t.cut, PaddingCut) and t.snr is None), None)
    return ref


def _window_gains(cut, tracks, plans, energy, cache: SourceCache) -> list:
    """Lhotse's SNR gains of the window's own tracks (a window that does not know its mixture)."""
    # the mixer's reference energy is the first track's (scaled) energy unless the reference is another track
    ref = snr_reference(cut.tracks)
    if ref is None:
        raise NotRenderable(f"mixture {cut.id}: no SNR reference track")
    ref_track = cut.tracks[ref]
    ref_i = next((i for i, t in enumerate(tracks) if t is ref_track), None)
    first = tracks[0]
    reference_energy = None
    if ref_i != 0:  # a muted reference (ref_i None) is still measured, as Lhotse does
        reference_energy = energy(ref_i) if ref_i is not None else _muted_energy(ref_track, cache)
    if plans[0] is None:  # padding first: silence (Lhotse pads with zeros in the time domain)
        first_gain, first_energy = 1.0, 0.0
    else:
        first_energy = energy(0)
        first_gain = 1.0
        if first.snr is not None and reference_energy is not None:
            first_gain = _gain(reference_energy, first.snr, first_energy)
    mixer_reference = reference_energy if reference_energy is not None else first_energy * first_gain**2
    gains = [first_gain]
    for i, t in enumerate(tracks[1:], 1):
        gains.append(_gain(mixer_reference, t.snr, energy(i)) if plans[i] is not None and t.snr is not None else 1.0)
    return gains


def _muted_energy(track, cache: SourceCache) -> float:
    key, _, _, first_src, count_src, _, _, _ = _track_plan(track, cache)
    return cache.energy(key, first_src, count_src)  # reverberation keeps the power (normalize_output)


BAND_EDGE = (3800.0, 4000.0)  # Hz: the 8 kHz kernel is flat below, zero above, a raised cosine between
RING = 256  # 8 kHz taps kept on either side of the RIR's span (the band limit's ringing)


def _fast_len(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (a cheap FFT size)."""
    best = 1 << max(n - 1, 0).bit_length()
    f5 = 1
    while f5 < best:
        f35 = f5
        while f35 < best:
            m = f35
            while m < n:
                m *= 2
            best = min(best, m)
            f35 *= 3
        f5 *= 5
    return best


class _Kernel:
    """One RIR as an 8 kHz reverberation: ``taps`` with the RIR's peak at ``origin``, and
    ``high_gain``, its mean power gain above 4 kHz at the source rate (see the module doc)."""

    def __init__(self, h: np.ndarray, rate: int):
        q = rate // RATE
        shift = int(np.argmax(h))  # Lhotse's shift_index: the output is aligned on the peak
        n = 1 << (len(h) + 4 * RING * q).bit_length()
        centred = np.zeros(n)
        centred[: len(h)] = h
        centred = np.roll(centred, -shift)  # the peak at time 0, earlier taps at negative lags
        spectrum = np.fft.rfft(centred)
        freqs = np.fft.rfftfreq(n, 1 / rate)
        m = n // q
        lo, hi = BAND_EDGE
        w = np.clip((hi - freqs[: m // 2 + 1]) / (hi - lo), 0.0, 1.0)
        g = np.fft.irfft(spectrum[: m // 2 + 1] * (0.5 - 0.5 * np.cos(np.pi * w)), m)
        pre, post = -(-shift // q) + RING, -(-(len(h) - shift) // q) + RING
        self.taps = np.concatenate([g[m - pre :], g[:post]])
        self.origin = pre
        high = freqs > RATE / 2
        self.high_gain = float(np.mean(np.abs(spectrum[high]) ** 2)) if high.any() else 0.0
        self._spectra = {}

    def reverberate(self, x: np.ndarray, source_power: float) -> np.ndarray:
        """``x`` (8 kHz, float32) reverberated, length kept, at the power Lhotse gives it:
        ``source_power`` is the mean square of the track at its source rate."""
        if not len(x):
            return x
        n = _fast_len(len(x) + len(self.taps) - 1)
        if n not in self._spectra:
            if len(self._spectra) > 64:
                self._spectra.clear()
            self._spectra[n] = np.fft.rfft(self.taps, n)
        x64 = x.astype(np.float64)
        y = np.fft.irfft(np.fft.rfft(x64, n) * self._spectra[n], n)[self.origin : self.origin + len(x)]
        low_in, low_out = float(np.mean(x64**2)), float(np.mean(y**2))
        power_after = low_out + max(source_power - low_in, 0.0) * self.high_gain
        if power_after <= 0:
            return y.astype(np.float32)
        return (y * np.sqrt(source_power / power_after)).astype(np.float32)


_KERNELS: dict = {}


def _reverb_kernel(cut_id: str, rec) -> "_Kernel":
    """The 8 kHz kernel of a recording's one ``ReverbWithImpulseResponse`` (an RIR recording,
    ``normalize_output``, one RIR channel, the RIR at the source's rate), built once per
    process; NotRenderable for any other transform chain."""
    transforms = rec.transforms
    t = transforms[0] if len(transforms) == 1 else None
    d = t if isinstance(t, dict) else (t.to_dict() if t is not None else {})
    kwargs = d.get("kwargs") or {}
    if d.get("name") != "ReverbWithImpulseResponse":
        raise NotRenderable(f"track {cut_id} has audio transforms ({len(transforms)}) other than one reverberation")
    if kwargs.get("rir") is None:
        raise NotRenderable(f"track {cut_id}: a generated RIR (rirs: fast)")
    if not kwargs.get("normalize_output", True) or len(kwargs.get("rir_channels") or [0]) != 1:
        raise NotRenderable(f"track {cut_id}: reverberation without normalize_output, or several RIR channels")
    rate = rec.sampling_rate
    if rate % RATE:
        raise NotRenderable(f"track {cut_id}: {rate} Hz is not a multiple of {RATE} Hz")
    key = json.dumps(kwargs, sort_keys=True, default=str) + f"@{rate}"
    if key not in _KERNELS:
        from lhotse import Recording
        from lhotse.augmentation.rir import ReverbWithImpulseResponse

        rt = ReverbWithImpulseResponse(**kwargs)
        rir = rt.rir.to_cut() if isinstance(rt.rir, Recording) else rt.rir
        if rir.sampling_rate != rate:
            raise NotRenderable(f"track {cut_id}: the RIR is at {rir.sampling_rate} Hz, the source at {rate} Hz")
        rir = rir.with_channels(rt.rir_channels)
        if rt.early_only:
            rir = rir.truncate(duration=0.05)
        h = rir.load_audio()[0] * rt.RIR_SCALING_FACTOR  # as Lhotse scales it (float32)
        if len(_KERNELS) > 4096:
            _KERNELS.clear()
        _KERNELS[key] = _Kernel(h.astype(np.float64), rate)
    return _KERNELS[key]
