"""Check every recording against its audio: audio facts, and annotation/audio agreement.

For each recording of a CutSet (each channel of a multi-channel one) the audio
is streamed once in 10 s blocks (one recording in memory at a time, a few MB)
and reduced to 10 ms frame energies. From those:

Audio facts
    readable; sampling rate, channels, number of samples and duration of each
    file against the manifest (more than one 10 ms frame apart is
    ``mismatch_duration``; another rate is ``mismatch_rate``; another channel
    count ``mismatch_channels``); the share of digitally silent frames (all
    samples exactly zero); the share of clipped samples (``|x| >= 0.9999`` of
    full scale); the DC offset (mean sample); the level of each channel (95th
    percentile of its frame energies, dBFS) and its noise floor (10th
    percentile).

Agreement of annotation and audio (frames inside the scored region, UEM)
    - ``speech_db`` / ``nonspeech_db``: median frame energy of annotated and of
      unannotated frames (dBFS);
    - an energy VAD (threshold ``noise floor + max(6 dB, 30 % of the range from
      the noise floor to the level)``, gaps under 0.3 s filled) scored against
      the annotated speech: ``vad_precision``, ``vad_recall``;
    - ``lag_seconds``: the shift in -5..+5 s that best aligns the annotation with
      the audio's speech score (cross-correlation by FFT of the 10 ms
      sequences). Positive: the annotation is *late* (its turns start after the
      speech); subtract it from the annotation times to fix it.

Every threshold sits relative to the recording's own noise floor, so quiet
(-90 dBFS floor) and loud corpora are judged alike.

Flags (the thresholds are the module constants below)
    ``shift``              best lag beyond 0.25 s whose correlation gain over lag 0 is clear
    ``mismatch_duration``  file and manifest differ by more than one frame (10 ms)
    ``mismatch_rate``      file sampling rate differs from the manifest
    ``mismatch_channels``  the file has another number of channels than the manifest says
    ``unreadable``         the audio cannot be opened or decoded
    ``dead_channel``       a channel without signal: digital silence, no dynamics, or
                           30 dB below the loudest channel of the recording
    ``clipping``           more than 0.01 % of the samples at full scale
    ``silence``            digital silence in more than 1 % of the annotated speech or 10 % of the audio
    ``speech_not_louder``  annotated speech less than 3 dB above unannotated audio (medians), or
                           not consistently louder: the correlation of the annotation (0/1) with
                           the frame level (the point-biserial correlation, lag 0) under 0.25;
                           e.g. an RTTM paired with another recording's audio. A shifted
                           annotation is judged at its best lag.

This module checks one recording (:func:`validate_recording`); :mod:`recipes.validate` runs it
over CutSets and renders the report. Nothing here imports click.
"""

import math
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np

FRAME = 0.01  # seconds per energy frame
BLOCK_SECONDS = 10  # streamed block (a whole number of seconds: frame boundaries stay exact)
MAX_LAG = 5.0  # seconds searched either way
SHIFT_MIN = 0.25  # seconds: a best lag beyond this may be a shift
SHIFT_GAIN = 0.05  # correlation gain (best - lag 0, Pearson scale) that counts as clear
SHIFT_MIN_CORR = 0.15  # and the best correlation must mean something
CLIP_LEVEL = 0.9999  # |sample| at or above this share of full scale is clipped
CLIP_SHARE = 1e-4  # more clipped samples than this share -> clipping
SILENCE_SHARE_SPEECH = 0.01  # digital silence in annotated speech
SILENCE_SHARE_AUDIO = 0.10  # digital silence in the whole audio
DEAD_BELOW_DB = 30.0  # a channel this far below the loudest channel is dead
DEAD_RANGE_DB = 3.0  # a channel whose level is this close to its floor has no signal
DEAD_DIGITAL_SHARE = 0.99
SPEECH_MARGIN_DB = 3.0  # annotated speech must be this much louder than the rest (medians) ...
SPEECH_MIN_CORR = 0.25  # ... and consistently so: correlation of annotation and frame level at lag 0
VAD_MIN_MARGIN_DB = 6.0
VAD_RANGE_SHARE = 0.3
VAD_FILL_GAP = 0.3  # seconds
MIN_FRAMES = 100  # 1 s: fewer frames give no figure (None)
FLOOR_DB = -120.0  # energy of a digitally silent frame

