"""Multi-speaker mixture simulation from single-speaker utterances -> lazy MixedCuts.

Input: a Lhotse CutSet of single-speaker utterances (MonoCuts), each with one
supervision that carries the speaker id and covers the *speech* of the
utterance (:func:`prepare_sources` trims it once with an energy VAD or the
word alignments, see below). Output: a CutSet of
:class:`lhotse.cut.MixedCut`, one track per source utterance placed at its
offset, with that utterance's supervision (so ``MixedCut.supervisions`` are
the speaker turns, in mixture time). No audio is written: Lhotse mixes the
tracks when ``cut.load_audio()`` is called (``--materialize`` writes 8 kHz
FLAC, an RTTM and a Kaldi data dir on request).

Methods (times in seconds)
--------------------------
``eend``
    The EEND recipes' algorithm (Fujita et al. 2019, ``random_mixture.py`` /
    ``make_mixture.py``): draw ``S`` distinct speakers (``S`` from the
    configured probabilities); for each, draw ``n ~ U{lo..hi}`` of its
    utterances without replacement (all of them when it has fewer); put a
    silence ``~ Exponential(scale=beta)`` before *every* utterance of the
    speaker and concatenate; the mixture is the sum of the speaker streams
    (length = longest stream). ``beta`` may depend on ``S`` (EEND-EDA: 2, 2, 5, 9).
``conversation``
    Simulated conversations (Landini et al., 2022): the ``S * n`` utterances
    are put in a random order; each one starts relative to the *speech* end of
    the previous one: the same speaker -> after a pause drawn from the
    same-speaker pauses; another speaker -> with probability ``p_overlap``
    (the share of speaker changes that overlap in the real data) an overlap
    drawn from the overlaps (redrawn, up to 20 times, while it is not shorter
    than both utterances' speech, then capped at 0.9 of the shorter), else a
    pause drawn from the speaker-change pauses. A speaker never starts before
    its own previous speech ended (+1 ms). The distributions are the empirical
    values (drawn with replacement) measured on real turns
    (:func:`conversation_stats`: an RTTM file/dir or a CutSet). Offsets are
    rounded up to whole milliseconds. The audio of an utterance's own leading /
    trailing silence may overlap the same speaker's previous utterance; its
    speech never does.
``target-overlap``
    ``eend`` with ``beta`` calibrated per (speaker count, overlap level) so that
    the pooled overlap ratio (overlap / speech of the supervisions, as
    ``diar describe``) of each combination equals the requested level: bisection on ``log(beta)`` over a fixed
    pilot of mixtures with common random numbers (silences are ``beta * E``,
    ``E ~ Exp(1)`` drawn once), which makes the pilot's ratio a monotone
    function of ``beta``. The calibration and the ratios reached are written
    in the statistics file.

Randomness and sharding
-----------------------
Mixture ``i`` draws everything from ``numpy.random.default_rng([seed, i])``;
shards are fixed ranges of mixture indices (``shard_size`` per shard) and
jobs take whole shards, so a seed gives byte-identical output for any
``--num-jobs`` (gzip headers carry no time stamp or name). ``--hours H`` sets
the number of mixtures to ``ceil(3600 H / expected mixture duration)`` (from
pilots of each (speaker count, level) combination, 2,000 mixtures in all),
so the set is about ``H`` hours (the statistics file says how many exactly).

Output layout (``OUT_CUTS = DIR/NAME.jsonl.gz``)
----------------------------------------------
- ``DIR/NAME.000000.jsonl.gz``, ``DIR/NAME.000001.jsonl.gz``, ...: the shards,
  each a complete gzip JSONL of MixedCuts (``CutSet.from_files(shards)``
  reads them lazily, and can shuffle shard order for training);
- ``DIR/NAME.shards.txt``: the shard file names in order (the index);
- ``DIR/NAME.jsonl.gz``: all shards concatenated (a multi-member gzip, which
  Lhotse reads lazily like any manifest), unless ``--no-merge``;
- ``DIR/NAME.stats.json``: what was simulated: configuration, calibration,
  hours, overlap ratio, silence ratio, histogram of speaker counts,
  per-mixture overlap-ratio distribution per (speaker count, level).
Every file is written under a temporary name and renamed when complete; the
index and the merged file are written last.

The recording of each MixedCut's first track (the earliest one) carries the
*mixture id* as its id (its audio source is unchanged), and that track's cut
the custom field ``recording_id``: Lhotse's MixedCut has no ``recording_id``
of its own; it answers only when a track has a custom field of that name, and
then with that track's recording id. ``recipes.labels`` (speaker order per
recording) and ``recipes.stats`` read it; with the source's id, mixtures that
start with the same source utterance would share a recording id. The first
track's supervision keeps the source's recording id.

Source VAD (:func:`energy_vad`)
-------------------------------
Frames of 25 ms every 10 ms over the source audio (mono, native rate); frame
log energy ``10 log10(mean(x^2) + 1e-10)`` dB; a frame is speech when its
energy is at least ``max_frame_energy - 40 dB``. The supervision spans from
the start of the first speech frame to the end of the last one, widened by a
50 ms collar on each side and clipped to the utterance. When the source
supervision has word alignments, their first start / last end are used
instead. Silence *inside* the utterance stays in the supervision.
"""
import bisect
import gzip
import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import click
import numpy as np

from recipes.clitools import one_line_errors
from recipes.fileio import clear_disk_errors

logger = logging.getLogger(__name__)

METHODS = ("eend", "conversation", "target-overlap")
SUPERVISION_MODES = ("speech", "utterance")
PILOT_MIXTURES = 2000  # mixtures used to turn --hours into a number of mixtures
VAD_FRAME = 0.025  # seconds
VAD_SHIFT = 0.010  # seconds
VAD_RANGE_DB = 40.0  # speech = frames within this many dB of the loudest frame
VAD_COLLAR = 0.05  # seconds added on both sides of the detected speech
HIST_BINS = 20  # per-mixture overlap ratio histogram: bins of 0.05 over [0, 1]


# ---------------------------------------------------------------------------
# configuration


