"""Reading and writing RTTM speaker turns and UEM scoring regions.

:class:`~recipes.turns.Turn` and the interval algebra on turns (merging, clipping to
durations or UEMs) live in :mod:`recipes.turns`; their names are re-exported here.

This is the only module of the project that parses RTTM and UEM files; every
recipe goes through it so that all corpora get the same checks and the same
warnings.

All times are in **seconds** (floats), both in the files and in the Python
objects.

RTTM (Rich Transcription Time Marked)
-------------------------------------
One speaker turn per line, whitespace-separated fields::

    SPEAKER <file-id> <channel> <onset> <duration> <ortho> <stype> <name> <conf> <slat>

* ``<file-id>``: recording id, kept verbatim (may contain dots and suffixes such
  as ``S02_U06.ENH`` or start with ``-`` as in AVA-AVD).
* ``<channel>``: kept verbatim as a string (``1`` in most corpora, ``0`` in MSDWild).
* ``<onset>``: turn start in seconds, ``>= 0``.
* ``<duration>``: turn length in seconds, ``>= 0``; the turn ends at
  ``onset + duration`` (the sum is computed exactly in decimal and then rounded
  once to a float, so ``0.1 + 0.2`` ends at ``0.3``).
* ``<name>``: speaker label (any non-empty token except ``<NA>``), local to the
  recording in most corpora.
* the other fields are not used and are usually ``<NA>``.

Lines with 10 fields are standard; 9 fields (no ``<slat>``) are accepted too.
Only ``SPEAKER`` lines are read. The other line types of NIST RTTM
(``SPKR-INFO``, ``LEXEME``, ``NON-SPEECH``, ``SEGMENT``, ... see
:data:`OTHER_TYPES`) are skipped and counted per type in
:attr:`ReadReport.other_types` (they must still have 9 or 10 fields); any
other first field is an error, so that a file of the wrong kind is not
silently read as "no speech". Blank lines and comment lines (first non-blank
characters ``;;`` or ``#``) are skipped and counted.

Reading (:func:`read_rttm`) also

* sorts turns by ``(recording_id, start, end, speaker)`` (the files are often
  not sorted),
* omits zero-duration turns, listing them as ``file:line`` in
  :attr:`ReadReport.zero_duration` and logging a warning,
* unions same-speaker turns that strictly overlap (``next.start < end``;
  touching turns stay separate), counting the absorbed turns and logging a
  warning.

Malformed input raises :class:`AnnotationError` whose message is one line
``<file>:<line>: <what is wrong>; expected <what was expected>``.

:func:`write_rttm` writes 10-field lines with 3 decimals (1 ms), so
``read_rttm(write_rttm(read_rttm(x)))`` gives the same turns to within 1 ms
(each boundary moves by at most 0.5 ms).

UEM (un-partitioned evaluation map)
-----------------------------------
Scoring regions, one per line::

    <file-id> <channel> <start> <end>

with ``start`` and ``end`` in seconds, ``0 <= start < end``. A recording may
have several lines (DIHARD UEMs leave out PII-excised gaps); :func:`read_uem`
returns, per recording, the sorted union of its intervals (overlapping or
touching intervals are joined). The channel field is not kept. Ends can be
sentinels larger than the audio (CHiME-6 uses ``12000``); they are returned
as written. The 3-field variant ``<file-id> <start> <end>`` is not used by any
corpus we handle (AMI, CHiME-6, DIHARD, dscore, md-eval all write 4 fields),
so it is rejected as a field-count error rather than guessed at.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import (
    IO,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Sequence,
    Tuple,
    Union,
)

from recipes.turns import (  # noqa: F401 - re-exported: the names callers import from recipes.rttm
    Turn,
    _fmt,
    _merge,
    clip_to_durations,
    clip_to_uem,
    group_by_recording,
    merge_self_overlaps,
    union_intervals,
)

__all__ = [
    "AnnotationError",
    "Turn",
    "ReadReport",
    "read_rttm",
    "merge_self_overlaps",
    "clip_to_durations",
    "clip_to_uem",
    "write_rttm",
    "read_uem",
    "read_uems",
    "write_uem",
    "group_by_recording",
]

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

_NA = "<NA>"
_RTTM_FIELDS = "'SPEAKER <file-id> <channel> <onset> <duration> <ortho> <stype> <name> <conf> [<slat>]'"
_UEM_FIELDS = "'<file-id> <channel> <start> <end>'"
# A plain decimal number, optionally signed, optionally with an exponent.
# Rejects what float() would also take but no annotation tool writes:
# 'nan', 'inf', '1_000', non-ASCII digits, hexadecimal, surrounding text.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
# The NIST RTTM line types other than SPEAKER (RT-09 evaluation plan, appendix A): valid, not read.
OTHER_TYPES = frozenset(
    {
        "SPKR-INFO",
        "LEXEME",
        "NON-LEX",
        "NON-SPEECH",
        "SEGMENT",
        "NOSCORE",
        "NO_RT_METADATA",
        "SU",
        "CB",
        "IP",
        "EDIT",
        "FILLER",
        "A/P",
    }
)
# How many (file:line / recording) examples a log message lists at most.
_MAX_LISTED = 10


class AnnotationError(ValueError):
    """Bad annotation input.

    ``str(e)`` is one line: ``'<file>:<line>: <what is wrong>; expected <what was expected>'``.
    The parts are also available as attributes ``file``, ``line``, ``problem``
    and ``expected``.
    """

    def __init__(self, file: PathLike, line: int, problem: str, expected: str):
        self.file = str(file)
        self.line = line
        self.problem = problem
        self.expected = expected
        super().__init__(f"{self.file}:{line}: {problem}; expected {expected}")


@dataclass
class ReadReport:
    """What :func:`read_rttm` read and what it changed."""

    files: int = 0  # files read
    lines: int = 0  # SPEAKER lines read
    skipped_lines: int = 0  # blank lines and comments (';;' or '#')
    # 'file:line' of turns with duration 0 -> not returned, but listed
    zero_duration: List[str] = field(default_factory=list)
    # turns absorbed when same-speaker overlapping turns were merged
    merged_self_overlaps: int = 0
    # valid NIST lines of another type (SPKR-INFO, LEXEME, ...): type -> count, skipped
    other_types: Dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        others = ", ".join(f"{n} {t}" for t, n in sorted(self.other_types.items()))
        return (
            f"read {self.files} file(s), {self.lines} SPEAKER line(s); "
            f"skipped {self.skipped_lines} blank/comment line(s)"
            + (f" and {sum(self.other_types.values())} line(s) of other RTTM types ({others})" if others else "")
            + "; "
            f"omitted {len(self.zero_duration)} zero-duration turn(s); "
            f"merged {self.merged_self_overlaps} same-speaker overlapping turn(s)"
        )


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _lines(path: Path) -> Iterator[Tuple[int, str]]:
    """Yield ``(line_number, text)`` of a UTF-8 file; a bad byte sequence is an AnnotationError."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise AnnotationError(
                    path, lineno, f"bytes are not valid UTF-8 ({e.reason} at byte {e.start})", "UTF-8 text"
                ) from None
            if lineno == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield lineno, text