# most serious first: the order of the ranked list
SEVERITY = {
    "unreadable": 100,
    "mismatch_rate": 50,
    "mismatch_channels": 40,
    "speech_not_louder": 30,
    "dead_channel": 25,
    "shift": 20,
    "mismatch_duration": 15,
    "clipping": 10,
    "silence": 5,
}
FLAGS = tuple(SEVERITY)
# every entry of the JSON carries these keys (None where not measured)
ENTRY_KEYS = (
    "input",
    "id",
    "channel",
    "flags",
    "reason",
    "lag_seconds",
    "lag_corr",
    "lag0_corr",
    "speech_db",
    "nonspeech_db",
    "vad_precision",
    "vad_recall",
    "noise_floor_db",
    "level_db",
    "dc_offset",
    "clipped_share",
    "digital_silence_share",
    "digital_silence_in_speech",
    "annotated_seconds",
    "sampling_rate_manifest",
    "sampling_rate_file",
    "duration_manifest",
    "duration_file",
    "samples_file",
    "channels_manifest",
    "channels_file",
    "path",
    "streamed",
)


@dataclass
class AudioFrames:
    """10 ms frame statistics of one recording, per channel (rows)."""

    energy: np.ndarray  # (C, T) mean square per frame, full scale = 1
    clipped: np.ndarray  # (C,) clipped samples
    samples: np.ndarray  # (C,) samples read
    sums: np.ndarray  # (C,) sum of samples (DC offset = sums / samples)
    files: List[dict] = field(default_factory=list)  # per file: path, rate, channels, frames, streamed
    channels: List[int] = field(default_factory=list)  # channel id of each row


def _block_stats(x: np.ndarray, sr: int, offset_frames: int = 0):
    """x: (N, C) float32 block starting on a frame boundary -> (energy (C, F), clipped (C,), sums (C,))."""
    n = x.shape[0]
    k = np.arange(int(math.ceil(n * 100 / sr - 1e-9)))
    starts = ((k + offset_frames) * sr) // 100 - (offset_frames * sr) // 100
    starts = starts[starts < n]
    sq = np.square(x, dtype=np.float32)
    sums_sq = np.add.reduceat(sq, starts, axis=0) if n else np.zeros((0, x.shape[1]), np.float32)
    lengths = np.diff(np.append(starts, n)).astype(np.float64)
    energy = (sums_sq / lengths[:, None]).T
    clipped = np.count_nonzero(np.abs(x) >= CLIP_LEVEL, axis=0)
    return energy, clipped, x.sum(axis=0, dtype=np.float64)


def _stream_file(path: str, want: Optional[Sequence[int]] = None):
    """Frame statistics of one audio file, read in BLOCK_SECONDS blocks with soundfile."""
    import soundfile as sf

    info = sf.info(path)
    sr, nch = info.samplerate, info.channels
    pcm16 = info.subtype == "PCM_16"
    energies, clipped, sums = [], np.zeros(nch, np.int64), np.zeros(nch)
    offset = 0
    block = sr * BLOCK_SECONDS
    for data in sf.blocks(path, blocksize=block, dtype="int16" if pcm16 else "float32", always_2d=True):
        x = data.astype(np.float32) * np.float32(1 / 32768) if pcm16 else data
        e, c, s = _block_stats(x, sr, offset)
        energies.append(e)
        clipped += c
        sums += s
        offset += BLOCK_SECONDS * 100
    energy = np.concatenate(energies, axis=1) if energies else np.zeros((nch, 0))
    frames = info.frames
    return dict(
        energy=energy, clipped=clipped, sums=sums, samples=np.full(nch, frames), rate=sr, channels=nch, frames=frames
    )


