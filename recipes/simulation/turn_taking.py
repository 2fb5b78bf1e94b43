"""Turn-taking statistics of real conversations for the ``conversation`` method (Landini et al., 2022).

Definitions (seconds), per recording, turns sorted by start time (a speaker's
own overlapping turns merged first, as ``read_rttm`` does):

- for every turn ``b`` but the first, ``a`` is the *latest-ending earlier
  turn*: of the turns that start before ``b`` (or at the same time, earlier in
  the sort), the one with the latest end;
- ``gap = b.start - a.end``. Same speaker as ``a`` -> a *same-speaker pause*
  (``gap``); another speaker and ``gap >= 0`` -> a *speaker-change pause*;
  another speaker and ``gap < 0`` -> an *overlap* of ``-gap`` (which may be
  longer than ``b`` itself: ``b`` lies inside ``a``, a backchannel);
- values of ``max_gap`` (7 s, as BUT's EEND_dataprep) or more are outliers
  and are dropped (``max_gap=None`` keeps them);
- the three kinds are separate empirical distributions (values drawn with
  replacement); ``same_speaker_probability`` is the share of transitions that
  are same-speaker pauses, ``overlap_probability`` the share of speaker
  changes that overlap;
- every transition is also kept as a *record*: the length of ``a``, the kind,
  the value and the length of ``b``. The generator draws whole records among
  those whose ``a`` is about as long as its own latest-ending turn: in real
  conversations what follows depends on that length (a long turn is the one
  that gets overlapped, by long overlaps and short backchannels; AMI train:
  median ``a`` 4.2 s, median turn 1.5 s), so drawing the kind, the value and
  the next turn's length apart gives overlaps much shorter than the real ones;
- ``turn_lengths`` are the turns' durations (the first turn's length is drawn
  from them);
- when the recordings have different speaker counts, the statistics are also
  kept per speaker count (``by_speakers``; a count without recordings falls
  back to the pooled statistics).
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional

import numpy as np

MAX_GAP = 7.0  # seconds: BUT's outlier cut-off for pauses and overlaps


@dataclass
class ConversationStats:
    """Empirical turn-taking distributions (seconds, each sorted) measured on real turns."""

    same_speaker_pauses: np.ndarray
    speaker_change_pauses: np.ndarray
    overlaps: np.ndarray
    turn_lengths: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # every transition: length of the latest-ending earlier turn (ascending), kind (0 same-speaker
    # pause, 1 speaker-change pause, 2 overlap), value and length of the turn that follows, aligned
    record_lengths: np.ndarray = field(default_factory=lambda: np.zeros(0))
    record_kinds: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    record_values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    record_next: np.ndarray = field(default_factory=lambda: np.zeros(0))
    max_gap: Optional[float] = MAX_GAP
    recordings: int = 0
    by_speakers: Dict[int, "ConversationStats"] = field(default_factory=dict)

    @property
    def transitions(self) -> int:
        return len(self.same_speaker_pauses) + len(self.speaker_change_pauses) + len(self.overlaps)

    @property
    def overlap_probability(self) -> float:
        n = len(self.overlaps) + len(self.speaker_change_pauses)
        return len(self.overlaps) / n if n else 0.0

    @property
    def same_speaker_probability(self) -> float:
        n = self.transitions
        return len(self.same_speaker_pauses) / n if n else 0.0

    def for_speakers(self, num_speakers: int) -> "ConversationStats":
        """The statistics of recordings with ``num_speakers`` speakers (pooled when there are none)."""
        s = self.by_speakers.get(num_speakers)
        return s if s is not None and s.transitions >= 20 else self

    def summary(self) -> dict:
        def q(a):
            return [float(x) for x in np.quantile(a, [0.1, 0.5, 0.9])] if len(a) else None

        def one(s):
            return {
                "same_speaker_pause_mean": float(np.mean(s.same_speaker_pauses))
                if len(s.same_speaker_pauses)
                else None,
                "speaker_change_pause_mean": float(np.mean(s.speaker_change_pauses))
                if len(s.speaker_change_pauses)
                else None,
                "overlap_mean": float(np.mean(s.overlaps)) if len(s.overlaps) else None,
                "quantiles_10_50_90": {
                    "same_speaker_pause": q(s.same_speaker_pauses),
                    "speaker_change_pause": q(s.speaker_change_pauses),
                    "overlap": q(s.overlaps),
                    "turn_length": q(s.turn_lengths),
                },
                "overlap_probability": s.overlap_probability,
                "same_speaker_probability": s.same_speaker_probability,
                "counts": [len(s.same_speaker_pauses), len(s.speaker_change_pauses), len(s.overlaps)],
                "recordings": s.recordings,
            }

        out = one(self)
        out["max_gap"] = self.max_gap
        out["by_speakers"] = {str(k): one(v) for k, v in sorted(self.by_speakers.items())}
        return out


def transitions(rec_turns):
    """``[(kind, value, length of the latest-ending earlier turn, length of the turn)]`` of one
    recording's turns (kind: ``same`` | ``change`` | ``overlap``), each measured from the
    latest-ending earlier turn (see the module docstring)."""
    ts = sorted(rec_turns, key=lambda t: (t.start, t.end))
    out = []
    if not ts:
        return out
    last = ts[0]
    for b in ts[1:]:
        gap = b.start - last.end
        length, after = last.end - last.start, b.end - b.start
        if b.speaker == last.speaker:
            out.append(("same", max(gap, 0.0), length, after))
        elif gap >= 0:
            out.append(("change", gap, length, after))
        else:
            out.append(("overlap", -gap, length, after))
        if b.end > last.end:
            last = b
    return out


def _stats(groups, max_gap) -> ConversationStats:
    vals = {"same": [], "change": [], "overlap": []}
    lengths, records = [], []
    code = {"same": 0, "change": 1, "overlap": 2}
    for rec_turns in groups:
        lengths += [t.end - t.start for t in rec_turns]
        for kind, v, length, after in transitions(rec_turns):
            if max_gap is None or v < max_gap:
                vals[kind].append(v)
                records.append((length, code[kind], v, after))
    rec_a = np.asarray(sorted(records), dtype=np.float64).reshape(-1, 4)
    return ConversationStats(
        *(np.sort(np.asarray(vals[k], dtype=np.float64)) for k in ("same", "change", "overlap")),
        turn_lengths=np.sort(np.asarray(lengths, dtype=np.float64)),
        record_lengths=rec_a[:, 0].copy(),
        record_kinds=rec_a[:, 1].astype(np.int64),
        record_values=rec_a[:, 2].copy(),
        record_next=rec_a[:, 3].copy(),
        max_gap=max_gap,
        recordings=len(groups),
    )


def conversation_stats(turns, max_gap: Optional[float] = MAX_GAP) -> ConversationStats:
    """Statistics of :class:`recipes.rttm.Turn`s (several recordings; see the module docstring)."""
    from recipes.rttm import group_by_recording

    groups = [g for g in group_by_recording(turns).values() if g]
    pooled = _stats(groups, max_gap)
    if not len(pooled.same_speaker_pauses) and not len(pooled.speaker_change_pauses):
        raise ValueError("conversation statistics: no pauses between turns found")
    by_count: Dict[int, list] = {}
    for g in groups:
        by_count.setdefault(len({t.speaker for t in g}), []).append(g)
    if len(by_count) > 1:
        pooled.by_speakers = {k: _stats(v, max_gap) for k, v in sorted(by_count.items())}
    return pooled


def load_turns(path):
    """Real turns from an RTTM file / directory, or a CutSet manifest (its supervisions)."""
    from recipes.rttm import Turn, merge_self_overlaps, read_rttm

    p = Path(path)
    if p.is_dir() or not any(str(p).endswith(e) for e in (".jsonl.gz", ".jsonl", ".json")):
        turns, _ = read_rttm(p)
        return turns
    from lhotse.serialization import load_manifest_lazy

    turns = []
    for cut in load_manifest_lazy(p):
        rec = getattr(cut, "recording_id", None) or cut.id
        turns += [
            Turn(rec, cut.start + s.start, cut.start + s.end, s.speaker) for s in cut.supervisions if s.end > s.start
        ]
    turns, _ = merge_self_overlaps(turns)
    return turns


def load_conversation_stats(path, max_gap: Optional[float] = MAX_GAP) -> ConversationStats:
    """Statistics from an RTTM file / directory, or a CutSet manifest (its supervisions)."""
    return conversation_stats(load_turns(path), max_gap=max_gap)
