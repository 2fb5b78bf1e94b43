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
from pathlib import Path
from typing import Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

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


def _gzip_lines(f, chunk: int = 1 << 20) -> Iterator[bytes]:
    """The lines of a gzip stream (one or several members) read from the binary file ``f``:
    zlib in 1 MiB reads (the CRC checked by zlib), without ``GzipFile``'s per-line work."""
    import zlib

    d = zlib.decompressobj(wbits=31)
    rest = b""
    started = False
    while True:
        data = f.read(chunk)
        if not data:
            break
        while data:
            text = d.decompress(data)
            started = True
            if text:
                parts = (rest + text).split(b"\n")
                rest = parts.pop()
                yield from (p + b"\n" for p in parts)
            if d.eof:  # the next member, if any
                data = d.unused_data
                d = zlib.decompressobj(wbits=31)
                started = False
            else:
                data = b""
    if started and not d.eof:
        raise EOFError("compressed file ended before the end-of-stream marker was reached")
    if rest:
        yield rest


def _lines(path) -> Iterator[bytes]:
    """The lines of a manifest, gzipped or not."""
    with open(path, "rb") as f:
        if str(path).endswith(".gz"):
            yield from _gzip_lines(f)
        else:
            yield from f


CUT_TYPES = ("MonoCut", "MixedCut", "MultiCut", "PaddingCut")


def starts_with_a_cut(path) -> bool:
    """Whether the first item of the manifest at ``path`` is a Lhotse cut (its ``type``), read
    without importing Lhotse (and torch): ``diar describe`` checks its input with it."""
    try:
        with _open(path) as f:
            for line in f:
                if line.strip():
                    d = _loads(line)
                    return isinstance(d, dict) and d.get("type") in CUT_TYPES
    except (OSError, ValueError, EOFError):
        return False
    return False


def round8(x: np.ndarray) -> np.ndarray:
    """``round(v, 8)`` (Python's, correctly rounded: what Lhotse's ``with_offset`` and
    ``MixedCut.duration`` do) of every value, vectorised: ``rint(v * 1e8) / 1e8`` is the
    same double (a correctly rounded quotient of two exact numbers) whenever the rounded
    product cannot have crossed a half-integer, i.e. unless ``v * 1e8`` lies within two
    ulps of one; those few, and values too large for exact integers, take Python's round."""
    x = np.asarray(x, dtype=np.float64)
    y = x * 1e8
    out = np.rint(y) / 1e8
    risky = ~(np.abs((y - np.floor(y)) - 0.5) > 2 * np.spacing(np.abs(y))) | ~(np.abs(y) < 2.0**52)
    for i in np.flatnonzero(risky).tolist():
        out[i] = round(float(x[i]), 8)
    return out


def _mixture_rows(d: dict, uem: Optional[Mapping[str, Sequence[Tuple[float, float]]]]):
    """A ``MixedCut`` given as its JSON dict (see the module doc), as plain values:
    ``(recording id, duration, offsets, starts, durations, speakers, sim)`` of its audible
    tracks' supervisions (offsets and times unrounded, seconds), or None when a track is
    not a plain cut (then Lhotse reads it)."""
    tracks = d["tracks"]
    offsets, starts, durs, names = [], [], [], []
    add_offset, add_start, add_duration, add_name = offsets.append, starts.append, durs.append, names.append
    custom = {}
    end = None
    audible = 0
    for t in tracks:  # one pass: the plain-cut check and the audible tracks' supervisions
        cut = t["cut"]
        if cut.get("type") not in _PLAIN_TRACK_CUTS:
            return None
        if t.get("mute", False):
            continue
        audible += 1
        offset = t.get("offset", 0.0)
        x = offset + cut["duration"]
        if end is None or x > end:
            end = x
        if cut.get("custom"):
            custom.update(cut["custom"])
        for s in cut.get("supervisions") or ():
            add_offset(offset)
            add_start(s["start"])
            add_duration(s["duration"])
            add_name(s.get("speaker") or "<unknown>")
    if not audible:  # every track muted: Lhotse mixes them all
        return _mixture_rows({"id": d["id"], "tracks": [dict(t, mute=False) for t in tracks]}, uem)
    sim = custom.get("sim")
    return d["id"], round(end, 8), offsets, starts, durs, names, dict(sim) if isinstance(sim, Mapping) else None