def _array_stats(audio: np.ndarray, sr: int) -> dict:
    """Frame statistics of decoded audio (C, N), in blocks (sources soundfile cannot stream)."""
    audio = np.asarray(audio, dtype=np.float32)
    nch, n = audio.shape
    energies, clipped, sums = [], np.zeros(nch, np.int64), np.zeros(nch)
    block = sr * BLOCK_SECONDS
    for i, a in enumerate(range(0, n, block)):
        e, c, s = _block_stats(audio[:, a : a + block].T, sr, i * BLOCK_SECONDS * 100)
        energies.append(e)
        clipped += c
        sums += s
    energy = np.concatenate(energies, axis=1) if energies else np.zeros((nch, 0))
    return dict(energy=energy, clipped=clipped, sums=sums, samples=np.full(nch, n), rate=sr, channels=nch, frames=n)


def read_recording_frames(recording) -> AudioFrames:
    """Frame statistics of every channel of a Lhotse ``Recording``.

    File sources that soundfile reads are streamed (each file of a multi-file
    recording apart); other sources (commands, URLs, memory, transforms) are
    decoded by Lhotse, one recording at a time. Raises on unreadable audio."""
    rows, files = [], []
    plain = not recording.transforms and all(s.type == "file" for s in recording.sources)
    for src in recording.sources:
        stats = None
        if plain:
            try:
                stats = _stream_file(src.source)
                stats["streamed"] = True
            except Exception as e:  # noqa: BLE001 - not a soundfile format: let Lhotse decode it
                import soundfile as sf

                if not isinstance(e, (sf.LibsndfileError, RuntimeError, TypeError)):
                    raise
                stats = None
        if stats is None:
            from lhotse import Recording

            one = Recording(
                id=recording.id,
                sources=[src],
                sampling_rate=recording.sampling_rate,
                num_samples=recording.num_samples,
                duration=recording.duration,
                channel_ids=list(src.channels),
                transforms=recording.transforms,
            )
            stats = _array_stats(one.load_audio(), recording.sampling_rate)
            stats["streamed"] = False
        files.append(
            dict(
                path=str(src.source),
                rate=stats["rate"],
                channels=stats["channels"],
                frames=stats["frames"],
                streamed=stats["streamed"],
                manifest_channels=list(src.channels),
            )
        )
        for i in range(stats["channels"]):
            cid = src.channels[i] if i < len(src.channels) else None
            rows.append((cid, stats["energy"][i], stats["clipped"][i], stats["samples"][i], stats["sums"][i]))
    width = max((len(r[1]) for r in rows), default=0)
    energy = np.zeros((len(rows), width))
    for i, r in enumerate(rows):
        energy[i, : len(r[1])] = r[1]
    return AudioFrames(
        energy=energy,
        clipped=np.array([r[2] for r in rows]),
        samples=np.array([r[3] for r in rows]),
        sums=np.array([r[4] for r in rows]),
        files=files,
        channels=[r[0] for r in rows],
    )


def frame_mask(intervals: Iterable[Tuple[float, float]], num_frames: int) -> np.ndarray:
    """Frames ``k`` with ``start <= (k + 0.5) * 10 ms < end`` for some interval (the labels' rule)."""
    diff = np.zeros(num_frames + 1, dtype=np.int32)
    for s, e in intervals:
        a = min(max(int(math.ceil(s / FRAME - 0.5 - 1e-9)), 0), num_frames)
        b = min(max(int(math.ceil(e / FRAME - 0.5 - 1e-9)), 0), num_frames)
        if b > a:
            diff[a] += 1
            diff[b] -= 1
    return np.cumsum(diff[:-1]) > 0


def fill_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    """``mask`` with runs of False shorter than ``max_gap`` frames between two True frames set True."""
    out = mask.copy()
    idx = np.flatnonzero(mask)
    if len(idx) < 2:
        return out
    gaps = np.diff(idx) - 1
    for i in np.flatnonzero((gaps > 0) & (gaps < max_gap)):
        out[idx[i] + 1 : idx[i + 1]] = True
    return out