def _is_skipped(fields: Sequence[str]) -> bool:
    return not fields or fields[0].startswith(";;") or fields[0].startswith("#")


def _parse_number(path: Path, lineno: int, name: str, index: int, text: str) -> Decimal:
    """Parse a non-negative finite decimal number of seconds (field ``index``, 1-based)."""
    if not _NUMBER.match(text):
        raise AnnotationError(
            path, lineno, f"{name} (field {index}) {text!r} is not a number", "a decimal number of seconds"
        )
    value = Decimal(text)
    if not math.isfinite(float(value)):
        raise AnnotationError(
            path, lineno, f"{name} (field {index}) {text!r} is too large", "a finite number of seconds"
        )
    if value < 0:
        raise AnnotationError(path, lineno, f"negative {name} {text}", f"{name} >= 0 seconds")
    return value


def _expand_paths(paths: Union[PathLike, Iterable[PathLike]], pattern: str) -> List[Path]:
    if isinstance(paths, (str, bytes, os.PathLike)):
        items: Iterable[PathLike] = [paths]
    else:
        items = paths
    out: List[Path] = []
    for item in items:
        p = Path(os.fsdecode(item))
        if p.is_dir():
            found = sorted(q for q in p.rglob(pattern) if q.is_file())
            if not found:
                raise FileNotFoundError(f"no {pattern} file below directory {p}")
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise FileNotFoundError(f"annotation file or directory not found: {p}")
    return out


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    if len(items) > _MAX_LISTED:
        shown += f", ... ({len(items) - _MAX_LISTED} more)"
    return shown


