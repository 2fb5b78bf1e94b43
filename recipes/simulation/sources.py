"""Single-speaker source utterances: energy VAD, :func:`prepare_sources`, the speaker split and
:func:`load_sources` (plain JSON, no Lhotse objects).

Source VAD (:func:`speech_segments`)
------------------------------------
Frames of 25 ms every 10 ms over the source audio (mono, native rate); frame
log energy ``10 log10(mean(x^2) + 1e-10)`` dB. The threshold is relative to
the noise floor (a low percentile of the frame energies): ``floor +
min(12 dB, (peak - floor) / 2)``, so a -65 dBFS noise floor is not speech
(a rule relative to the loudest frame, 40 dB below it, left 61 % of such
utterances untrimmed). Speech runs closer than ``--min-pause`` are merged,
each segment is widened by a 50 ms collar. Word alignments, when present,
are used instead.
"""

import gzip
import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from recipes.simulation.config import (
    MIN_PAUSE,
    SEGMENT_MARGIN,
    TURN_MAX_PAUSE,
    TURN_MAX_SEGMENTS,
    VAD_COLLAR,
    VAD_FLOOR_PERCENTILE,
    VAD_FRAME,
    VAD_MARGIN_DB,
    VAD_MIN_SPEECH,
    VAD_SHIFT,
)

logger = logging.getLogger(__name__)