def best_lag(annotation: np.ndarray, score: np.ndarray, scored: np.ndarray, max_lag: int):
    """Cross-correlation of the annotation (0/1) with the audio's speech score over lags
    ``-max_lag..max_lag`` frames, both zero-mean inside the scored frames.

    ``corr[L] = sum_t score[t] * annotation[t + L] / (|score| |annotation|)``: a positive
    best ``L`` means the annotation is late by ``L`` frames. Returns ``(L, corr[L], corr[0])``."""
    x = np.where(scored, annotation - annotation[scored].mean(), 0.0)
    y = np.where(scored, score - score[scored].mean(), 0.0)
    norm = np.sqrt((x * x).sum() * (y * y).sum())
    if norm == 0:
        return 0, 0.0, 0.0
    n = len(x)
    max_lag = min(max_lag, n - 1)
    size = 1 << int(math.ceil(math.log2(n + max_lag + 1)))
    c = np.fft.irfft(np.fft.rfft(x, size) * np.conj(np.fft.rfft(y, size)), size)
    lags = np.arange(-max_lag, max_lag + 1)
    corr = c[lags % size] / norm
    i = int(np.argmax(corr))
    return int(lags[i]), float(corr[i]), float(corr[max_lag])


def _pct(values: np.ndarray, q: float) -> Optional[float]:
    return float(np.percentile(values, q)) if len(values) else None


def analyse_channel(
    energy: np.ndarray, turns: Sequence[Tuple[float, float]], uem: Sequence[Tuple[float, float]]
) -> dict:
    """Agreement of one channel's 10 ms frame energies with the annotated speech (recording time)."""
    n = len(energy)
    db = np.maximum(10 * np.log10(np.maximum(energy, 1e-30)), FLOOR_DB)
    digital = energy == 0
    scored = frame_mask(uem, n) if uem else np.ones(n, bool)
    ann = frame_mask(turns, n)
    valid = scored & ~digital
    out = dict(
        frames=int(n),
        annotated_seconds=round(float((ann & scored).sum()) * FRAME, 2),
        digital_silence_share=float(digital.mean()) if n else 0.0,
        digital_silence_in_speech=float((digital & ann & scored).sum() / max((ann & scored).sum(), 1)),
        noise_floor_db=None,
        level_db=None,
        speech_db=None,
        nonspeech_db=None,
        vad_precision=None,
        vad_recall=None,
        lag_seconds=None,
        lag_corr=None,
        lag0_corr=None,
    )
    if valid.sum() < MIN_FRAMES:
        return out
    floor, level = _pct(db[valid], 10), _pct(db[valid], 95)
    out.update(noise_floor_db=round(floor, 2), level_db=round(level, 2))
    sp, ns = scored & ann, scored & ~ann
    if sp.sum() >= MIN_FRAMES:
        out["speech_db"] = round(float(np.median(db[sp])), 2)
    if ns.sum() >= MIN_FRAMES:
        out["nonspeech_db"] = round(float(np.median(db[ns])), 2)
    if level - floor < DEAD_RANGE_DB or sp.sum() < MIN_FRAMES:
        return out
    threshold = floor + max(VAD_MIN_MARGIN_DB, VAD_RANGE_SHARE * (level - floor))
    vad = fill_gaps(db > threshold, int(round(VAD_FILL_GAP / FRAME))) & scored
    hit = float((vad & ann).sum())
    out["vad_precision"] = round(hit / vad.sum(), 4) if vad.sum() else 0.0
    out["vad_recall"] = round(hit / sp.sum(), 4)
    score = np.clip((db - floor) / (level - floor), 0.0, 1.0)
    lag, corr, corr0 = best_lag(ann.astype(np.float64), score, scored, int(round(MAX_LAG / FRAME)))
    out.update(lag_seconds=round(lag * FRAME, 2), lag_corr=round(corr, 4), lag0_corr=round(corr0, 4))
    if lag:  # the levels once the annotation is moved back by the lag
        moved = np.zeros_like(ann)
        if lag > 0:
            moved[: n - lag] = ann[lag:]
        else:
            moved[-lag:] = ann[: n + lag]
        sp, ns = scored & moved, scored & ~moved
        if sp.sum() >= MIN_FRAMES and ns.sum() >= MIN_FRAMES:
            out.update(
                speech_db_at_lag=round(float(np.median(db[sp])), 2),
                nonspeech_db_at_lag=round(float(np.median(db[ns])), 2),
            )
    return out