# ---------------------------------------------------------------------------
# RTTM
# ---------------------------------------------------------------------------


def _read_one_rttm(path: Path, turns: List[Turn], report: ReadReport) -> None:
    for lineno, text in _lines(path):
        fields = text.split()
        if _is_skipped(fields):
            report.skipped_lines += 1
            continue
        if fields[0] != "SPEAKER" and fields[0] not in OTHER_TYPES:
            raise AnnotationError(
                path,
                lineno,
                f"line type {fields[0]!r} is not an RTTM type",
                "a SPEAKER line (or another NIST RTTM type such as SPKR-INFO, which is skipped), "
                "a blank line or a comment starting with ';;' or '#'",
            )
        if len(fields) not in (9, 10):
            raise AnnotationError(
                path, lineno, f"{len(fields)} fields", f"9 or 10 whitespace-separated fields {_RTTM_FIELDS}"
            )
        if fields[0] != "SPEAKER":
            report.other_types[fields[0]] = report.other_types.get(fields[0], 0) + 1
            continue
        _, rec, channel, onset_s, dur_s = fields[:5]
        speaker = fields[7]
        if rec == _NA:
            raise AnnotationError(path, lineno, f"recording id (field 2) is {_NA}", "a recording id")
        if speaker == _NA:
            raise AnnotationError(path, lineno, f"speaker name (field 8) is {_NA}", "a speaker label")
        onset = _parse_number(path, lineno, "onset", 4, onset_s)
        dur = _parse_number(path, lineno, "duration", 5, dur_s)
        report.lines += 1
        start = float(onset) + 0.0  # + 0.0 turns -0.0 into 0.0
        with localcontext() as ctx:
            ctx.prec = 60
            try:
                end = float(onset + dur)
            except (ArithmeticError, InvalidOperation):
                end = math.inf
        if not math.isfinite(end):
            raise AnnotationError(
                path, lineno, f"onset + duration = {onset_s} + {dur_s} is too large", "a finite end time"
            )
        if end <= start:  # zero duration, or too small to change the float
            where = f"{path}:{lineno}"
            report.zero_duration.append(where)
            logger.warning(
                "%s: zero-duration turn (recording %s, speaker %s, onset %s) omitted", where, rec, speaker, onset_s
            )
            continue
        turns.append(Turn(rec, start, end, speaker, channel))


