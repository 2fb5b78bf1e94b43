"""Layouts: where each source utterance goes in a mixture (``eend``, ``conversation``; ``target-overlap``
is ``eend`` with a calibrated silence scale, see :mod:`recipes.simulation.simulator`)."""
import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from recipes.simulation.config import SimulationConfig
from recipes.simulation.sources import Sources
from recipes.simulation.turns import ConversationStats


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
