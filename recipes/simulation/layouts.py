"""Layouts: where each source utterance goes in a mixture (``eend``, ``conversation``; ``target-overlap``
is ``eend`` with a calibrated silence scale, see :mod:`recipes.simulation.simulator`)."""

import bisect
import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from recipes.simulation.config import SimulationConfig
from recipes.simulation.sources import Sources
from recipes.simulation.turn_taking import ConversationStats


@dataclass
class Layout:
    """One mixture: source indices, offsets (seconds, whole ms) and the supervision intervals.
    ``last``: per track, the last source of its window ``[sources[j], last[j]]`` (see
    :class:`recipes.simulation.sources.Sources`); None: every track is one source."""

    sources: np.ndarray
    offsets: np.ndarray
    num_speakers: int
    level: Optional[float]
    last: Optional[np.ndarray] = None

    def spans(self, src: Sources) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per track ``(speech start, speech end, duration)``, seconds from the track's offset."""
        if self.last is None:
            return src.sup_start[self.sources], src.sup_end[self.sources], src.duration[self.sources]
        return src.spans(self.sources, self.last)

    def intervals(self, src: Sources) -> Tuple[np.ndarray, np.ndarray]:
        s0, s1, _ = self.spans(src)
        return self.offsets + s0, self.offsets + s1

    def duration(self, src: Sources) -> float:
        return float(np.max(self.offsets + self.spans(src)[2]))


def _draw_combination(rng, combos, cdf: Optional[List[float]] = None) -> Tuple[int, Optional[float]]:
    """A combination by its probability: ``rng.choice(len(combos), p=...)`` (the same draw;
    ``cdf``: the cumulative probabilities, normalised as numpy does, when precomputed)."""
    if len(combos) == 1:
        return combos[0][0], combos[0][1]
    if cdf is None:
        cdf = combination_cdf(combos)
    k = bisect.bisect_right(cdf, rng.random())
    return combos[k][0], combos[k][1]


def combination_cdf(combos) -> List[float]:
    """Cumulative combination probabilities as ``Generator.choice`` computes them."""
    probs = np.array([p for _, _, p in combos])
    cdf = (probs / probs.sum()).cumsum()
    cdf /= cdf[-1]
    return cdf.tolist()


def _draw_speakers(rng, src: Sources, num_speakers: int, speakers: Optional[np.ndarray] = None) -> np.ndarray:
    """``num_speakers`` distinct speaker indices, uniformly (``speakers``: these, already chosen)."""
    if num_speakers > len(src.speakers):
        raise ValueError(f"{num_speakers} speakers per mixture but only {len(src.speakers)} in the sources")
    return speakers if speakers is not None else rng.choice(len(src.speakers), num_speakers, replace=False)


def _draw_speakers_and_utterances(rng, src: Sources, num_speakers: int, lo: int, hi: int, speakers=None):
    spk = _draw_speakers(rng, src, num_speakers, speakers)
    out = []
    for s in spk:
        pool = src.by_speaker[s]
        n = min(int(rng.integers(lo, hi + 1)), len(pool))
        out.append(pool[rng.choice(len(pool), n, replace=False)])
    return out


def _ms_ceil(x: float) -> float:
    return math.ceil(x * 1000.0 - 1e-6) / 1000.0


def eend_draws(rng, src: Sources, num_speakers: int, cfg: SimulationConfig, speakers=None):
    """Per speaker: (utterance indices, unit exponentials E); the silences are ``beta * E``
    (``speakers``: the mixture's speakers, when chosen by the caller)."""
    lo, hi = cfg.utterances_per_speaker
    utts = _draw_speakers_and_utterances(rng, src, num_speakers, lo, hi, speakers)
    return [(u, rng.standard_exponential(len(u))) for u in utts]