def read_rttm(
    paths: Union[PathLike, Iterable[PathLike]], *, merge_self_overlaps: bool = True
) -> Tuple[List[Turn], ReadReport]:
    """Read ``SPEAKER`` turns from RTTM files.

    ``paths`` is an RTTM file, a directory (every ``*.rttm`` below it,
    recursively, in sorted path order), or an iterable of those. Files are read
    whatever their extension when named explicitly (CHiME-6 ships
    ``dev_rttm``).

    Returns the turns sorted by ``(recording_id, start, end, speaker)`` and a
    :class:`ReadReport`. Zero-duration turns are omitted (and listed in the
    report); same-speaker strictly overlapping turns are merged unless
    ``merge_self_overlaps=False``. Both are logged as warnings, as is a
    recording id that occurs in more than one file.

    Raises :class:`AnnotationError` (``file:line: ...; expected ...``) on
    malformed lines and :class:`FileNotFoundError` for a missing path or a
    directory with no ``*.rttm`` file.
    """
    report = ReadReport()
    turns: List[Turn] = []
    files_of: Dict[str, List[str]] = defaultdict(list)
    for path in _expand_paths(paths, "*.rttm"):
        n_before = len(turns)
        _read_one_rttm(path, turns, report)
        report.files += 1
        for rec in {t.recording_id for t in turns[n_before:]}:
            files_of[rec].append(str(path))

    repeated = sorted(rec for rec, fs in files_of.items() if len(fs) > 1)
    if repeated:
        logger.warning(
            "%d recording id(s) occur in more than one RTTM file (their turns are pooled): %s",
            len(repeated),
            _listed([f"{rec} in {' and '.join(files_of[rec])}" for rec in repeated]),
        )

    if merge_self_overlaps:
        turns, absorbed = _merge(turns)
        report.merged_self_overlaps = len(absorbed)
        if absorbed:
            per_stream: Dict[Tuple[str, str], int] = defaultdict(int)
            for key in absorbed:
                per_stream[key] += 1
            logger.warning(
                "merged %d same-speaker overlapping turn(s) into their neighbours: %s",
                len(absorbed),
                _listed([f"{rec} spk {spk} x{n}" for (rec, spk), n in sorted(per_stream.items())]),
            )
    else:
        turns.sort()
    if report.zero_duration:
        logger.warning("omitted %d zero-duration turn(s): %s", len(report.zero_duration), _listed(report.zero_duration))
    if report.other_types:
        logger.info(
            "skipped %d RTTM line(s) of other types: %s",
            sum(report.other_types.values()),
            ", ".join(f"{n} {t}" for t, n in sorted(report.other_types.items())),
        )
    return turns, report


def _write_lines(path_or_file: Union[PathLike, IO[str]], lines: List[str]) -> None:
    """Write to an open text file, or atomically to a path (a ``.partial`` file renamed
    when complete, parent directories created)."""
    if hasattr(path_or_file, "write"):
        path_or_file.writelines(lines)
        return
    from recipes.fileio import write_text

    path = Path(os.fsdecode(path_or_file))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, "".join(lines))


def _check_token(value: str, what: str, turn: object, na_ok: bool = True) -> None:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value) or (value == _NA and not na_ok):
        raise ValueError(
            f"cannot write {turn!r}: {what} {value!r} must be a non-empty token without whitespace"
            + ("" if na_ok else f" other than {_NA}")
        )


def write_rttm(turns: Iterable[Turn], path_or_file: Union[PathLike, IO[str]]) -> None:
    """Write turns as 10-field RTTM lines, sorted as :func:`read_rttm` sorts.

    ``SPEAKER <rec> <chan> <start> <dur> <NA> <NA> <spk> <NA> <NA>`` with
    start and duration in seconds with 3 decimals. The start and the end are
    each rounded to the nearest millisecond and the duration is their
    difference, so turns that did not overlap still do not overlap. A turn
    shorter than 1 ms that rounds to zero duration is still written (with a
    warning); reading it back lists it as a zero-duration turn.

    ``path_or_file`` is a path (parent directories are created) or an open
    text file object (not closed). Ids, channels and speakers containing
    whitespace (or a speaker ``<NA>``) cannot be represented and raise
    :class:`ValueError`.
    """
    ordered = sorted(turns)
    lines = []
    for t in ordered:
        _check_token(t.recording_id, "recording id", t, na_ok=False)
        _check_token(t.channel, "channel", t)
        _check_token(t.speaker, "speaker", t, na_ok=False)
        start_s, end_s = _fmt(t.start), _fmt(t.end)
        if Decimal(start_s) < 0:
            raise ValueError(f"cannot write {t!r}: negative start (RTTM onsets are >= 0)")
        dur_s = f"{Decimal(end_s) - Decimal(start_s):.3f}"
        if Decimal(dur_s) == 0:
            logger.warning(
                "write_rttm: turn %s spk %s %s-%s s rounds to zero duration at 1 ms precision",
                t.recording_id,
                t.speaker,
                t.start,
                t.end,
            )
        lines.append(f"SPEAKER {t.recording_id} {t.channel} {start_s} {dur_s} {_NA} {_NA} {t.speaker} {_NA} {_NA}\n")
    _write_lines(path_or_file, lines)


