"""Speaker turns and the interval algebra on them (all times in seconds).

:class:`Turn` is one speaker turn ``[start, end)`` of a recording, what :mod:`recipes.rttm`
reads and writes and what the corpus readers build. The operations here never touch a file:
union of a speaker's overlapping turns (:func:`merge_self_overlaps`), clipping to recording
durations (:func:`clip_to_durations`) or to UEM scoring regions (:func:`clip_to_uem`), the
union of intervals (:func:`union_intervals`) and grouping by recording
(:func:`group_by_recording`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Tuple

logger = logging.getLogger(__name__)


def _fmt(t: float) -> str:
    """Seconds with 3 decimals (1 ms), as RTTM and UEM files write them."""
    return f"{t:.3f}"


@dataclass(frozen=True, order=True)
class Turn:
    """One speaker turn ``[start, end)`` in seconds.

    Ordering (``order=True``) is by ``(recording_id, start, end, speaker,
    channel)``, which is the order :func:`read_rttm` returns.
    """

    recording_id: str
    start: float  # seconds
    end: float  # seconds, > start
    speaker: str
    channel: str = "1"  # RTTM channel field kept verbatim as a string

    def __post_init__(self) -> None:
        if not (self.end > self.start):  # also catches NaN
            raise ValueError(
                f"Turn {self.recording_id!r} speaker {self.speaker!r}: end {self.end!r} "
                f"must be greater than start {self.start!r}"
            )

    @property
    def duration(self) -> float:
        return self.end - self.start


def _merge(turns: Iterable[Turn]) -> Tuple[List[Turn], List[Tuple[str, str]]]:
    """Merge same-speaker strictly-overlapping turns; also return (rec, spk) of each absorbed turn."""
    streams: Dict[Tuple[str, str], List[Turn]] = defaultdict(list)
    for t in turns:
        streams[(t.recording_id, t.speaker)].append(t)
    out: List[Turn] = []
    absorbed: List[Tuple[str, str]] = []
    for key, stream in streams.items():
        stream.sort()
        cur = stream[0]
        for nxt in stream[1:]:
            if nxt.start < cur.end:
                absorbed.append(key)
                if nxt.end > cur.end:
                    cur = Turn(cur.recording_id, cur.start, nxt.end, cur.speaker, cur.channel)
            else:
                out.append(cur)
                cur = nxt
        out.append(cur)
    out.sort()
    return out, absorbed


def merge_self_overlaps(turns: Iterable[Turn]) -> Tuple[List[Turn], int]:
    """Union the strictly overlapping turns of each ``(recording_id, speaker)``.

    Turns that only touch (``next.start == current.end``) stay separate. The
    merged turn keeps the channel of its first (earliest) turn.

    Returns ``(turns sorted by (recording_id, start, end, speaker), number of
    turns absorbed into another)``.
    """
    merged, absorbed = _merge(turns)
    return merged, len(absorbed)


def clip_to_durations(turns: Iterable[Turn], durations: Mapping[str, float]) -> Tuple[List[Turn], List[str]]:
    """Clip turns to ``[0, durations[recording_id]]`` seconds.

    Turns lying entirely outside (starting at or after the end, or ending at
    or before 0) are removed. Returns ``(sorted turns, messages)`` with one
    message per clipped or removed turn, e.g.
    ``"TS3007c spk MTD026UID turn 2419.200-2430.160 s clipped to 2420.000 s"``.
    Recordings not in ``durations`` are left as they are.
    """
    out: List[Turn] = []
    messages: List[str] = []
    for t in sorted(turns):
        if t.recording_id not in durations:
            out.append(t)
            continue
        dur = float(durations[t.recording_id])
        what = f"{t.recording_id} spk {t.speaker} turn {_fmt(t.start)}-{_fmt(t.end)} s"
        if t.start >= dur:
            messages.append(f"{what} removed: starts at or after the recording end {_fmt(dur)} s")
            continue
        if t.end <= 0:
            messages.append(f"{what} removed: ends at or before 0 s")
            continue
        start, end = max(t.start, 0.0), min(t.end, dur)
        if start == t.start and end == t.end:
            out.append(t)
            continue
        if start != t.start and end != t.end:
            messages.append(f"{what} clipped to {_fmt(start)}-{_fmt(end)} s")
        elif end != t.end:
            messages.append(f"{what} clipped to {_fmt(end)} s (recording end)")
        else:
            messages.append(f"{what} clipped to start at {_fmt(start)} s")
        out.append(Turn(t.recording_id, start, end, t.speaker, t.channel))
    return out, messages


def union_intervals(intervals: Iterable[Tuple[float, float]]) -> List[Tuple[float, float]]:
    """Sorted union of intervals; overlapping or touching intervals are joined, empty ones dropped."""
    merged: List[Tuple[float, float]] = []
    for a, b in sorted((float(a), float(b)) for a, b in intervals):
        if not b > a:
            continue
        if merged and a <= merged[-1][1]:
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def clip_to_uem(turns: Iterable[Turn], uem: Mapping[str, List[Tuple[float, float]]]) -> List[Turn]:
    """Intersect each turn with its recording's UEM intervals.

    A turn that spans a gap between two scoring regions is split into
    several turns; a turn outside all regions is removed. Recordings absent
    from ``uem`` are kept as they are. Returns the turns sorted; what was
    trimmed, split or removed is logged (INFO) as one summary line.
    """
    regions = {rec: union_intervals(iv) for rec, iv in uem.items()}
    out: List[Turn] = []
    trimmed = split = removed = 0
    lost = 0.0
    for t in turns:
        ivs = regions.get(t.recording_id)
        if ivs is None:
            out.append(t)
            continue
        pieces = [
            Turn(t.recording_id, max(t.start, a), min(t.end, b), t.speaker, t.channel)
            for a, b in ivs
            if max(t.start, a) < min(t.end, b)
        ]
        kept = sum(p.duration for p in pieces)
        if not pieces:
            removed += 1
        elif len(pieces) > 1:
            split += 1
        elif pieces[0] != t:
            trimmed += 1
        lost += t.duration - kept
        out.extend(pieces)
    out.sort()
    if trimmed or split or removed:
        # debug: statistics call this once per recording
        logger.debug(
            "clip_to_uem: %d turn(s) trimmed, %d split, %d removed; %.3f s of speaker time outside the UEM",
            trimmed,
            split,
            removed,
            lost,
        )
    return out


def group_by_recording(turns: Iterable[Turn]) -> Dict[str, List[Turn]]:
    """``{recording_id: sorted turns}``, keys inserted in sorted recording-id order."""
    groups: Dict[str, List[Turn]] = defaultdict(list)
    for t in turns:
        groups[t.recording_id].append(t)
    return {rec: sorted(groups[rec]) for rec in sorted(groups)}