def eend_layout(draws, src: Sources, beta: float) -> Tuple[np.ndarray, np.ndarray]:
    """Offsets of the EEND algorithm: silence ``beta * E_j`` before every utterance,
    each offset rounded up to a whole millisecond (so a speaker never overlaps itself)."""
    srcs, offs = [], []
    ceil = math.ceil
    for utts, e in draws:
        pos = 0.0
        for d, x in zip(src.duration[utts].tolist(), e.tolist()):
            off = ceil((pos + beta * x) * 1000.0 - 1e-6) / 1000.0  # _ms_ceil, inlined
            offs.append(off)
            pos = off + d
        srcs.append(utts)
    return np.concatenate(srcs), np.asarray(offs)


def _nearest_window(lengths: np.ndarray, first: np.ndarray, last: np.ndarray, used: set, target: float) -> int:
    """Index into the sorted ``lengths`` of the window nearest ``target`` none of whose sources
    is in ``used`` (-1: none left)."""
    n = len(lengths)
    hi = int(np.searchsorted(lengths, target))
    lo = hi - 1

    def free(i):
        return not any(x in used for x in range(int(first[i]), int(last[i]) + 1))

    while lo >= 0 or hi < n:
        if hi < n and not free(hi):
            hi += 1
            continue
        if lo >= 0 and not free(lo):
            lo -= 1
            continue
        if hi >= n:
            return lo
        if lo < 0:
            return hi
        return lo if target - lengths[lo] <= lengths[hi] - target else hi
    return -1


def _draw(rng, values: np.ndarray) -> float:
    """A measured value drawn uniformly (with replacement)."""
    return float(values[rng.integers(len(values))])