def frame_energies(samples: np.ndarray, sampling_rate: int) -> np.ndarray:
    """Log energies (dB re full scale) of 25 ms frames every 10 ms (mono: channels averaged)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim > 1:
        x = x.mean(axis=0)
    win, hop = int(round(VAD_FRAME * sampling_rate)), int(round(VAD_SHIFT * sampling_rate))
    if x.size < win:
        x = np.pad(x, (0, win - x.size))
    n = 1 + (x.size - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    return 10 * np.log10(np.mean(x[idx] ** 2, axis=1) + 1e-10)


def speech_segments(
    samples: np.ndarray, sampling_rate: int, min_pause: float = MIN_PAUSE, collar: float = VAD_COLLAR
) -> List[Tuple[float, float]]:
    """Speech segments ``[(start, end)]`` in seconds, split at pauses of at least ``min_pause``.

    Relative to the noise floor: ``floor`` = the ``VAD_FLOOR_PERCENTILE`` percentile of the frame
    energies, ``peak`` = the loudest frame; a frame is speech when its energy is at least
    ``floor + min(VAD_MARGIN_DB, (peak - floor) / 2)``. Runs of speech frames closer than
    ``min_pause`` are merged, runs shorter than ``VAD_MIN_SPEECH`` dropped; each segment is
    widened by ``collar`` (at most half the pause to its neighbour) and clipped to the audio.
    Empty when the audio is silent (peak below -99 dB).
    """
    energy = frame_energies(samples, sampling_rate)
    peak = float(energy.max())
    if peak <= -99.0:
        return []
    floor = float(np.percentile(energy, VAD_FLOOR_PERCENTILE))
    speech = energy >= floor + min(VAD_MARGIN_DB, (peak - floor) / 2)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], speech.astype(np.int8), [0]])))
    runs = [[a * VAD_SHIFT, (b - 1) * VAD_SHIFT + VAD_FRAME] for a, b in zip(edges[::2], edges[1::2])]
    merged: List[List[float]] = []
    for r in runs:
        if merged and r[0] - merged[-1][1] < min_pause:
            merged[-1][1] = r[1]
        else:
            merged.append(r)
    merged = [r for r in merged if r[1] - r[0] >= VAD_MIN_SPEECH]
    duration = samples.shape[-1] / sampling_rate
    return _widen(merged, collar, duration)


def _widen(segments, collar: float, duration: float) -> List[Tuple[float, float]]:
    out = []
    for k, (a, b) in enumerate(segments):
        lo = collar if k == 0 else min(collar, (a - segments[k - 1][1]) / 2)
        hi = collar if k == len(segments) - 1 else min(collar, (segments[k + 1][0] - b) / 2)
        out.append((round(max(a - lo, 0.0), 4), round(min(b + hi, duration), 4)))
    return out


def energy_vad(samples: np.ndarray, sampling_rate: int, collar: float = VAD_COLLAR) -> Optional[Tuple[float, float]]:
    """``(start, end)`` in seconds from the first to the last speech of :func:`speech_segments`; None if silent."""
    segs = speech_segments(samples, sampling_rate, min_pause=float("inf"), collar=collar)
    return segs[0] if segs else None


def word_segments(words, min_pause: float, duration: float) -> List[Tuple[float, float]]:
    """Word alignments merged into segments where consecutive words are closer than ``min_pause``."""
    out: List[List[float]] = []
    for w in sorted(words, key=lambda a: a.start):
        a, b = max(w.start, 0.0), min(w.end, duration)
        if out and a - out[-1][1] < min_pause:
            out[-1][1] = max(out[-1][1], b)
        elif b > a:
            out.append([a, b])
    return [(round(a, 4), round(b, 4)) for a, b in out]


def prepare_sources(
    cuts, progress: bool = True, min_pause: Optional[float] = MIN_PAUSE, margin: float = SEGMENT_MARGIN
):
    """Single-speaker source cuts, one supervision each covering speech (lazy generator of MonoCuts).

    Each cut's supervisions (which must share one speaker) give its speech from the word
    alignments when they exist, else from :func:`speech_segments` on the audio. With
    ``min_pause`` (seconds, default 0.3) every speech segment separated from the next by a
    pause of at least ``min_pause`` becomes its own cut (id ``<cut id>-<k:03d>``), reaching
    ``margin`` seconds (at most half the pause) beyond its speech, as BUT's EEND_dataprep v2
    prepares conversation sources; with ``min_pause`` None or 0 the cut keeps its extent and
    one supervision from its first to its last speech. Custom field ``speech_boundary`` says
    how (``alignment`` | ``vad``), ``energy`` is the mean square of the cut's audio (the SNR
    reference of noise, see :class:`recipes.simulation.effects._Noise`). Silent cuts are skipped with a warning.
    """
    from lhotse.utils import fastcopy
    from tqdm import tqdm

    split = bool(min_pause)
    gap = float(min_pause) if split else float("inf")
    for cut in tqdm(cuts, desc="source segments", disable=not progress):
        sups = list(cut.supervisions)
        speakers = {s.speaker for s in sups}
        if len(speakers) != 1 or None in speakers:
            raise ValueError(
                f"source cut {cut.id}: expected supervisions of one speaker, got {sorted(map(str, speakers))}"
            )
        words = [a for s in sups for a in ((s.alignment or {}).get("word") or [])]
        audio = cut.load_audio()
        if audio.ndim > 1:
            audio = audio.mean(axis=0)
        sr = cut.sampling_rate
        if words:
            segs = word_segments(words, gap, cut.duration)
            how = "alignment"
        else:
            segs = speech_segments(audio, sr, min_pause=gap)
            how = "vad"
        if not segs:
            logger.warning("source cut %s: no speech found, skipped", cut.id)
            continue
        first = sups[0]
        custom = dict(cut.custom or {})
        custom["speech_boundary"] = how
        if not split:
            a, b = segs[0][0], segs[-1][1]
            sup = fastcopy(first, id=first.id, start=a, duration=round(b - a, 4), alignment=None)
            custom["energy"] = float(np.mean(np.square(audio, dtype=np.float64)))
            yield fastcopy(cut, supervisions=[sup], custom=custom)
            continue
        for k, (a, b) in enumerate(segs):
            lo = max(0.0, a - (margin if k == 0 else min(margin, (a - segs[k - 1][1]) / 2)))
            hi = min(cut.duration, b + (margin if k == len(segs) - 1 else min(margin, (segs[k + 1][0] - b) / 2)))
            lo, hi = round(lo, 4), round(hi, 4)
            sid = f"{cut.id}-{k:03d}"
            sup = fastcopy(first, id=sid, start=round(a - lo, 4), duration=round(b - a, 4), alignment=None)
            piece = audio[int(round(lo * sr)) : int(round(hi * sr))]
            energy = float(np.mean(np.square(piece, dtype=np.float64))) if piece.size else 0.0
            yield fastcopy(
                cut,
                id=sid,
                start=round(cut.start + lo, 4),
                duration=round(hi - lo, 4),
                supervisions=[sup],
                custom={**custom, "energy": energy},
            )


def speaker_in_split(speaker: str, split: Optional[str], dev_fraction: float, seed: int = 0) -> bool:
    """Deterministic speaker split: a speaker is ``dev`` when ``sha1(seed:speaker)``, read as a
    number in [0, 1), is below ``dev_fraction``, else ``train``; ``split=None`` keeps everyone."""
    if split is None:
        return True
    if split not in ("train", "dev"):
        raise ValueError(f"speaker split {split!r}; expected train or dev")
    u = int(hashlib.sha1(f"{seed}:{speaker}".encode()).hexdigest()[:13], 16) / 16**13
    return (u < dev_fraction) == (split == "dev")


@dataclass
class Sources:
    """Source utterances as arrays plus each one's serialised MonoCut JSON (made once).

    Consecutive sources ``i, i + 1`` *join* (``joins_next[i]``) when they are consecutive
    speech segments of one source utterance, as :func:`prepare_sources` writes them: same
    speaker, same recording, ``i + 1`` starting where ``i``'s audio ends or later, and at most
    ``TURN_MAX_PAUSE`` seconds between their speech. A *window* ``[first, last]`` of joined
    sources is one stretch of the recording: one cut from ``first``'s start to ``last``'s end,
    one supervision from ``first``'s speech start to ``last``'s speech end (the pauses between
    them inside, as a real turn has them); the ``conversation`` method builds turns of them.
    """

    json: List[str]  # compact JSON of the MonoCut (one supervision), recording last
    rec_id_pos: np.ndarray  # (start, end) character span of the recording id value in ``json``
    duration: np.ndarray  # seconds
    sup_start: np.ndarray  # supervision start, seconds from the utterance start
    sup_end: np.ndarray
    speaker: np.ndarray  # index into ``speakers``
    speakers: List[str]
    by_speaker: List[np.ndarray]  # source indices per speaker
    sampling_rate: Optional[int]
    has_transforms: bool = False  # a source recording has Lhotse transforms (resampling, speed, ...)
    energy: Optional[np.ndarray] = None  # mean square of each source cut's audio (NaN: unknown)
    cut_start: Optional[np.ndarray] = None  # seconds: each cut's start in its recording
    joins_next: Optional[np.ndarray] = None  # bool: source i and i + 1 form one stretch (see above)

    def __len__(self):
        return len(self.json)

    def length_sorted(self, speaker: int) -> Tuple[np.ndarray, np.ndarray]:
        """``(speech lengths ascending, source indices)`` of one speaker's utterances (cached)."""
        cache = self.__dict__.setdefault("_length_sorted", {})
        if speaker not in cache:
            pool = self.by_speaker[speaker]
            lengths = self.sup_end[pool] - self.sup_start[pool]
            order = np.argsort(lengths, kind="stable")
            cache[speaker] = (lengths[order], pool[order])
        return cache[speaker]

    def windows(self, speaker: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(speech lengths ascending, first, last)`` of every window of joined sources of one
        speaker (single sources included; at most ``TURN_MAX_SEGMENTS`` each; cached)."""
        cache = self.__dict__.setdefault("_windows", {})
        if speaker not in cache:
            pool = self.by_speaker[speaker].tolist()
            joins = self.joins_next
            firsts, lasts = [], []
            k = 0
            while k < len(pool):  # chains of joined sources: pool[k .. m]
                m = k
                while m + 1 < len(pool) and pool[m + 1] == pool[m] + 1 and joins is not None and joins[pool[m]]:
                    m += 1
                for a in range(k, m + 1):
                    for b in range(a, min(m, a + TURN_MAX_SEGMENTS - 1) + 1):
                        firsts.append(pool[a])
                        lasts.append(pool[b])
                k = m + 1
            first, last = np.asarray(firsts, dtype=np.int64), np.asarray(lasts, dtype=np.int64)
            s0, s1, _ = self.spans(first, last)
            lengths = s1 - s0
            order = np.argsort(lengths, kind="stable")
            cache[speaker] = (lengths[order], first[order], last[order])
        return cache[speaker]

    def spans(self, first: np.ndarray, last: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(speech start, speech end, duration)`` of windows ``[first, last]``, seconds from
        ``first``'s start (``last = first``: the source's own supervision and duration)."""
        shift = self.cut_start[last] - self.cut_start[first] if self.cut_start is not None else 0.0
        return self.sup_start[first], shift + self.sup_end[last], shift + self.duration[last]

    def window_energy(self, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Mean square of windows ``[first, last]`` (their sources' energies, weighted by duration)."""
        out = np.empty(len(first))
        for n, (a, b) in enumerate(zip(np.asarray(first).tolist(), np.asarray(last).tolist())):
            d = self.duration[a : b + 1]
            out[n] = float(np.sum(self.energy[a : b + 1] * d) / np.sum(d))
        return out

    def window_json(self, first: int, last: int) -> Tuple[str, Tuple[int, int]]:
        """``(cut JSON, recording id span)`` of window ``[first, last]``, as ``json`` /
        ``rec_id_pos`` hold them for a single source (``last == first``: those)."""
        if last == first:
            return self.json[first], tuple(self.rec_id_pos[first])
        d = json.loads(self.json[first])
        s0, s1, dur = (float(x[0]) for x in self.spans(np.array([first]), np.array([last])))
        d["id"] = f"{d['id']}+{last - first}"
        d["duration"] = round(dur, 6)
        sup = d["supervisions"][0]
        sup["id"], sup["start"], sup["duration"] = d["id"], round(s0, 6), round(s1 - s0, 6)
        rec = d.pop("recording")
        return _cut_json(d, rec)


_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _cut_json(cut: dict, rec: dict) -> Tuple[str, Tuple[int, int]]:
    """Compact JSON of a MonoCut with its recording last, and the span of the recording id value."""
    rec = dict(rec)
    rec_id = _dumps(rec.pop("id"))
    head = _dumps(cut)[:-1] + ',"recording":{"id":'
    rest = _dumps(rec)
    text = head + rec_id + ("," + rest[1:] if len(rest) > 2 else "}") + "}"
    return text, (len(head) + 1, len(head) + len(rec_id) - 1)


def _opener(path):
    return gzip.open(path, "rt") if str(path).endswith(".gz") else open(path)


def load_sources(
    paths, supervision: str = "speech", split: Optional[str] = None, dev_fraction: float = 0.1, split_seed: int = 0
) -> Sources:
    """Read source cuts from JSONL(.gz) manifests with plain JSON (no Lhotse objects: fast).

    Every cut must be a MonoCut with supervisions of one speaker (the first one
    is used; :func:`prepare_sources` makes exactly one). ``supervision="utterance"``
    replaces it by the whole utterance. Only the speakers of ``split`` are kept.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    js, dur, s0, s1, spk, pos, en, c0, recs = [], [], [], [], [], [], [], [], []
    spk_index: Dict[str, int] = {}
    keep: Dict[str, bool] = {}
    rates = set()
    has_transforms = False
    for path in paths:
        with _opener(path) as f:
            for line in f:
                if not line.strip():
                    continue
                d = json.loads(line)
                if d.get("type", "MonoCut") != "MonoCut" or "recording" not in d:
                    raise ValueError(f"{path}: cut {d.get('id')}: sources must be MonoCuts with a recording")
                sups = d.get("supervisions") or []
                if not sups or sups[0].get("speaker") is None:
                    raise ValueError(
                        f"{path}: cut {d['id']}: no supervision with a speaker (run `diar simulate-sources` first)"
                    )
                name = sups[0]["speaker"]
                if name not in keep:
                    keep[name] = speaker_in_split(name, split, dev_fraction, split_seed)
                if not keep[name]:
                    continue
                sup = dict(sups[0])
                sup.pop("alignment", None)
                duration = float(d["duration"])
                if supervision == "utterance":
                    sup["start"], sup["duration"] = 0.0, duration
                start, end = max(float(sup["start"]), 0.0), min(float(sup["start"]) + float(sup["duration"]), duration)
                if end <= start:
                    continue
                cut = {
                    "id": d["id"],
                    "start": d["start"],
                    "duration": duration,
                    "channel": d.get("channel", 0),
                    "supervisions": [sup],
                    "type": "MonoCut",
                }
                rec = d["recording"]
                if rec.get("transforms"):
                    has_transforms = True
                text, span = _cut_json(cut, rec)
                js.append(text)
                pos.append(span)
                rates.add(rec.get("sampling_rate"))
                recs.append(rec["id"])
                c0.append(float(d["start"]))
                en.append(float((d.get("custom") or {}).get("energy", math.nan)))
                dur.append(duration)
                s0.append(start)
                s1.append(end)
                spk.append(spk_index.setdefault(name, len(spk_index)))
    if not js:
        raise ValueError(f"no source cuts{' for split ' + split if split else ''} in {list(map(str, paths))}")
    if len(rates) > 1:
        raise ValueError(f"source cuts have several sampling rates {sorted(rates)}; resample them first")
    speaker = np.asarray(spk, dtype=np.int64)
    cut_start, dur_a, s0_a, s1_a = np.asarray(c0), np.asarray(dur), np.asarray(s0), np.asarray(s1)
    joins = np.zeros(len(js), dtype=bool)
    if len(js) > 1:
        same = (speaker[1:] == speaker[:-1]) & np.array([a == b for a, b in zip(recs[1:], recs[:-1])])
        after = cut_start[1:] >= cut_start[:-1] + dur_a[:-1] - 1e-6
        pause = (cut_start[1:] + s0_a[1:]) - (cut_start[:-1] + s1_a[:-1])
        joins[:-1] = same & after & (pause <= TURN_MAX_PAUSE)
    order = np.argsort(speaker, kind="stable")
    bounds = np.searchsorted(speaker[order], np.arange(len(spk_index) + 1))
    return Sources(
        json=js,
        rec_id_pos=np.asarray(pos, dtype=np.int64),
        duration=dur_a,
        sup_start=s0_a,
        sup_end=s1_a,
        speaker=speaker,
        speakers=list(spk_index),
        sampling_rate=rates.pop(),
        by_speaker=[order[bounds[i] : bounds[i + 1]] for i in range(len(spk_index))],
        has_transforms=has_transforms,
        energy=np.asarray(en),
        cut_start=cut_start,
        joins_next=joins,
    )