# ---------------------------------------------------------------------------
# UEM
# ---------------------------------------------------------------------------


def read_uem(path: PathLike) -> Dict[str, List[Tuple[float, float]]]:
    """Read a UEM file into ``{recording_id: [(start, end), ...]}`` (seconds).

    Lines are ``<file-id> <channel> <start> <end>``; blank lines and comments
    (``;;`` or ``#``) are skipped. A recording may have several lines; its
    intervals are returned sorted, with overlapping or touching intervals
    joined. Recordings are in sorted order. Wrong field counts, non-numbers,
    negative starts and ``end <= start`` raise :class:`AnnotationError`, and so
    does a file with no interval at all (an empty UEM would otherwise read as
    "no UEM": every recording scored whole).
    """
    p = Path(os.fsdecode(path))
    if not p.is_file():
        raise FileNotFoundError(f"UEM file not found: {p}")
    raw: Dict[str, List[Tuple[float, float]]] = defaultdict(list)
    for lineno, text in _lines(p):
        fields = text.split()
        if _is_skipped(fields):
            continue
        if len(fields) != 4:
            raise AnnotationError(p, lineno, f"{len(fields)} fields", f"4 whitespace-separated fields {_UEM_FIELDS}")
        rec, _channel, start_s, end_s = fields
        start = _parse_number(p, lineno, "start", 3, start_s)
        end = _parse_number(p, lineno, "end", 4, end_s)
        if not end > start:
            raise AnnotationError(p, lineno, f"end {end_s} is not after start {start_s}", "end > start")
        raw[rec].append((float(start), float(end)))
    if not raw:
        raise ValueError(
            f"{p}: the UEM file has no interval; expected at least one line {_UEM_FIELDS} "
            "(leave out --uem to score whole recordings)"
        )
    return {rec: union_intervals(raw[rec]) for rec in sorted(raw)}


def read_uems(paths: Iterable[PathLike]) -> Dict[str, List[Tuple[float, float]]]:
    """Several UEM files (one per split, as pyannote layouts ship them) read as one map.

    Each file is read by :func:`read_uem`; a recording id in more than one file
    is an error naming both files (which one holds the scoring regions cannot
    be guessed). Recordings are in sorted order.
    """
    merged: Dict[str, List[Tuple[float, float]]] = {}
    origin: Dict[str, str] = {}
    for path in paths:
        for rec, ivs in read_uem(path).items():
            if rec in origin:
                raise ValueError(
                    f"recording {rec!r} is in two UEM files: {origin[rec]} and {os.fsdecode(path)}; "
                    "expected each recording in one UEM"
                )
            origin[rec] = os.fsdecode(path)
            merged[rec] = ivs
    return {rec: merged[rec] for rec in sorted(merged)}


def write_uem(
    uem: Mapping[str, List[Tuple[float, float]]], path_or_file: Union[PathLike, IO[str]], channel: str = "1"
) -> None:
    """Write ``<rec> <channel> <start> <end>`` lines (seconds, 3 decimals), recordings and intervals sorted.

    ``path_or_file`` is a path (parent directories are created) or an open
    text file object (not closed). An interval that rounds to zero length at
    1 ms raises :class:`ValueError`, since :func:`read_uem` would reject it.
    """
    lines = []
    for rec in sorted(uem):
        if not rec or any(c.isspace() for c in rec):
            raise ValueError(f"cannot write UEM recording id {rec!r}: must be a non-empty token without whitespace")
        for start, end in sorted(uem[rec]):
            start_s, end_s = _fmt(start), _fmt(end)
            if not Decimal(end_s) > Decimal(start_s):
                raise ValueError(f"UEM interval {rec} {start}-{end} is empty at 1 ms precision")
            lines.append(f"{rec} {channel} {start_s} {end_s}\n")
    _write_lines(path_or_file, lines)