@dataclass
class SimulationConfig:
    """A simulation preset (``conf/simulation/*.yaml``); every field has a default.

    - ``method``: ``eend`` | ``conversation`` | ``target-overlap``.
    - ``speakers``: speaker count (1..5) -> probability (normalised).
    - ``utterances_per_speaker``: ``[lo, hi]`` inclusive.
    - ``beta``: silence scale in seconds, one value or speaker count -> value.
    - ``target_overlap``: overlap levels for ``target-overlap``: one value, a
      list (each mixture draws a level uniformly) or speaker count -> either.
    - ``calibration_mixtures``: pilot size per (speaker count, level).
    - ``conversation_stats``: RTTM file/dir or CutSet manifest for ``conversation``.
    - ``supervision``: ``speech`` (the VAD-trimmed source supervision) or
      ``utterance`` (the whole utterance, silence included, as EEND labels).
    - ``hours``: default set size, one value or split name -> hours.
    - ``hours_per_combination``: instead of ``hours``: at least this many hours
      of every (speaker count, level) combination (consecutive blocks of mixture
      indices, one block per combination), one value or split -> hours.
    - ``dev_fraction``, ``split_seed``: the deterministic speaker split.
    - ``shard_size``: mixtures per shard.
    - ``noise``: ``{cuts: manifest, snr: [lo, hi], probability: p}`` (optional).
    - ``reverb``: ``{rirs: fast | RecordingSet manifest, probability: p}`` (optional):
      with probability ``p`` a mixture is reverberant, one impulse response per
      speaker (``fast``: Lhotse's fast random RIR generator, one room per
      mixture, one source position per speaker; else RIRs drawn from the manifest).
    """

    method: str = "eend"
    speakers: Dict[int, float] = field(default_factory=lambda: {2: 1.0})
    utterances_per_speaker: Tuple[int, int] = (10, 20)
    beta: Any = 2.0
    target_overlap: Any = None
    calibration_mixtures: int = 300
    conversation_stats: Optional[str] = None
    supervision: str = "speech"
    hours: Any = None
    hours_per_combination: Any = None
    dev_fraction: float = 0.1
    split_seed: int = 0
    shard_size: int = 500
    noise: Optional[Dict[str, Any]] = None
    reverb: Optional[Dict[str, Any]] = None
    name: str = ""

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method {self.method!r}; expected one of {METHODS}")
        if self.supervision not in SUPERVISION_MODES:
            raise ValueError(f"supervision {self.supervision!r}; expected one of {SUPERVISION_MODES}")
        spk = {int(k): float(v) for k, v in dict(self.speakers).items() if float(v) > 0}
        if not spk or any(k < 1 or k > 5 for k in spk) or any(v < 0 for v in spk.values()):
            raise ValueError(f"speakers {self.speakers!r}: expected speaker counts 1..5 -> probabilities > 0")
        total = sum(spk.values())
        self.speakers = {k: v / total for k, v in sorted(spk.items())}
        lo, hi = (int(x) for x in self.utterances_per_speaker)
        if not 1 <= lo <= hi:
            raise ValueError(f"utterances_per_speaker {self.utterances_per_speaker!r}: expected 1 <= lo <= hi")
        self.utterances_per_speaker = (lo, hi)
        for k in self.speakers:
            if self.beta_for(k) <= 0:
                raise ValueError(f"beta for {k} speakers must be > 0")
        if self.method == "target-overlap":
            if self.target_overlap is None:
                raise ValueError("method target-overlap needs target_overlap")
            for k in self.speakers:
                for level in self.levels_for(k):
                    if level is not None and not 0.0 < level < 1.0:
                        raise ValueError(f"target_overlap {level!r} for {k} speakers: expected 0 < level < 1")
        if self.method == "conversation" and not self.conversation_stats:
            raise ValueError("method conversation needs conversation_stats (an RTTM or a CutSet of real turns)")
        if self.shard_size < 1:
            raise ValueError("shard_size must be >= 1")
        if not 0.0 <= self.dev_fraction <= 1.0:
            raise ValueError("dev_fraction must be in [0, 1]")

    def beta_for(self, num_speakers: int) -> float:
        if isinstance(self.beta, dict):
            table = {int(k): float(v) for k, v in self.beta.items()}
            if num_speakers not in table:
                raise ValueError(f"beta has no value for {num_speakers} speakers")
            return table[num_speakers]
        return float(self.beta)

    def levels_for(self, num_speakers: int) -> List[Optional[float]]:
        """Overlap levels of ``target-overlap`` for a speaker count (``[None]``: no target)."""
        if self.method != "target-overlap" or num_speakers < 2:
            return [None]
        t = self.target_overlap
        if isinstance(t, dict):
            t = {int(k): v for k, v in t.items()}.get(num_speakers)
            if t is None:
                raise ValueError(f"target_overlap has no value for {num_speakers} speakers")
        values = t if isinstance(t, (list, tuple)) else [t]
        return [float(v) for v in values]

    def combinations(self) -> List[Tuple[int, Optional[float], float]]:
        """``(speaker count, level, probability)`` for every combination a mixture may draw."""
        out = []
        for k, p in self.speakers.items():
            levels = self.levels_for(k)
            out += [(k, lv, p / len(levels)) for lv in levels]
        return out

    def hours_for(self, split: Optional[str], per_combination: bool = False) -> Optional[float]:
        hours = self.hours_per_combination if per_combination else self.hours
        if hours is None:
            return None
        if isinstance(hours, dict):
            if split is None or split not in hours:
                return None
            return float(hours[split])
        return float(hours)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["utterances_per_speaker"] = list(self.utterances_per_speaker)
        return d


