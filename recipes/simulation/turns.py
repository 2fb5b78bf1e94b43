"""Turn-taking statistics of real conversations (pauses and overlaps) for the ``conversation`` method."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np


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