def _draw_transition(rng, st: ConversationStats, length: float) -> Tuple[int, float, float]:
    """``(kind, value, length of the next turn)`` of a real transition drawn uniformly among the
    ``max(20, n / 50)`` whose latest-ending earlier turn is nearest ``length`` seconds long."""
    n = len(st.record_lengths)
    w = min(n, max(20, n // 50))
    lo = min(max(int(np.searchsorted(st.record_lengths, length)) - w // 2, 0), n - w)
    i = int(rng.integers(lo, lo + w))
    return int(st.record_kinds[i]), float(st.record_values[i]), float(st.record_next[i])


def conversation_layout(
    rng, src: Sources, num_speakers: int, cfg: SimulationConfig, stats: ConversationStats, speakers=None
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulated conversation (Landini et al., 2022, measured as :mod:`recipes.simulation.turn_taking`).

    ``S`` speakers, ``sum_s U{lo..hi}`` turns. A turn is a window of its speaker's sources
    (consecutive speech segments of one source utterance with their real pauses, one
    supervision over them, see :class:`recipes.simulation.sources.Sources`): the unused window
    whose speech length is nearest the drawn turn length, so that turn lengths follow the real
    ones, not the segments'. The first turn's length is drawn from the real turns. Every later
    turn ``b`` follows the latest-ending turn ``a`` so far by a real transition (a record of
    :mod:`recipes.simulation.turn_taking`: kind, value and the length of the turn after it) drawn
    among the ``max(20, n / 50)`` whose latest-ending turn was nearest ``a``'s length (what
    follows a turn depends on its length: long turns get overlapped, by long overlaps). A
    same-speaker pause keeps ``a``'s speaker; a speaker-change pause takes another speaker
    uniformly; an overlap takes one among the others who are silent by then (their own speech
    ended 2 ms before), or when nobody is, any other, whose turn then starts 1 ms after its own
    previous speech (a shorter overlap, or a pause). One-speaker mixtures take same-speaker
    pauses only. ``max_duration`` ends the mixture before a turn that would end later.
    Returns ``(first sources, last sources, offsets)`` of the turns.
    """
    st = stats.for_speakers(num_speakers)
    lo, hi = cfg.utterances_per_speaker
    spk = _draw_speakers(rng, src, num_speakers, speakers)
    pools = [src.windows(int(s)) for s in spk]
    used: set = set()
    left = [len(src.by_speaker[int(s)]) for s in spk]  # sources not used yet, per speaker
    n_turns = int(sum(rng.integers(lo, hi + 1) for _ in range(num_speakers)))
    n_turns = min(n_turns, sum(left))
    max_dur = cfg.max_duration
    first, last, start = [], [], []
    own_end = np.full(num_speakers, -np.inf)
    last_end = last_start = 0.0
    last_who = -1

    def other(candidates):
        c = [w for w in candidates if w != last_who and left[w]] or [w for w in candidates if w != last_who]
        return c[int(rng.integers(len(c)))]

    for j in range(n_turns):
        if j == 0:
            who, t = int(rng.integers(num_speakers)), None
            target = _draw(rng, st.turn_lengths)
        else:
            kind, value, target = _draw_transition(rng, st, last_end - last_start)
            if num_speakers == 1 and kind:
                kind, value = (
                    0,
                    _draw(rng, st.same_speaker_pauses if len(st.same_speaker_pauses) else st.speaker_change_pauses),
                )
            if kind == 0:
                who, t = last_who, last_end + value
            elif kind == 1:
                who, t = other(range(num_speakers)), last_end + value
            else:
                t = last_end - value
                free = [w for w in range(num_speakers) if own_end[w] + 0.002 < t]
                who = other(free) if any(left[w] for w in free) else other(range(num_speakers))
        if not left[who]:
            continue
        lengths, firsts, lasts = pools[who]
        k = _nearest_window(lengths, firsts, lasts, used, target)
        if k < 0:
            left[who] = 0
            continue
        a, b = int(firsts[k]), int(lasts[k])
        s0, s1, dur = (float(x[0]) for x in src.spans(np.array([a]), np.array([b])))
        speech = s1 - s0
        if t is None:
            t = s0
        off = _ms_ceil(max(t, own_end[who] + 0.001) - s0)  # rounded here, so that what follows
        t = off + s0  # is measured from where the turn is (a pause of 0 stays 0, not -1 ms)
        if max_dur and j > 0 and off + dur > max_dur:
            break
        used.update(range(a, b + 1))
        left[who] -= b - a + 1
        first.append(a)
        last.append(b)
        start.append(off)
        own_end[who] = t + speech
        if t + speech > last_end or j == 0:
            last_end, last_start, last_who = t + speech, t, who
    offsets = np.asarray(start)
    offsets = np.round(offsets + _ms_ceil(-min(offsets.min(), 0.0)), 3)  # whole ms
    return np.asarray(first, dtype=np.int64), np.asarray(last, dtype=np.int64), offsets


def overlap_speech(
    starts: np.ndarray, ends: np.ndarray, speakers: Optional[np.ndarray] = None, max_k: int = 6
) -> Tuple[float, float, np.ndarray]:
    """``(overlap, speech, seconds with exactly k speakers for k = 0..max_k-1)`` of intervals
    (a speaker's own intervals must not overlap; they do not in any layout here; ``k = 0``: the
    gaps between them). A sweep over the sorted boundaries (ends first at equal times); plain
    Python for one mixture's few intervals (numpy's per-call cost dominates there), numpy for many."""
    if len(starts) <= 256:
        ev = sorted([(x, 1) for x in starts.tolist()] + [(x, -1) for x in ends.tolist()])
        acc = [0.0] * max_k
        top = max_k - 1
        k, prev = 0, ev[0][0] if ev else 0.0
        for x, d in ev:
            acc[k if k < top else top] += x - prev
            k += d
            prev = x
        by_k = np.asarray(acc)
        return float(sum(acc[2:])), float(sum(acc[1:])), by_k
    t = np.concatenate([starts, ends])
    d = np.concatenate([np.ones(len(starts), np.int64), -np.ones(len(ends), np.int64)])
    order = np.lexsort((d, t))  # at equal times, ends (-1) first
    t, d = t[order], d[order]
    k = np.cumsum(d)[:-1]
    seg = np.diff(t)
    by_k = np.bincount(np.minimum(k, max_k - 1), weights=seg, minlength=max_k)
    speech = float(seg[k >= 1].sum())
    return float(seg[k >= 2].sum()), speech, by_k


def joint_draws(rng, src: Sources, num_speakers: int, cfg: SimulationConfig, speakers=None):
    """The random numbers of one ``target-overlap`` mixture (joint control), drawn once so that
    calibration can replay them (common random numbers): the turn order (the speaker changes at
    every turn while another speaker has utterances left), and per turn a uniform
    ``U`` (overlap or pause), ``E_o ~ Exp(1)`` (overlap) and ``E_g ~ Exp(1)`` (pause)."""
    lo, hi = cfg.utterances_per_speaker
    utts = _draw_speakers_and_utterances(rng, src, num_speakers, lo, hi, speakers)
    left = [list(u) for u in utts]
    counts = [len(x) for x in left]
    total = sum(counts)
    seq, who, last = [], [], -1
    for x in rng.random(total).tolist():  # the next speaker: another one while any is left
        avail = total - (counts[last] if last >= 0 else 0)  # (weighted by what it has left)
        if avail == 0:
            k = last
        else:
            acc, target = 0, x * avail
            for k, c in enumerate(counts):
                if k != last:
                    acc += c
                    if target < acc:
                        break
        seq.append(left[k].pop())
        counts[k] -= 1
        total -= 1
        who.append(k)
        last = k
    n = len(seq)
    return (
        np.asarray(seq, dtype=np.int64),
        np.asarray(who),
        rng.random(n),
        rng.standard_exponential(n),
        rng.standard_exponential(n),
    )


OVERLAP_PROBABILITY = 0.9  # share of speaker changes that overlap in target-overlap (joint control)


def joint_layout(
    draws,
    src: Sources,
    num_speakers: int,
    overlap_scale: float,
    pause_scale: float,
    max_duration: Optional[float] = None,
) -> Tuple[np.ndarray, np.ndarray]:
    """``target-overlap`` with joint control of overlap and silence (after NeMo's multi-speaker
    simulator: an overlap probability and mean overlap, a mean silence).

    Turns in a random order; turn ``b`` follows the latest-ending turn ``a``: a speaker change
    overlaps ``a`` with probability ``OVERLAP_PROBABILITY`` by ``min(overlap_scale * E_o, room)``
    (room: ``b`` starts after ``a`` starts, ends after ``a`` ends and starts after its own
    speaker's previous utterance, silence included, ends), else (and after the same speaker) it
    follows after a pause ``pause_scale * E_g``. Overlap / speech depends on ``overlap_scale``
    only, silence / duration on both: calibration fixes ``overlap_scale`` first, then
    ``pause_scale``. ``max_duration`` ends the mixture before a turn that would end later.
    """
    seq, who, u, e_o, e_g = draws
    s0, s1, dur = src.sup_start[seq].tolist(), src.sup_end[seq].tolist(), src.duration[seq].tolist()
    who, u, e_o, e_g = who.tolist(), u.tolist(), e_o.tolist(), e_g.tolist()
    own_end = [-math.inf] * num_speakers  # end of each speaker's last utterance (its audio)
    offs = []
    last_end = last_start = 0.0
    for j in range(len(seq)):
        w = who[j]
        length = s1[j] - s0[j]
        if j == 0:
            t = float(s0[j])
        else:
            t = last_end + pause_scale * e_g[j]
            if w != who[j - 1] and u[j] < OVERLAP_PROBABILITY and overlap_scale > 0:
                room = min(last_end - last_start, length, last_end - (own_end[w] + s0[j]) - 0.002)
                if room > 0:
                    t = last_end - min(overlap_scale * e_o[j], room)
        off = max(t - s0[j], own_end[w] + 0.001, 0.0)
        off = _ms_ceil(off)
        if max_duration and j > 0 and off + dur[j] > max_duration:
            seq = seq[:j]
            break
        offs.append(off)
        own_end[w] = off + dur[j]
        if off + s1[j] > last_end or j == 0:
            last_end, last_start = off + s1[j], off + s0[j]
    return seq[: len(offs)], np.asarray(offs)


def joint_batch(draws_list, src: Sources) -> dict:
    """Many mixtures' :func:`joint_draws` padded into ``(mixtures, turns)`` arrays, for
    :func:`joint_layout_batch` (calibration evaluates the same pilots many times)."""
    n = np.array([len(d[0]) for d in draws_list], dtype=np.int64)
    shape = (len(draws_list), int(n.max()) if len(n) else 0)
    out = {"n": n, "seq": np.zeros(shape, np.int64), "who": np.zeros(shape, np.int64)}
    for name in ("u", "e_o", "e_g"):
        out[name] = np.zeros(shape)
    for p, (seq, who, u, e_o, e_g) in enumerate(draws_list):
        m = len(seq)
        out["seq"][p, :m], out["who"][p, :m], out["u"][p, :m] = seq, who, u
        out["e_o"][p, :m], out["e_g"][p, :m] = e_o, e_g
    out["s0"], out["s1"], out["dur"] = src.sup_start[out["seq"]], src.sup_end[out["seq"]], src.duration[out["seq"]]
    return out


def joint_layout_batch(
    batch: dict,
    num_speakers: int,
    overlap_scale: float,
    pause_scale: float,
    max_duration: Optional[float] = None,
) -> np.ndarray:
    """:func:`joint_layout` of every mixture of a :func:`joint_batch` at once (the same float
    operations, one turn index at a time for all mixtures): ``(mixtures, turns)`` offsets,
    NaN where a mixture has no such turn (or ended before it at ``max_duration``)."""
    n, who, u, e_o, e_g = batch["n"], batch["who"], batch["u"], batch["e_o"], batch["e_g"]
    s0, s1, dur = batch["s0"], batch["s1"], batch["dur"]
    num, turns = who.shape
    rows = np.arange(num)
    own_end = np.full((num, num_speakers), -np.inf)
    last_end, last_start = np.zeros(num), np.zeros(num)
    alive = np.ones(num, dtype=bool)
    offs = np.full((num, turns), np.nan)
    for j in range(turns):
        act = alive & (j < n)
        if not act.any():
            break
        w, a, b, d = who[:, j], s0[:, j], s1[:, j], dur[:, j]
        mine = own_end[rows, w]
        if j == 0:
            t = a.copy()
        else:
            t = last_end + pause_scale * e_g[:, j]
            if overlap_scale > 0:
                room = np.minimum(np.minimum(last_end - last_start, b - a), last_end - (mine + a) - 0.002)
                over = (w != who[:, j - 1]) & (u[:, j] < OVERLAP_PROBABILITY) & (room > 0)
                t = np.where(over, last_end - np.minimum(overlap_scale * e_o[:, j], room), t)
        off = np.maximum(np.maximum(t - a, mine + 0.001), 0.0)
        off = np.ceil(off * 1000.0 - 1e-6) / 1000.0
        if max_duration and j > 0:
            alive &= ~(act & (off + d > max_duration))
            act &= alive
        offs[act, j] = off[act]
        own_end[rows[act], w[act]] = off[act] + d[act]
        new = act & ((off + b > last_end) | (j == 0))
        last_end = np.where(new, off + b, last_end)
        last_start = np.where(new, off + a, last_start)
    return offs


def batch_overlap_speech(batch: dict, offs: np.ndarray) -> Tuple[float, float, np.ndarray]:
    """Pooled ``(overlap, speech)`` seconds of a batch's mixtures at offsets ``offs`` and each
    mixture's duration (as :func:`overlap_speech` and :meth:`Layout.duration` per mixture)."""
    placed = ~np.isnan(offs)
    durations = np.nanmax(np.where(placed, offs + batch["dur"], np.nan), axis=1)
    shift = (np.cumsum(durations + 1.0) - (durations + 1.0))[:, None]  # mixtures side by side
    ov, sp, _ = overlap_speech((offs + batch["s0"] + shift)[placed], (offs + batch["s1"] + shift)[placed])
    return ov, sp, durations
