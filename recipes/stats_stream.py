"""Per-recording statistics of a CutSet manifest read as a stream of plain JSON lines.

``diar describe`` on the plan's 20,000 h of simulated mixtures (323k mixtures,
9.7 M tracks) spent most of its time building Lhotse objects, one per track,
only to read a few numbers from them. This reader parses each line once
(``orjson`` when installed, else the standard library) and reads a simulated
mixture (``MixedCut``) straight from its JSON: the audible tracks' offsets,
durations and supervisions, and its ``custom["sim"]``, with Lhotse's own
arithmetic (``MixedCut.duration``, ``SupervisionSegment.with_offset`` and
``.end`` round to 8 digits). Any other cut (``MonoCut``, ``MultiCut``, a
mixture whose tracks are not plain cuts) becomes one Lhotse object, as before.

What it yields is exactly what :func:`recipes.stats.cutset_stats` gives for the
same cuts (``tests/test_stats_stream.py`` checks equality field by field), with
each recording's event lists stored as compact ``array('d')`` so that the
statistics of 20,000 h stay well under 2 GiB. Progress is shown in hours.
"""

from array import array
from typing import Iterator, Mapping, Optional, Sequence, Tuple

from recipes.rttm import Turn, union_intervals

try:  # several times faster than the standard library on these lines
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover - orjson is a dependency; the standard library is the fallback
    import json

    _loads = json.loads

_PLAIN_TRACK_CUTS = ("MonoCut", "PaddingCut")


def _open(path):
    import gzip

    return gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")


def _mixture_stats(d: dict, uem: Optional[Mapping[str, Sequence[Tuple[float, float]]]]):
    """RecordingStats of a ``MixedCut`` given as its JSON dict (see the module doc), or None
    when a track is not a plain cut (then Lhotse reads it)."""
    from recipes.stats import recording_stats

    tracks = d["tracks"]
    if any(t["cut"].get("type") not in _PLAIN_TRACK_CUTS for t in tracks):
        return None
    audible = [t for t in tracks if not t.get("mute", False)] or tracks
    rec_id = d["id"]
    duration = round(max(t.get("offset", 0.0) + t["cut"]["duration"] for t in audible), 8)
    turns = []
    custom = {}
    for t in audible:
        cut, offset = t["cut"], t.get("offset", 0.0)
        if cut.get("custom"):
            custom.update(cut["custom"])
        for s in cut.get("supervisions") or ():
            start = round(s["start"] + offset, 8)
            end = round(start + s["duration"], 8)
            a, b = max(start, 0.0), min(end, duration)
            if b > a:
                turns.append(Turn(rec_id, 0 + a, 0 + b, s.get("speaker") or "<unknown>"))
    span = (0, 0 + duration)
    regions = (uem or {}).get(rec_id) or [span]
    regions = [(max(a, span[0]), min(b, span[1])) for a, b in regions]
    regions = [(a, b) for a, b in regions if b > a]
    merged = union_intervals(regions)
    if merged == [span]:
        # the UEM is the whole mixture: clipping the (already clipped) turns to it only sorts them
        turns.sort(key=lambda t: (t.start, t.end, t.speaker))
        rs = recording_stats(rec_id, turns, duration=sum(e - s for s, e in merged), duration_source="audio")
    else:
        rs = recording_stats(rec_id, turns, uem=regions, duration_source="uem")
    rs.audio_duration = duration
    sim = custom.get("sim")
    rs.sim = dict(sim) if isinstance(sim, Mapping) else None
    return rs


def _compact(rs):
    rs.events = {k: array("d", v) for k, v in rs.events.items()}
    return rs


def _line_stats(line: bytes, where: str, uem):
    """``(stats, span, target_base)`` of one manifest line (None for a blank line): the
    statistics and what :func:`iter_cutset_stats` needs to count each span once."""
    if not line.strip():
        return None
    try:
        d = _loads(line)
    except ValueError as e:
        raise ValueError(f"{where}: not a JSON object ({e})") from e
    rs = _mixture_stats(d, uem) if d.get("type") == "MixedCut" else None
    if rs is not None:
        return _compact(rs), (rs.recording_id, 0, round(rs.audio_duration, 3)), None
    from lhotse.serialization import deserialize_item

    from recipes.cuts import cut_custom, cut_recording_id
    from recipes.stats import cutset_stats

    try:
        cut = deserialize_item(d)
    except Exception as e:
        raise ValueError(f"{where}: not a Lhotse cut ({type(e).__name__}: {e})") from e
    custom = cut_custom(cut)
    span = (cut_recording_id(cut), round(cut.start, 3), round(cut.duration, 3))
    base = cut.id.rsplit("#", 1)[0] if "target_speaker" in custom else None
    return _compact(cutset_stats([cut], uem=uem)[0]), span, base


def _batch_stats(shared: dict, path: str, first_lineno: int, lines: list) -> list:
    return [_line_stats(line, f"{path}:{first_lineno + i}", shared["uem"]) for i, line in enumerate(lines)]


BATCH_LINES = 256  # manifest lines per task with num_jobs > 1


def _batches(path, size: int):
    with _open(path) as f:
        lineno, batch = 1, []
        for line in f:
            batch.append(line)
            if len(batch) == size:
                yield str(path), lineno, batch
                lineno, batch = lineno + size, []
        if batch:
            yield str(path), lineno, batch


def iter_cutset_stats(
    path, uem: Optional[Mapping[str, Sequence[Tuple[float, float]]]] = None, progress: bool = True, num_jobs: int = 1
) -> Iterator:
    """Per-recording statistics of the CutSet manifest at ``path`` (JSONL, gzipped or not),
    in file order, with :func:`recipes.stats.cutset_stats`'s rules (UEM, target-speaker
    cuts once, other channels of a span once); one pass, a progress bar in hours.
    ``num_jobs > 1``: lines are parsed and measured on that many local processes, in
    batches of ``BATCH_LINES``, a few batches ahead (memory stays bounded)."""
    from tqdm import tqdm

    from recipes.parallel import map_tasks

    results = map_tasks(_batch_stats, _batches(path, BATCH_LINES), num_jobs, progress=False, shared={"uem": uem})
    seen, spans = set(), set()
    with tqdm(
        desc=f"describe {path}", unit="h", disable=not progress, bar_format="{desc}: {n:.1f} h [{elapsed}, {rate_fmt}]"
    ) as bar:
        for batch in results:
            for item in batch:
                if item is None:
                    continue
                rs, span, base = item
                if span in spans and base is None:
                    continue  # another channel of the same span (per-channel cuts of a multi-channel recording)
                spans.add(span)
                if base is not None:  # a target-speaker cut: its original cut counts once
                    if base in seen:
                        continue
                    seen.add(base)
                bar.update(rs.audio_duration / 3600)
                yield rs


def cutset_stats_from_file(path, uem=None, progress: bool = True, num_jobs: int = 1) -> list:
    """:func:`iter_cutset_stats` as a list (what ``diar describe`` summarises)."""
    return list(iter_cutset_stats(path, uem=uem, progress=progress, num_jobs=num_jobs))
