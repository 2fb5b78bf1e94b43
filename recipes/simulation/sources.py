"""Single-speaker source utterances: energy VAD, :func:`prepare_sources`, the speaker split and
:func:`load_sources` (plain JSON, no Lhotse objects).

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
import gzip
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from recipes.simulation.config import VAD_COLLAR, VAD_FRAME, VAD_RANGE_DB, VAD_SHIFT

logger = logging.getLogger(__name__)


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

    def length_sorted(self, speaker: int) -> Tuple[np.ndarray, np.ndarray]:
        """``(speech lengths ascending, source indices)`` of one speaker's utterances (cached)."""
        cache = self.__dict__.setdefault("_length_sorted", {})
        if speaker not in cache:
            pool = self.by_speaker[speaker]
            lengths = self.sup_end[pool] - self.sup_start[pool]
            order = np.argsort(lengths, kind="stable")
            cache[speaker] = (lengths[order], pool[order])
        return cache[speaker]


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
                                     f"(run `diar simulate-sources` first)")
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