def _flags_of(entry: dict, loudest_db: Optional[float]) -> List[Tuple[str, str]]:
    """(flag, one-line reason) pairs of one channel's entry."""
    out = []
    if entry.get("error"):
        return [("unreadable", entry["error"])]
    if entry["sampling_rate_file"] != entry["sampling_rate_manifest"]:
        out.append(
            (
                "mismatch_rate",
                f"file at {entry['sampling_rate_file']} Hz, manifest says {entry['sampling_rate_manifest']} Hz",
            )
        )
    if entry.get("channels_file") != entry.get("channels_manifest"):
        out.append(
            (
                "mismatch_channels",
                f"file has {entry['channels_file']} channel(s), manifest {entry['channels_manifest']}",
            )
        )
    if abs(entry["duration_file"] - entry["duration_manifest"]) > FRAME:
        out.append(
            (
                "mismatch_duration",
                f"file lasts {entry['duration_file']:.3f} s, manifest {entry['duration_manifest']:.3f} s",
            )
        )
    level, floor = entry["level_db"], entry["noise_floor_db"]
    if entry["digital_silence_share"] >= DEAD_DIGITAL_SHARE:
        out.append(("dead_channel", f"{entry['digital_silence_share']:.0%} digital silence"))
    elif level is not None and level - floor < DEAD_RANGE_DB:
        out.append(
            (
                "dead_channel",
                f"no dynamics: level {level:.1f} dBFS within {DEAD_RANGE_DB:g} dB of its floor {floor:.1f}",
            )
        )
    elif level is not None and loudest_db is not None and level < loudest_db - DEAD_BELOW_DB:
        out.append(("dead_channel", f"level {level:.1f} dBFS, {loudest_db - level:.0f} dB below the loudest channel"))
    if entry["clipped_share"] > CLIP_SHARE:
        out.append(("clipping", f"{entry['clipped_share']:.3%} of samples at full scale"))
    if (
        entry["digital_silence_in_speech"] > SILENCE_SHARE_SPEECH
        or entry["digital_silence_share"] > SILENCE_SHARE_AUDIO
    ):
        if "dead_channel" not in [f for f, _ in out]:
            out.append(
                (
                    "silence",
                    f"digital silence in {entry['digital_silence_share']:.1%} of the audio, "
                    f"{entry['digital_silence_in_speech']:.1%} of the annotated speech",
                )
            )
    lag = entry["lag_seconds"]
    shift = (
        lag is not None
        and abs(lag) > SHIFT_MIN
        and entry["lag_corr"] >= SHIFT_MIN_CORR
        and entry["lag_corr"] - entry["lag0_corr"] >= SHIFT_GAIN
    )
    if shift:
        out.append(
            (
                "shift",
                f"annotation {'late' if lag > 0 else 'early'} by {abs(lag):.2f} s "
                f"(correlation {entry['lag0_corr']:.2f} at 0 s, {entry['lag_corr']:.2f} at {lag:+.2f} s)",
            )
        )
    sp, ns = entry["speech_db"], entry["nonspeech_db"]
    corr = entry["lag0_corr"]
    if shift and entry.get("speech_db_at_lag") is not None:  # judged once realigned
        sp, ns, corr = entry["speech_db_at_lag"], entry["nonspeech_db_at_lag"], entry["lag_corr"]
    after = " after realignment" if shift else ""
    if sp is not None and ns is not None and sp - ns < SPEECH_MARGIN_DB:
        out.append(
            (
                "speech_not_louder",
                f"annotated speech {sp:.1f} dBFS vs unannotated {ns:.1f} dBFS{after} "
                "(annotation of another recording?)",
            )
        )
    elif corr is not None and corr < SPEECH_MIN_CORR:
        out.append(
            (
                "speech_not_louder",
                f"annotated frames are not consistently the louder ones: correlation "
                f"{corr:.2f} of annotation and level{after} (annotation of another "
                "recording?)",
            )
        )
    return out