def load_config(path=None, **overrides) -> SimulationConfig:
    """Read a YAML preset (unknown keys are an error); ``overrides`` replace its values."""
    data: Dict[str, Any] = {}
    if path is not None:
        import yaml

        with open(path) as f:
            data = yaml.safe_load(f) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of simulation options")
        data.setdefault("name", Path(path).stem)
    data.update({k: v for k, v in overrides.items() if v is not None})
    known = set(SimulationConfig.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown option(s) {unknown}; expected some of {sorted(known)}")
    return SimulationConfig(**data)


# ---------------------------------------------------------------------------
# sources


def energy_vad(samples: np.ndarray, sampling_rate: int, range_db: float = VAD_RANGE_DB,
               collar: float = VAD_COLLAR) -> Optional[Tuple[float, float]]:
    """``(start, end)`` in seconds of the speech in ``samples`` (see the module docstring); None if silent."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim > 1:
        x = x.mean(axis=0)
    win, hop = int(round(VAD_FRAME * sampling_rate)), int(round(VAD_SHIFT * sampling_rate))
    if x.size < win:
        x = np.pad(x, (0, win - x.size))
    n = 1 + (x.size - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    energy = 10 * np.log10(np.mean(x[idx] ** 2, axis=1) + 1e-10)
    speech = np.flatnonzero(energy >= energy.max() - range_db)
    if energy.max() <= -99.0 or speech.size == 0:
        return None
    duration = samples.shape[-1] / sampling_rate
    start = max(speech[0] * VAD_SHIFT - collar, 0.0)
    end = min(speech[-1] * VAD_SHIFT + VAD_FRAME + collar, duration)
    return round(start, 4), round(end, 4)


def prepare_sources(cuts, progress: bool = True):
    """Single-speaker source cuts with one supervision covering the speech (lazy generator of MonoCuts).

    Each cut keeps its recording; its supervisions (which must share one
    speaker) become one supervision trimmed by the word alignments when they
    exist, else by :func:`energy_vad` on the audio. Custom field
    ``speech_boundary`` says which (``alignment`` | ``vad``). Silent cuts are
    skipped with a warning.
    """
    from lhotse.utils import fastcopy
    from tqdm import tqdm

    for cut in tqdm(cuts, desc="source VAD", disable=not progress):
        sups = list(cut.supervisions)
        speakers = {s.speaker for s in sups}
        if len(speakers) != 1 or None in speakers:
            raise ValueError(f"source cut {cut.id}: expected supervisions of one speaker, "
                             f"got {sorted(map(str, speakers))}")
        words = [a for s in sups for a in ((s.alignment or {}).get("word") or [])]
        if words:
            span = (max(min(a.start for a in words), 0.0), min(max(a.end for a in words), cut.duration))
            how = "alignment"
        else:
            span = energy_vad(cut.load_audio(), cut.sampling_rate)
            how = "vad"
        if span is None or span[1] <= span[0]:
            logger.warning("source cut %s: no speech found, skipped", cut.id)
            continue
        first = sups[0] if sups else None
        sup = fastcopy(first, id=first.id, start=span[0], duration=round(span[1] - span[0], 4), alignment=None)
        custom = dict(cut.custom or {})
        custom["speech_boundary"] = how
        yield fastcopy(cut, supervisions=[sup], custom=custom)


def speaker_in_split(speaker: str, split: Optional[str], dev_fraction: float, seed: int = 0) -> bool:
    """Deterministic speaker split: a speaker is ``dev`` when ``sha1(seed:speaker)``, read as a
    number in [0, 1), is below ``dev_fraction``, else ``train``; ``split=None`` keeps everyone."""
    if split is None:
        return True
    if split not in ("train", "dev"):
        raise ValueError(f"speaker split {split!r}; expected train or dev")
    u = int(hashlib.sha1(f"{seed}:{speaker}".encode()).hexdigest()[:13], 16) / 16 ** 13
    return (u < dev_fraction) == (split == "dev")


@dataclass
class Sources:
    """Source utterances as arrays plus each one's serialised MonoCut JSON (made once)."""

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

    def __len__(self):
        return len(self.json)


def _opener(path):
    return gzip.open(path, "rt") if str(path).endswith(".gz") else open(path)


def load_sources(paths, supervision: str = "speech", split: Optional[str] = None,
                 dev_fraction: float = 0.1, split_seed: int = 0) -> Sources:
    """Read source cuts from JSONL(.gz) manifests with plain JSON (no Lhotse objects: fast).

    Every cut must be a MonoCut with supervisions of one speaker (the first one
    is used; :func:`prepare_sources` makes exactly one). ``supervision="utterance"``
    replaces it by the whole utterance. Only the speakers of ``split`` are kept.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    js, dur, s0, s1, spk, pos = [], [], [], [], [], []
    spk_index: Dict[str, int] = {}
    keep: Dict[str, bool] = {}
    rates = set()
    has_transforms = False
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
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
                    raise ValueError(f"{path}: cut {d['id']}: no supervision with a speaker "
                                     f"(run `python -m recipes.simulation prepare-sources` first)")
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
                cut = {"id": d["id"], "start": d["start"], "duration": duration, "channel": d.get("channel", 0),
                       "supervisions": [sup], "type": "MonoCut"}
                rec = dict(d["recording"])
                if rec.get("transforms"):
                    has_transforms = True
                rec_id = dumps(rec.pop("id"))
                head = dumps(cut)[:-1] + ',"recording":{"id":'
                rest = dumps(rec)
                js.append(head + rec_id + ("," + rest[1:] if len(rest) > 2 else "}") + "}")
                pos.append((len(head) + 1, len(head) + len(rec_id) - 1))
                rates.add(rec.get("sampling_rate"))
                dur.append(duration)
                s0.append(start)
                s1.append(end)
                spk.append(spk_index.setdefault(name, len(spk_index)))
    if not js:
        raise ValueError(f"no source cuts{' for split ' + split if split else ''} in {list(map(str, paths))}")
    if len(rates) > 1:
        raise ValueError(f"source cuts have several sampling rates {sorted(rates)}; resample them first")
    speaker = np.asarray(spk, dtype=np.int64)
    order = np.argsort(speaker, kind="stable")
    bounds = np.searchsorted(speaker[order], np.arange(len(spk_index) + 1))
    return Sources(json=js, rec_id_pos=np.asarray(pos, dtype=np.int64), duration=np.asarray(dur),
                   sup_start=np.asarray(s0), sup_end=np.asarray(s1),
                   speaker=speaker, speakers=list(spk_index), sampling_rate=rates.pop(),
                   by_speaker=[order[bounds[i]:bounds[i + 1]] for i in range(len(spk_index))],
                   has_transforms=has_transforms)


# ---------------------------------------------------------------------------
# conversation statistics


@dataclass
class ConversationStats:
    """Empirical turn-taking distributions (seconds) measured on real turns."""

    same_speaker_pauses: np.ndarray
    speaker_change_pauses: np.ndarray
    overlaps: np.ndarray

    @property
    def overlap_probability(self) -> float:
        n = len(self.overlaps) + len(self.speaker_change_pauses)
        return len(self.overlaps) / n if n else 0.0

    def summary(self) -> dict:
        def m(a):
            return float(np.mean(a)) if len(a) else None

        return {"same_speaker_pause_mean": m(self.same_speaker_pauses),
                "speaker_change_pause_mean": m(self.speaker_change_pauses),
                "overlap_mean": m(self.overlaps), "overlap_probability": self.overlap_probability,
                "counts": [len(self.same_speaker_pauses), len(self.speaker_change_pauses), len(self.overlaps)]}


def conversation_stats(turns) -> ConversationStats:
    """Transitions between consecutive turns (by start time, per recording): same speaker
    -> pause; another speaker starting after the end -> speaker-change pause; before
    it -> overlap ``min(end_prev, end_next) - start_next``. ``turns``: :class:`recipes.rttm.Turn`s
    (a speaker's own overlapping turns should be merged first, as ``read_rttm`` does)."""
    from recipes.rttm import group_by_recording

    same, change, over = [], [], []
    for rec_turns in group_by_recording(turns).values():
        rec_turns = sorted(rec_turns, key=lambda t: (t.start, t.end))
        for a, b in zip(rec_turns, rec_turns[1:]):
            if a.speaker == b.speaker:
                same.append(max(b.start - a.end, 0.0))
            elif b.start >= a.end:
                change.append(b.start - a.end)
            else:
                over.append(min(a.end, b.end) - b.start)
    if not same and not change:
        raise ValueError("conversation statistics: no transitions between turns found")
    return ConversationStats(np.asarray(same or [0.0]), np.asarray(change or [0.0]), np.asarray(over))


def load_conversation_stats(path) -> ConversationStats:
    """Statistics from an RTTM file / directory, or a CutSet manifest (its supervisions)."""
    from recipes.rttm import Turn, read_rttm

    p = Path(path)
    if p.is_dir() or not any(str(p).endswith(e) for e in (".jsonl.gz", ".jsonl", ".json")):
        turns, _ = read_rttm(p)
        return conversation_stats(turns)
    from lhotse.serialization import load_manifest_lazy

    from recipes.rttm import merge_self_overlaps

    turns = []
    for cut in load_manifest_lazy(p):
        rec = getattr(cut, "recording_id", None) or cut.id
        turns += [Turn(rec, cut.start + s.start, cut.start + s.end, s.speaker) for s in cut.supervisions
                  if s.end > s.start]
    turns, _ = merge_self_overlaps(turns)
    return conversation_stats(turns)


# ---------------------------------------------------------------------------
# layouts: where each source utterance goes in a mixture


@dataclass
class Layout:
    """One mixture: source indices, offsets (seconds, whole ms) and the supervision intervals."""

    sources: np.ndarray
    offsets: np.ndarray
    num_speakers: int
    level: Optional[float]

    def intervals(self, src: Sources) -> Tuple[np.ndarray, np.ndarray]:
        return self.offsets + src.sup_start[self.sources], self.offsets + src.sup_end[self.sources]

    def duration(self, src: Sources) -> float:
        return float(np.max(self.offsets + src.duration[self.sources]))


def _draw_combination(rng, combos) -> Tuple[int, Optional[float]]:
    probs = np.array([p for _, _, p in combos])
    k = int(rng.choice(len(combos), p=probs / probs.sum())) if len(combos) > 1 else 0
    return combos[k][0], combos[k][1]


def _draw_speakers_and_utterances(rng, src: Sources, num_speakers: int, lo: int, hi: int):
    if num_speakers > len(src.speakers):
        raise ValueError(f"{num_speakers} speakers per mixture but only {len(src.speakers)} in the sources")
    spk = rng.choice(len(src.speakers), num_speakers, replace=False)
    out = []
    for s in spk:
        pool = src.by_speaker[s]
        n = min(int(rng.integers(lo, hi + 1)), len(pool))
        out.append(pool[rng.choice(len(pool), n, replace=False)])
    return out


def _ms_ceil(x: float) -> float:
    return math.ceil(x * 1000.0 - 1e-6) / 1000.0


def eend_draws(rng, src: Sources, num_speakers: int, cfg: SimulationConfig):
    """Per speaker: (utterance indices, unit exponentials E); the silences are ``beta * E``."""
    lo, hi = cfg.utterances_per_speaker
    utts = _draw_speakers_and_utterances(rng, src, num_speakers, lo, hi)
    return [(u, rng.standard_exponential(len(u))) for u in utts]


def eend_layout(draws, src: Sources, beta: float) -> Tuple[np.ndarray, np.ndarray]:
    """Offsets of the EEND algorithm: silence ``beta * E_j`` before every utterance,
    each offset rounded up to a whole millisecond (so a speaker never overlaps itself)."""
    srcs, offs = [], []
    for utts, e in draws:
        pos = 0.0
        durs = src.duration[utts]
        for j in range(len(utts)):
            off = _ms_ceil(pos + beta * e[j])
            offs.append(off)
            pos = off + durs[j]
        srcs.append(utts)
    return np.concatenate(srcs), np.asarray(offs)


def conversation_layout(rng, src: Sources, num_speakers: int, cfg: SimulationConfig,
                        stats: ConversationStats) -> Tuple[np.ndarray, np.ndarray]:
    lo, hi = cfg.utterances_per_speaker
    utts = _draw_speakers_and_utterances(rng, src, num_speakers, lo, hi)
    seq = np.concatenate(utts)
    who = np.concatenate([np.full(len(u), k) for k, u in enumerate(utts)])
    perm = rng.permutation(len(seq))
    seq, who = seq[perm], who[perm]
    s0, s1 = src.sup_start[seq], src.sup_end[seq]
    speech = s1 - s0
    p_ov = stats.overlap_probability
    own_end = np.full(num_speakers, -np.inf)
    start = np.empty(len(seq))
    prev_end = 0.0
    for j in range(len(seq)):
        if j == 0:
            t = float(s0[0])
        elif who[j] == who[j - 1]:
            t = prev_end + stats.same_speaker_pauses[rng.integers(len(stats.same_speaker_pauses))]
        elif len(stats.overlaps) and rng.random() < p_ov:
            cap = min(speech[j], speech[j - 1])
            ov = cap
            for _ in range(20):
                ov = stats.overlaps[rng.integers(len(stats.overlaps))]
                if ov < cap:
                    break
            ov = min(ov, 0.9 * cap)
            t = prev_end - ov
        else:
            t = prev_end + stats.speaker_change_pauses[rng.integers(len(stats.speaker_change_pauses))]
        t = max(t, own_end[who[j]] + 0.001)  # the margin survives the rounding below
        start[j] = t
        prev_end = t + speech[j]
        own_end[who[j]] = prev_end
    offsets = start - s0
    offsets -= min(offsets.min(), 0.0)
    offsets = np.ceil(offsets * 1000.0 - 1e-6) / 1000.0
    return seq, offsets


def overlap_speech(starts: np.ndarray, ends: np.ndarray, speakers: Optional[np.ndarray] = None,
                   max_k: int = 6) -> Tuple[float, float, np.ndarray]:
    """``(overlap, speech, seconds with exactly k speakers for k = 1..max_k-1)`` of intervals
    (a speaker's own intervals must not overlap; they do not in any layout here)."""
    t = np.concatenate([starts, ends])
    d = np.concatenate([np.ones(len(starts), np.int64), -np.ones(len(ends), np.int64)])
    order = np.lexsort((d, t))  # at equal times, ends (-1) first
    t, d = t[order], d[order]
    k = np.cumsum(d)[:-1]
    seg = np.diff(t)
    by_k = np.bincount(np.minimum(k, max_k - 1), weights=seg, minlength=max_k)
    speech = float(seg[k >= 1].sum())
    return float(seg[k >= 2].sum()), speech, by_k


# ---------------------------------------------------------------------------
# the simulator


class Simulator:
    """Holds the sources and calibration; ``layout(i)`` is a pure function of ``(seed, i)``."""

    def __init__(self, src: Sources, cfg: SimulationConfig, seed: int = 0,
                 conv_stats: Optional[ConversationStats] = None, prefix: str = "mix"):
        self.src, self.cfg, self.seed, self.prefix = src, cfg, int(seed), prefix
        self.combos = cfg.combinations()
        self.blocks: List[Tuple[int, Tuple[int, Optional[float]]]] = []  # (end index, combination)
        self.conv_stats = conv_stats
        if cfg.method == "conversation" and conv_stats is None:
            self.conv_stats = load_conversation_stats(cfg.conversation_stats)
        self.noise = None
        if cfg.noise:
            self.noise = load_noise(cfg.noise)
        self.reverb = None
        if cfg.reverb:
            if src.has_transforms:
                raise ValueError("reverb: source recordings already have transforms; prepare plain sources")
            self.reverb = _Reverb(cfg.reverb, src.sampling_rate)
        self.calibration: Dict[str, dict] = {}
        self.betas: Dict[Tuple[int, Optional[float]], float] = {}
        for k, level, _ in self.combos:
            self.betas[(k, level)] = cfg.beta_for(k) if level is None else self._calibrate(k, level)

    # -- calibration -------------------------------------------------------
    def _pilot_ratio(self, pilots, beta: float) -> float:
        ov = sp = 0.0
        for draws in pilots:
            srcs, offs = eend_layout(draws, self.src, beta)
            o, s, _ = overlap_speech(offs + self.src.sup_start[srcs], offs + self.src.sup_end[srcs])
            ov += o
            sp += s
        return ov / sp if sp else 0.0

    def _calibrate(self, k: int, level: float) -> float:
        """Silence scale whose pooled pilot overlap ratio equals ``level`` (bisection on log beta)."""
        m = self.cfg.calibration_mixtures
        tag = int(round(level * 1e6))
        pilots = [eend_draws(np.random.default_rng([self.seed, 1 << 40, k, tag, j]), self.src, k, self.cfg)
                  for j in range(m)]
        lo, hi = math.log(1e-3), math.log(1e3)
        r_lo, r_hi = self._pilot_ratio(pilots, math.exp(lo)), self._pilot_ratio(pilots, math.exp(hi))
        if not r_hi <= level <= r_lo:
            raise ValueError(f"target overlap {level} for {k} speakers is out of reach: silence scales "
                             f"1e-3..1e3 s give {r_lo:.3f}..{r_hi:.3f} with these sources")
        for _ in range(40):
            mid = (lo + hi) / 2
            if self._pilot_ratio(pilots, math.exp(mid)) > level:
                lo = mid
            else:
                hi = mid
        beta = round(math.exp((lo + hi) / 2), 6)
        reached = self._pilot_ratio(pilots, beta)
        self.calibration[f"{k}spk@{level}"] = {"speakers": k, "target": level, "beta": beta,
                                               "pilot_mixtures": m, "pilot_overlap_ratio": reached}
        logger.info("target-overlap: %d speakers, overlap %.3f -> beta %.4f s (pilot %.4f)", k, level, beta, reached)
        return beta

    # -- one mixture ---------------------------------------------------------
    def rng(self, index: int):
        return np.random.default_rng([self.seed, index])

    def layout(self, index: int, combination: Optional[Tuple[int, Optional[float]]] = None) -> Layout:
        rng = self.rng(index)
        if combination is not None:
            k, level = combination
        elif self.blocks:
            k, level = self.blocks[min(bisect.bisect_right([e for e, _ in self.blocks], index),
                                       len(self.blocks) - 1)][1]
        else:
            k, level = _draw_combination(rng, self.combos)
        if self.cfg.method == "conversation":
            srcs, offs = conversation_layout(rng, self.src, k, self.cfg, self.conv_stats)
        else:
            draws = eend_draws(rng, self.src, k, self.cfg)
            srcs, offs = eend_layout(draws, self.src, self.betas[(k, level)])
        lay = Layout(srcs, offs, k, level)
        lay.rng = rng  # noise draws continue the same stream
        return lay

    def mixture_id(self, index: int) -> str:
        return f"{self.prefix}-{index:08d}"

    def mixture_json(self, index: int, lay: Layout) -> str:
        """The MixedCut JSON line, assembled from the sources' serialised JSON."""
        src = self.src
        mid = self.mixture_id(index)
        order = np.lexsort((lay.sources, lay.offsets))
        parts = []
        rvb = self.reverb.transforms(lay.rng, src.speaker[lay.sources]) if self.reverb is not None else None
        for n, j in enumerate(order):
            cut = src.json[lay.sources[j]]
            if rvb is not None:  # inside the recording object: "...}}" = end of recording, end of cut
                cut = cut[:-2] + ',"transforms":[' + rvb[src.speaker[lay.sources[j]]] + "]}}"
            if n == 0:  # the mixture's recording id (see the module docstring)
                a, b = src.rec_id_pos[lay.sources[j]]
                cut = cut[:a] + mid + cut[b:-1] + ',"custom":{"recording_id":"' + mid + '"}}'
            parts.append('{"cut":' + cut + ',"type":"MonoCut","offset":' + repr(float(lay.offsets[j])) + "}")
        if self.noise is not None:
            parts += self.noise.tracks(lay.rng, lay.duration(src))
        return '{"id":"' + mid + '","tracks":[' + ",".join(parts) + '],"type":"MixedCut"}\n'

    def num_mixtures_for_hours(self, hours: float) -> int:
        """``ceil(3600 hours / expected mixture duration)``; the expectation is stratified:
        sum over combinations of probability x mean duration of a pilot of that combination."""
        if self.blocks:
            raise ValueError("hours per combination are set; the number of mixtures is fixed")
        n = max(100, PILOT_MIXTURES // len(self.combos))
        mean = sum(p * float(np.mean([self.layout(j, (k, lv)).duration(self.src) for j in range(n)]))
                   for k, lv, p in self.combos)
        return max(1, math.ceil(hours * 3600 / mean))

    def set_hours_per_combination(self, hours: float) -> int:
        """Give every combination its own block of consecutive mixture indices, just long
        enough for at least ``hours`` (mixture ``i`` of a block is ``layout(i, combination)``,
        so the durations summed here are exactly those written); returns the number of mixtures."""
        self.blocks, end = [], 0
        for k, level, _ in self.combos:
            total = 0.0
            while total < hours * 3600:
                total += self.layout(end, (k, level)).duration(self.src)
                end += 1
            self.blocks.append((end, (k, level)))
        return end


class _Accumulator:
    """Set statistics summed over mixtures (seconds)."""

    def __init__(self):
        self.mixtures = 0
        self.duration = self.speech = self.overlap = 0.0
        self.tracks = 0
        self.by_k = np.zeros(6)
        self.by_combo: Dict[str, dict] = {}

    def add(self, lay: Layout, src: Sources, ov: float, sp: float, by_k: np.ndarray, dur: float):
        self.mixtures += 1
        self.duration += dur
        self.speech += sp
        self.overlap += ov
        self.tracks += len(lay.sources)
        self.by_k += by_k
        key = f"{lay.num_speakers}spk" + ("" if lay.level is None else f"@{lay.level}")
        c = self.by_combo.setdefault(key, {"speakers": lay.num_speakers, "target": lay.level, "mixtures": 0,
                                           "duration": 0.0, "speech": 0.0, "overlap": 0.0,
                                           "mixture_overlap_ratio_hist": [0] * HIST_BINS})
        c["mixtures"] += 1
        c["duration"] += dur
        c["speech"] += sp
        c["overlap"] += ov
        r = ov / sp if sp else 0.0
        c["mixture_overlap_ratio_hist"][min(int(r * HIST_BINS), HIST_BINS - 1)] += 1

    def merge(self, other: "_Accumulator"):
        self.mixtures += other.mixtures
        self.duration += other.duration
        self.speech += other.speech
        self.overlap += other.overlap
        self.tracks += other.tracks
        self.by_k += other.by_k
        for key, c in other.by_combo.items():
            mine = self.by_combo.setdefault(key, {**c, "mixtures": 0, "duration": 0.0, "speech": 0.0, "overlap": 0.0,
                                                  "mixture_overlap_ratio_hist": [0] * HIST_BINS})
            for f in ("mixtures", "duration", "speech", "overlap"):
                mine[f] += c[f]
            mine["mixture_overlap_ratio_hist"] = [a + b for a, b in zip(mine["mixture_overlap_ratio_hist"],
                                                                         c["mixture_overlap_ratio_hist"])]

    def to_dict(self) -> dict:
        def ratios(dur, sp, ov):
            return {"hours": dur / 3600, "overlap_ratio": ov / sp if sp else 0.0,
                    "silence_ratio": (dur - sp) / dur if dur else 0.0}

        combos = {}
        for key in sorted(self.by_combo):
            c = self.by_combo[key]
            combos[key] = {"speakers": c["speakers"], "target_overlap": c["target"], "mixtures": c["mixtures"],
                           **ratios(c["duration"], c["speech"], c["overlap"]),
                           "mixture_overlap_ratio_hist": c["mixture_overlap_ratio_hist"],
                           "hist_bin_width": 1 / HIST_BINS}
        hist: Dict[str, int] = {}
        for c in self.by_combo.values():
            hist[str(c["speakers"])] = hist.get(str(c["speakers"]), 0) + c["mixtures"]
        by_k = list(self.by_k)
        by_k[0] = self.duration - self.speech
        return {"mixtures": self.mixtures, "tracks": self.tracks, **ratios(self.duration, self.speech, self.overlap),
                "speech_hours": self.speech / 3600, "overlap_hours": self.overlap / 3600,
                "speaker_count_histogram": dict(sorted(hist.items())),
                "hours_by_active_speakers": [h / 3600 for h in by_k],
                "by_combination": combos}


# ---------------------------------------------------------------------------
# noise (MUSAN through Lhotse): optional extra tracks


class _Noise:
    """Noise cuts and how to lay them under a mixture: consecutive copies from
    offset 0 until the mixture is covered (the last one truncated), each with an
    SNR drawn uniformly in ``snr`` (dB, relative to the mixture's first track:
    Lhotse's rule for MixedCut tracks)."""

    def __init__(self, dicts: List[dict], snr: Sequence[float], probability: float):
        self.dicts = dicts
        self.snr = (float(snr[0]), float(snr[1]))
        self.probability = float(probability)

    def tracks(self, rng, duration: float) -> List[str]:
        if rng.random() >= self.probability:
            return []
        dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        snr = round(float(rng.uniform(*self.snr)), 2)
        out, t = [], 0.0
        while duration - t > 1e-3:
            d = dict(self.dicts[int(rng.integers(len(self.dicts)))])
            d["duration"] = round(min(float(d["duration"]), duration - t), 3)
            out.append('{"cut":' + dumps(d) + ',"type":"MonoCut","offset":' + repr(round(t, 3))
                       + ',"snr":' + repr(snr) + "}")
            t = round(t + d["duration"], 3)
        return out


def load_noise(spec: Dict[str, Any]) -> _Noise:
    """Noise MonoCuts (e.g. ``lhotse prepare musan`` -> ``lhotse cut simple``) of at least 0.5 s."""
    dicts = []
    with _opener(spec["cuts"]) as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                if d.get("type", "MonoCut") != "MonoCut" or float(d["duration"]) < 0.5:
                    continue
                d["supervisions"] = []
                d.pop("custom", None)
                dicts.append(d)
    if not dicts:
        raise ValueError(f"no noise cuts in {spec['cuts']}")
    return _Noise(dicts, spec.get("snr", [10, 20]), spec.get("probability", 1.0))


class _Reverb:
    """Per-speaker Lhotse ``ReverbWithImpulseResponse`` transforms (JSON) for one mixture."""

    def __init__(self, spec: Dict[str, Any], sampling_rate: int):
        self.probability = float(spec.get("probability", 1.0))
        self.sampling_rate = sampling_rate
        rirs = spec.get("rirs", "fast")
        self.rirs = None
        if rirs != "fast":
            with _opener(rirs) as f:
                self.rirs = [json.loads(line) for line in f if line.strip()]
            if not self.rirs:
                raise ValueError(f"reverb: no RIR recordings in {rirs}")

    def transforms(self, rng, speakers: np.ndarray) -> Optional[Dict[int, str]]:
        if rng.random() >= self.probability:
            return None
        dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        room = int(rng.integers(1 << 62))
        out = {}
        for spk in sorted(set(int(x) for x in speakers)):
            kwargs = {"rir": None, "normalize_output": True, "early_only": False, "rir_channels": [0],
                      "rir_generator": None}
            if self.rirs is None:
                kwargs["rir_generator"] = {"sr": self.sampling_rate, "direct_range": [-6, 50], "max_T60": 0.8,
                                           "alpha": 0.25, "a": -2.0, "b": 2.0, "tau": 0.2, "room_seed": room,
                                           "source_seed": int(rng.integers(1 << 62))}
            else:
                kwargs["rir"] = self.rirs[int(rng.integers(len(self.rirs)))]
            out[spk] = dumps({"name": "ReverbWithImpulseResponse", "kwargs": kwargs})
        return out


# ---------------------------------------------------------------------------
# writing shards

def _write_shard(sim: "Simulator", shard: int, lo: int, hi: int, path: str) -> Tuple[int, "_Accumulator"]:
    """Worker: mixtures ``lo .. hi - 1`` into the shard file ``path`` (``.partial``, then renamed)."""
    acc = _Accumulator()
    lines = []
    for i in range(lo, hi):
        lay = sim.layout(i)
        a, b = lay.intervals(sim.src)
        ov, sp, by_k = overlap_speech(a, b)
        acc.add(lay, sim.src, ov, sp, by_k, lay.duration(sim.src))
        lines.append(sim.mixture_json(i, lay))
    tmp = Path(str(path) + ".partial")
    with clear_disk_errors(tmp.parent, "simulation shards", remove=[tmp]):
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                                   compresslevel=1) as gz:
            gz.write("".join(lines).encode("utf-8"))
        os.replace(tmp, path)
    return shard, acc


def shard_paths(out_cuts, num_shards: int) -> List[Path]:
    out = Path(out_cuts)
    stem = out.name[: -len(".jsonl.gz")]
    return [out.with_name(f"{stem}.{k:06d}.jsonl.gz") for k in range(num_shards)]


def _stem_path(out_cuts, suffix: str) -> Path:
    out = Path(out_cuts)
    return out.with_name(out.name[: -len(".jsonl.gz")] + suffix)


def simulate(sim: Simulator, num_mixtures: int, out_cuts, num_jobs: int = 1, merge: bool = True,
             progress: bool = True, executor_kind: str = "local", scheduler: Optional[str] = None) -> dict:
    """Write ``num_mixtures`` mixtures as shards (+ index, merged file, statistics); returns the statistics.
    Shards are tasks for :func:`recipes.parallel.map_tasks` (``num_jobs`` local processes or a
    dask cluster); the simulator travels once per worker."""
    from recipes.fileio import check_writable_dir, write_text
    from recipes.parallel import map_tasks

    out_cuts = Path(out_cuts)
    if not out_cuts.name.endswith(".jsonl.gz"):
        raise ValueError(f"{out_cuts}: OUT_CUTS must end with .jsonl.gz")
    check_writable_dir(out_cuts.parent)
    size = sim.cfg.shard_size
    num_shards = max(1, math.ceil(num_mixtures / size))
    paths = shard_paths(out_cuts, num_shards)
    tasks = [(k, k * size, min((k + 1) * size, num_mixtures), str(paths[k].resolve())) for k in range(num_shards)]
    for stale in (out_cuts, _stem_path(out_cuts, ".shards.txt")):
        if stale.exists():
            stale.unlink()  # an old index must not describe new shards
    t0 = time.time()
    jobs = min(num_jobs, num_shards) if executor_kind == "local" else num_jobs
    accs: Dict[int, _Accumulator] = dict(map_tasks(_write_shard, tasks, jobs, executor_kind, scheduler,
                                                   desc="simulate shards", progress=progress, shared=sim))
    total = _Accumulator()
    for k in range(num_shards):
        total.merge(accs[k])
    write_text(_stem_path(out_cuts, ".shards.txt"), "".join(p.name + "\n" for p in paths))
    if merge:
        from recipes.fileio import atomic_path

        with atomic_path(out_cuts) as tmp, open(tmp, "wb") as dst:
            for p in paths:
                with open(p, "rb") as f:
                    while True:
                        buf = f.read(1 << 22)
                        if not buf:
                            break
                        dst.write(buf)
    stats = {"config": sim.cfg.to_dict(), "seed": sim.seed, "sources": len(sim.src),
             "source_speakers": len(sim.src.speakers), "betas": {f"{k}spk" + ("" if lv is None else f"@{lv}"): b
                                                                for (k, lv), b in sim.betas.items()},
             "calibration": sim.calibration,
             "combination_blocks": [{"end": e, "speakers": k, "target_overlap": lv} for e, (k, lv) in sim.blocks],
             "shards": [p.name for p in paths], **total.to_dict()}
    if sim.conv_stats is not None:
        stats["conversation_source_stats"] = sim.conv_stats.summary()
    write_text(_stem_path(out_cuts, ".stats.json"), json.dumps(stats, indent=1) + "\n")
    logger.info("simulated %d mixtures (%.2f h, %d tracks) in %.1f s", total.mixtures, total.duration / 3600,
                total.tracks, time.time() - t0)
    return stats


def format_stats(stats: dict) -> str:
    """Short text summary: overlap ratio, silence ratio, speaker-count histogram, per combination."""
    lines = [f"mixtures {stats['mixtures']}, {stats['hours']:.2f} h, tracks {stats['tracks']}",
             f"overlap / speech {stats['overlap_ratio']:.2%}, silence / duration {stats['silence_ratio']:.2%}",
             "speaker counts: " + ", ".join(f"{k}: {v}" for k, v in stats["speaker_count_histogram"].items())]
    for key, c in stats["by_combination"].items():
        tgt = "" if c["target_overlap"] is None else f" (target {c['target_overlap']:.2%})"
        lines.append(f"  {key:>10}: {c['mixtures']} mixtures, {c['hours']:.2f} h, overlap {c['overlap_ratio']:.2%}"
                     f"{tgt}, silence {c['silence_ratio']:.2%}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# materialize: 8 kHz FLAC, RTTM, Kaldi data dir


def _render(cut_source, audio_dir: str, sampling_rate: int) -> List[dict]:
    """Worker: mix the audio of every cut in ``cut_source`` (a manifest path or a list of
    cut dicts) at ``sampling_rate`` into ``audio_dir/<id>.flac``; returns the MonoCuts over
    those files (as dicts), in input order."""
    import soundfile as sf
    from lhotse import CutSet, MonoCut, Recording
    from lhotse.serialization import deserialize_item
    from lhotse.utils import fastcopy

    from recipes.fileio import atomic_path

    cuts = CutSet.from_file(cut_source) if isinstance(cut_source, str) else map(deserialize_item, cut_source)
    out = []
    for cut in cuts:
        x = cut.resample(sampling_rate).load_audio()[0]
        peak = float(np.abs(x).max()) if x.size else 0.0
        if peak > 0.99:
            x = x * (0.99 / peak)
        path = Path(audio_dir) / f"{cut.id}.flac"
        with atomic_path(path) as tmp:
            sf.write(str(tmp), x, sampling_rate, format="FLAC", subtype="PCM_16")
        rec = Recording.from_file(path, recording_id=cut.id)
        sups = [fastcopy(s, recording_id=cut.id, channel=0) for s in sorted(cut.supervisions, key=lambda s: s.start)]
        out.append(MonoCut(id=cut.id, start=0.0, duration=rec.duration, channel=0, recording=rec,
                           supervisions=sups).to_dict())
    return out


def materialize(cuts, out_dir, sampling_rate: int = 8000, progress: bool = True, num_jobs: int = 1,
                executor_kind: str = "local", scheduler: Optional[str] = None, cuts_per_task: int = 200):
    """Mix every MixedCut's audio at ``sampling_rate`` into ``out_dir/audio/<id>.flac``
    (PCM 16, scaled down only when the peak exceeds 0.99); write ``out_dir/cuts.jsonl.gz``
    (MonoCuts over the FLAC files, same supervisions), ``out_dir/rttm`` and a Kaldi data
    dir ``out_dir/kaldi``. Returns the CutSet.

    ``cuts``: a CutSet, or a list of manifest paths (the simulation's shards: one task
    each). A CutSet is cut into tasks of ``cuts_per_task`` cuts. Tasks run on
    ``num_jobs`` local processes or a dask cluster (:func:`recipes.parallel.map_tasks`);
    the output is the same whatever the executor."""
    from lhotse import CutSet
    from lhotse.serialization import deserialize_item

    from recipes.cuts import cut_turns
    from recipes.export import export_kaldi
    from recipes.fileio import atomic_path, check_writable_dir, save_manifest
    from recipes.parallel import map_tasks
    from recipes.rttm import write_rttm

    out_dir = check_writable_dir(out_dir)
    audio_dir = str(check_writable_dir(out_dir / "audio").resolve())
    if isinstance(cuts, (list, tuple)):
        tasks = [(str(Path(p).resolve()), audio_dir, sampling_rate) for p in cuts]
    else:
        tasks, chunk = [], []
        for cut in cuts:
            chunk.append(cut.to_dict())
            if len(chunk) == cuts_per_task:
                tasks.append((chunk, audio_dir, sampling_rate))
                chunk = []
        if chunk:
            tasks.append((chunk, audio_dir, sampling_rate))
    jobs = min(num_jobs, max(1, len(tasks))) if executor_kind == "local" else num_jobs
    out = [deserialize_item(d) for part in map_tasks(_render, tasks, jobs, executor_kind, scheduler,
                                                     desc="materialize", progress=progress) for d in part]
    cs = CutSet.from_cuts(out)
    save_manifest(cs, out_dir / "cuts.jsonl.gz")
    with atomic_path(out_dir / "rttm") as tmp:
        write_rttm([t for c in out for t in cut_turns(c)], tmp)
    export_kaldi(cs, out_dir / "kaldi", sampling_rate=sampling_rate)
    return cs


# ---------------------------------------------------------------------------
# CLI


@click.command("simulate")
@click.argument("source_cuts", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.argument("out_cuts", type=click.Path(dir_okay=False))
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="Preset YAML (conf/simulation/*.yaml). Default: eend, 2 speakers, beta 2 s.")
@click.option("--method", type=click.Choice(METHODS), help="Override the preset's method.")
@click.option("--hours", type=click.FloatRange(min=0, min_open=True),
              help="About this many hours (default: the preset's hours for --speaker-split).")
@click.option("--hours-per-combination", type=click.FloatRange(min=0, min_open=True),
              help="At least this many hours of every (speaker count, overlap level) combination.")
@click.option("--num-mixtures", type=click.IntRange(min=1), help="Exactly this many mixtures.")
@click.option("--conversation-stats", type=click.Path(exists=True),
              help="conversation: real turns (RTTM file/dir or CutSet) to measure pauses and overlaps on.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--num-jobs", default=1, show_default=True, type=click.IntRange(min=1),
              help="Workers: local processes, or the LocalCluster size with --executor dask and no --scheduler.")
@click.option("--executor", "executor_kind", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where shards (and --materialize audio) are rendered: local processes, or a dask cluster "
                   "(extra 'dask'; paths must be visible to every worker).")
@click.option("--scheduler", help="dask scheduler address (tcp://host:8786); default: a LocalCluster of --num-jobs.")
@click.option("--speaker-split", type=click.Choice(["train", "dev"]),
              help="Keep only this side of the deterministic speaker split (dev_fraction in the preset).")
@click.option("--prefix", help="Mixture id prefix. Default: the name of OUT_CUTS.")
@click.option("--no-merge", is_flag=True, help="Write only the shards and their index, not OUT_CUTS itself.")
@click.option("--materialize", "materialize_dir", type=click.Path(file_okay=False),
              help="Also write 8 kHz FLAC mixtures, an RTTM and a Kaldi data dir here.")
@one_line_errors
def simulate_command(source_cuts, out_cuts, config_path, method, hours, hours_per_combination, num_mixtures,
                     conversation_stats, seed, num_jobs, executor_kind, scheduler, speaker_split, prefix, no_merge,
                     materialize_dir):
    """Simulate multi-speaker mixtures from single-speaker SOURCE_CUTS into OUT_CUTS (NAME.jsonl.gz).

    Writes lazily readable shards NAME.NNNNNN.jsonl.gz, their index
    NAME.shards.txt, the merged OUT_CUTS (MixedCuts; one supervision per
    source utterance, covering its speech) and NAME.stats.json (overlap ratio,
    silence ratio, speaker-count histogram, calibration). A seed gives the
    same bytes for any --num-jobs. Sources come from
    `python -m recipes.simulation prepare-sources` (one VAD-trimmed supervision each).
    """
    from recipes.fileio import check_writable_dir

    cfg = load_config(config_path, method=method, conversation_stats=conversation_stats)
    if sum(x is not None for x in (hours, hours_per_combination, num_mixtures)) > 1:
        raise click.UsageError("give one of --hours, --hours-per-combination, --num-mixtures")
    if not str(out_cuts).endswith(".jsonl.gz"):
        raise click.UsageError("OUT_CUTS must end with .jsonl.gz")
    check_writable_dir(Path(out_cuts).parent)  # before any work: an unwritable output fails at once
    if materialize_dir:
        check_writable_dir(materialize_dir)
    src = load_sources(source_cuts, supervision=cfg.supervision, split=speaker_split,
                       dev_fraction=cfg.dev_fraction, split_seed=cfg.split_seed)
    logger.info("%d source utterances of %d speakers", len(src), len(src.speakers))
    name = Path(out_cuts).name[: -len(".jsonl.gz")]
    sim = Simulator(src, cfg, seed=seed, prefix=prefix or name)
    if num_mixtures is None and hours is None:
        if hours_per_combination is None:
            hours_per_combination = cfg.hours_for(speaker_split, per_combination=True)
        if hours_per_combination is None:
            hours = cfg.hours_for(speaker_split)
        if hours is None and hours_per_combination is None:
            raise click.UsageError("give --hours, --hours-per-combination or --num-mixtures "
                                   "(the preset sets no hours for this split)")
    if hours_per_combination is not None:
        num_mixtures = sim.set_hours_per_combination(hours_per_combination)
    elif num_mixtures is None:
        num_mixtures = sim.num_mixtures_for_hours(hours)
    stats = simulate(sim, num_mixtures, out_cuts, num_jobs=num_jobs, merge=not no_merge,
                     executor_kind=executor_kind, scheduler=scheduler)
    click.echo(format_stats(stats), nl=False, err=True)
    if materialize_dir:
        shards = [str(Path(out_cuts).parent / s) for s in stats["shards"]]
        materialize(shards, materialize_dir, num_jobs=num_jobs, executor_kind=executor_kind, scheduler=scheduler)
        logger.info("materialized audio, rttm and kaldi dir in %s", materialize_dir)


@click.group()
def _main():
    """Simulation helpers (run as `python -m recipes.simulation`)."""


@_main.command("prepare-sources")
@click.argument("in_cuts", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.argument("out_cuts", type=click.Path(dir_okay=False))
@one_line_errors
def prepare_sources_command(in_cuts, out_cuts):
    """Trim each single-speaker cut's supervision to its speech (word alignments, else energy VAD)."""
    from lhotse import CutSet
    from lhotse.serialization import load_manifest_lazy

    from recipes.fileio import atomic_path

    n = 0
    with atomic_path(out_cuts) as tmp, CutSet.open_writer(tmp) as writer:
        for path in in_cuts:
            for cut in prepare_sources(load_manifest_lazy(path)):
                writer.write(cut)
                n += 1
    logger.info("prepared %d source cuts -> %s", n, out_cuts)


_main.add_command(simulate_command)


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
    _main()