def _clipped(duration: float, offsets, starts, durs):
    """Lhotse's supervision times of the mixture (``with_offset``: rounded to 8 digits), clipped
    to ``[0, duration]``: ``(start, end, kept)`` arrays."""
    start = round8(np.asarray(starts, np.float64) + np.asarray(offsets, np.float64))
    end = round8(start + np.asarray(durs, np.float64))
    a, b = np.maximum(start, 0.0) + 0.0, np.minimum(end, duration) + 0.0
    keep = b > a
    return a[keep], b[keep], keep


def _mixture_stats(rows, uem):
    """RecordingStats of a mixture whose UEM is not the whole mixture (turns clipped to it)."""
    from recipes.stats import recording_stats

    rec_id, duration, offsets, starts, durs, names, sim = rows
    span = (0, 0 + duration)
    regions = [(max(a, span[0]), min(b, span[1])) for a, b in (uem or {}).get(rec_id) or [span]]
    regions = [(a, b) for a, b in regions if b > a]
    a, b, keep = _clipped(duration, offsets, starts, durs)
    kept = [n for n, k in zip(names, keep.tolist()) if k]
    turns = [Turn(rec_id, x, y, n) for x, y, n in zip(a.tolist(), b.tolist(), kept)]
    rs = recording_stats(rec_id, turns, uem=regions, duration_source="uem")
    rs.audio_duration = duration
    rs.sim = sim
    return rs


def _whole(rows, uem) -> bool:
    """Whether the UEM of a mixture is the whole mixture (no UEM: the audio is scored)."""
    rec_id, duration = rows[0], rows[1]
    if not uem or not uem.get(rec_id):
        return duration > 0
    span = (0, 0 + duration)
    regions = [(max(a, span[0]), min(b, span[1])) for a, b in uem[rec_id]]
    return union_intervals([(a, b) for a, b in regions if b > a]) == [span]


def _measure_mixtures(rows_list: list) -> list:
    """RecordingStats of mixtures scored whole (``_mixture_rows`` each), in one vectorised
    pass (:func:`recipes.stats.batch_interval_stats`)."""
    from recipes.stats import batch_interval_stats

    counts = [len(r[3]) for r in rows_list]
    mix = np.repeat(np.arange(len(rows_list), dtype=np.int64), counts)
    durations = np.array([r[1] for r in rows_list], np.float64)
    a, b, keep = _clipped(
        durations[mix],
        [x for r in rows_list for x in r[2]],
        [x for r in rows_list for x in r[3]],
        [x for r in rows_list for x in r[4]],
    )
    mix = mix[keep]
    names = [n for r in rows_list for n in r[5]]
    names = [n for n, k in zip(names, keep.tolist()) if k]
    # speaker codes in name order within each mixture: a global name order, ranked per mixture
    vocabulary = sorted(set(names))
    index = {n: i for i, n in enumerate(vocabulary)}
    g = np.fromiter((index[n] for n in names), np.int64, len(names))
    width = len(vocabulary) or 1
    pairs = np.unique(mix * width + g)
    first = np.searchsorted(pairs, np.arange(len(rows_list) + 1) * width)
    codes = np.searchsorted(pairs, mix * width + g) - first[mix]
    pair_names = [vocabulary[x] for x in (pairs % width).tolist()]
    records = []
    for i, r in enumerate(rows_list):
        scored = r[1] - 0  # the whole mixture: (0, duration)
        records.append((r[0], pair_names[first[i] : first[i + 1]], scored, "audio", [(0.0, max(scored, 0.0))]))
    out = batch_interval_stats(mix, a, b, codes, records)
    for rs, r in zip(out, rows_list):
        rs.audio_duration, rs.sim = r[1], r[6]
    return out


def _compact(rs):
    rs.events = {k: array("d", v) for k, v in rs.events.items()}
    return rs