def validate_recording(
    recording,
    turns: Sequence[Tuple[float, float]],
    uem: Sequence[Tuple[float, float]],
    channels: Optional[Sequence[int]] = None,
    input_name: str = "",
) -> List[dict]:
    """One entry per channel (those in ``channels``, default all) of ``recording``
    (a Lhotse Recording, or a MixedCut validated as its own recording)."""
    from lhotse.cut import MixedCut

    base = dict(input=input_name, id=recording.id)
    if isinstance(recording, MixedCut):
        sr = recording.sampling_rate
        try:
            audio = recording.load_audio()
        except Exception as e:  # noqa: BLE001 - reported, not raised
            return [dict(base, channel=0, error=f"cannot render the mixture: {e}", flags=["unreadable"])]
        stats = _array_stats(audio, sr)
        frames = AudioFrames(
            energy=stats["energy"],
            clipped=stats["clipped"],
            samples=stats["samples"],
            sums=stats["sums"],
            channels=list(range(stats["channels"])),
            files=[
                dict(
                    path="<mixture>",
                    rate=sr,
                    channels=stats["channels"],
                    frames=stats["frames"],
                    streamed=False,
                    manifest_channels=list(range(stats["channels"])),
                )
            ],
        )
        manifest = dict(rate=sr, duration=recording.duration, channels=stats["channels"])
    else:
        manifest = dict(rate=recording.sampling_rate, duration=recording.duration, channels=len(recording.channel_ids))
        try:
            frames = read_recording_frames(recording)
        except Exception as e:  # noqa: BLE001 - reported, not raised
            msg = " ".join(str(e).split("[extra info]")[0].split()) or type(e).__name__
            paths = ", ".join(str(s.source) for s in recording.sources)
            return [
                dict(base, channel=c, error=f"cannot read {paths}: {msg}", flags=["unreadable"])
                for c in (channels or recording.channel_ids)
            ]
    file_of_row = [f for f in frames.files for _ in range(f["channels"])]
    entries = []
    for row, cid in enumerate(frames.channels):
        if channels is not None and cid not in channels:
            continue
        f = file_of_row[row]
        e = dict(
            base,
            channel=cid,
            path=f["path"],
            streamed=f["streamed"],
            sampling_rate_manifest=manifest["rate"],
            sampling_rate_file=f["rate"],
            duration_manifest=round(manifest["duration"], 4),
            duration_file=round(f["frames"] / f["rate"], 4),
            samples_file=int(f["frames"]),
            channels_manifest=len(f["manifest_channels"]),
            channels_file=f["channels"],
            clipped_share=float(frames.clipped[row] / max(frames.samples[row], 1)),
            dc_offset=float(frames.sums[row] / max(frames.samples[row], 1)),
        )
        e.update(analyse_channel(frames.energy[row], turns, uem))
        entries.append(e)
    levels = [e["level_db"] for e in entries if e["level_db"] is not None]
    loudest = max(levels) if len(levels) > 1 else None
    for e in entries:
        pairs = _flags_of(e, loudest)
        e["flags"] = [f for f, _ in pairs]
        e["reason"] = "; ".join(r for _, r in pairs)
    return entries


def thresholds() -> dict:
    return dict(
        frame_seconds=FRAME,
        max_lag_seconds=MAX_LAG,
        shift_min_seconds=SHIFT_MIN,
        shift_gain=SHIFT_GAIN,
        shift_min_corr=SHIFT_MIN_CORR,
        clip_level=CLIP_LEVEL,
        clip_share=CLIP_SHARE,
        silence_share_speech=SILENCE_SHARE_SPEECH,
        silence_share_audio=SILENCE_SHARE_AUDIO,
        dead_below_db=DEAD_BELOW_DB,
        dead_range_db=DEAD_RANGE_DB,
        speech_margin_db=SPEECH_MARGIN_DB,
        speech_min_corr=SPEECH_MIN_CORR,
        vad_min_margin_db=VAD_MIN_MARGIN_DB,
        vad_range_share=VAD_RANGE_SHARE,
        vad_fill_gap_seconds=VAD_FILL_GAP,
    )