def _line_stats(line: bytes, where: str, uem):
    """``(stats, span, target_base)`` of one manifest line (None for a blank line): the
    statistics and what :func:`iter_cutset_stats` needs to count each span once; for a
    mixture scored whole, ``stats`` is its ``_mixture_rows`` (measured with its batch)."""
    if not line.strip():
        return None
    try:
        d = _loads(line)
    except ValueError as e:
        raise ValueError(f"{where}: not a JSON object ({e})") from e
    rows = _mixture_rows(d, uem) if d.get("type") == "MixedCut" else None
    if rows is not None:
        span = (rows[0], 0, round(rows[1], 3))
        return (rows if _whole(rows, uem) else _compact(_mixture_stats(rows, uem))), span, None
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
    """The items of a batch of lines; the mixtures scored whole measured in one vectorised call."""
    items = [_line_stats(line, f"{path}:{first_lineno + i}", shared["uem"]) for i, line in enumerate(lines)]
    pending = [i for i, item in enumerate(items) if item is not None and isinstance(item[0], tuple)]
    if pending:
        for i, rs in zip(pending, _measure_mixtures([items[i][0] for i in pending])):
            items[i] = (_compact(rs),) + items[i][1:]
    return items


BATCH_LINES = 256  # manifest lines per vectorised batch (and per task with num_jobs > 1)


def _batches(path, size: int):
    lineno, batch = 1, []
    for line in _lines(path):
        batch.append(line)
        if len(batch) == size:
            yield str(path), lineno, batch
            lineno, batch = lineno + size, []
    if batch:
        yield str(path), lineno, batch


def gzip_members(path) -> Optional[List[Tuple[str, int, int]]]:
    """``[(shard name, byte offset, byte length)]`` when the manifest at ``path`` is the
    byte concatenation of the gzipped shards its ``<stem>.shards.txt`` lists (what ``diar
    simulate`` writes): sizes that add up to the file's, each range starting with gzip's
    magic bytes. Else None. Each range is a complete gzip stream of whole lines, so that
    workers can read and decompress their own ranges."""
    p = Path(path)
    if not p.name.endswith(".jsonl.gz"):
        return None
    listing = p.with_name(p.name[: -len(".jsonl.gz")] + ".shards.txt")
    if not listing.is_file():
        return None
    names = [x.strip() for x in listing.read_text().splitlines() if x.strip()]
    try:
        sizes = [(p.parent / n).stat().st_size for n in names]
    except OSError:
        return None
    if not names or sum(sizes) != p.stat().st_size:
        return None
    out, offset = [], 0
    with open(p, "rb") as f:
        for name, size in zip(names, sizes):
            f.seek(offset)
            if f.read(2) != b"\x1f\x8b":
                return None
            out.append((name, offset, size))
            offset += size
    return out


def _member_stats(shared: dict, path: str, name: str, offset: int, length: int) -> list:
    """The items of the lines in one gzip member of the manifest (a worker reads it itself)."""
    import io

    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(length)
    where = str(Path(path).with_name(name))
    items, batch, first = [], [], 1
    for lineno, line in enumerate(_gzip_lines(io.BytesIO(data)), 1):
        batch.append(line)
        if len(batch) == BATCH_LINES:
            items += _batch_stats(shared, where, first, batch)
            batch, first = [], lineno + 1
    if batch:
        items += _batch_stats(shared, where, first, batch)
    return items


def iter_cutset_stats(
    path, uem: Optional[Mapping[str, Sequence[Tuple[float, float]]]] = None, progress: bool = True, num_jobs: int = 1
) -> Iterator:
    """Per-recording statistics of the CutSet manifest at ``path`` (JSONL, gzipped or not),
    in file order, with :func:`recipes.stats.cutset_stats`'s rules (UEM, target-speaker
    cuts once, other channels of a span once); one pass, a progress bar in hours.
    ``num_jobs > 1``: lines are parsed and measured on that many local processes, a few
    tasks ahead (memory stays bounded): each task a gzip member when the manifest is the
    concatenation of ``diar simulate``'s shards (:func:`gzip_members`: the workers read
    and decompress it themselves), else a batch of ``BATCH_LINES`` lines read here."""
    from tqdm import tqdm

    from recipes.parallel import map_tasks

    shared = {"uem": uem}
    members = gzip_members(path) if num_jobs > 1 else None
    if members:
        tasks = ((str(path), name, offset, length) for name, offset, length in members)
        results = map_tasks(_member_stats, tasks, num_jobs, progress=False, shared=shared)
    else:
        results = map_tasks(_batch_stats, _batches(path, BATCH_LINES), num_jobs, progress=False, shared=shared)
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
