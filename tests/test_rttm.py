"""Tests for recipes.rttm: RTTM/UEM parsing, merging, clipping, writing."""

from __future__ import annotations

import io
import logging
import tempfile
from collections import defaultdict
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recipes.rttm import (
    AnnotationError,
    ReadReport,
    Turn,
    clip_to_durations,
    clip_to_uem,
    group_by_recording,
    merge_self_overlaps,
    read_rttm,
    read_uem,
    write_rttm,
    write_uem,
)

MS = 0.0005 + 1e-9  # a boundary written with 3 decimals moves by at most half a millisecond


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------
# hand-written RTTM
# ---------------------------------------------------------------------------

HAND = """\
;; a comment line
# another comment

SPEAKER rec.B 1 10.5 2.25 <NA> <NA> spkA <NA> <NA>
SPEAKER rec.B 1 3.000000 1.5 <NA> <NA> spkB <NA> <NA>
   SPEAKER -rec_A 0 0.1 0.2 <NA> <NA> h <NA> <NA>
SPEAKER -rec_A 0 0.25 1.0 <NA> <NA> h <NA> <NA>
SPEAKER -rec_A 0 1.25 0.5 <NA> <NA> h <NA> <NA>
SPEAKER rec.B 1 4.0 0.000 <NA> <NA> spkB <NA> <NA>
   ;; indented comment
SPEAKER\trec.B\t1\t11.0\t0.5\t<NA>\t<NA>\th0\t<NA>
SPEAKER rec.B 1 12.123456 0.1 <NA> <NA> spkB <NA> <NA>
SPEAKER -rec_A 0 0.4 0.1 <NA> <NA> h <NA> <NA>
"""


def test_parse_hand_written(tmp_path, caplog):
    path = _write(tmp_path / "hand.rttm", HAND)
    with caplog.at_level(logging.WARNING, logger="recipes.rttm"):
        turns, report = read_rttm(path)
    # -rec_A/h: 0.1-0.3, 0.25-1.25 and 0.4-0.5 overlap -> one turn 0.1-1.25 (2 absorbed);
    # 1.25-1.75 only touches it and stays separate. '-' sorts before 'r'.
    assert turns == [
        Turn("-rec_A", 0.1, 1.25, "h", "0"),
        Turn("-rec_A", 1.25, 1.75, "h", "0"),
        Turn("rec.B", 3.0, 4.5, "spkB", "1"),
        Turn("rec.B", 10.5, 12.75, "spkA", "1"),
        Turn("rec.B", 11.0, 11.5, "h0", "1"),
        Turn("rec.B", 12.123456, 12.223456, "spkB", "1"),
    ]
    assert report == ReadReport(files=1, lines=9, skipped_lines=4, zero_duration=[f"{path}:9"], merged_self_overlaps=2)
    summary = report.summary()
    assert "\n" not in summary
    for number in ("1 file", "9 SPEAKER", "4 blank", "1 zero-duration", "2 same-speaker"):
        assert number in summary
    logged = caplog.text
    assert f"{path}:9" in logged and "zero-duration" in logged
    assert "merged 2" in logged and "-rec_A spk h" in logged


def test_end_is_exact_decimal_sum_and_touching_turns_stay_separate(tmp_path):
    # 0.1 + 0.2 != 0.3 in binary floats; the parser sums exactly, so these two turns touch.
    path = _write(
        tmp_path / "x.rttm",
        "SPEAKER r 1 0.1 0.2 <NA> <NA> s <NA> <NA>\nSPEAKER r 1 0.3 0.1 <NA> <NA> s <NA> <NA>\n",
    )
    turns, report = read_rttm(path)
    assert [(t.start, t.end) for t in turns] == [(0.1, 0.3), (0.3, 0.4)]
    assert report.merged_self_overlaps == 0


def test_no_merge_option_keeps_overlaps_sorted(tmp_path):
    path = _write(tmp_path / "hand.rttm", HAND)
    turns, report = read_rttm(path, merge_self_overlaps=False)
    assert report.merged_self_overlaps == 0
    assert len(turns) == 8  # 9 SPEAKER lines minus the zero-duration one
    assert turns == sorted(turns, key=lambda t: (t.recording_id, t.start, t.end, t.speaker))
    assert Turn("-rec_A", 0.25, 1.25, "h", "0") in turns


def test_merge_self_overlaps_function():
    turns = [
        Turn("r", 4.5, 6.0, "a", "2"),
        Turn("r", 0.0, 5.0, "a", "1"),
        Turn("r", 1.0, 2.0, "a", "3"),  # contained
        Turn("r", 6.0, 7.0, "a", "1"),  # touches -> separate
        Turn("r", 1.0, 9.0, "b", "1"),  # other speaker -> never merged with a
        Turn("q", 0.5, 1.0, "a", "1"),  # other recording
        Turn("q", 0.5, 1.0, "a", "1"),  # exact duplicate -> absorbed
    ]
    merged, n = merge_self_overlaps(turns)
    assert n == 3
    assert merged == [
        Turn("q", 0.5, 1.0, "a", "1"),
        Turn("r", 0.0, 6.0, "a", "1"),  # channel of the first turn
        Turn("r", 1.0, 9.0, "b", "1"),
        Turn("r", 6.0, 7.0, "a", "1"),
    ]


def test_turn_invariants():
    t = Turn("r", 1.5, 4.0, "s")
    assert t.duration == 2.5 and t.channel == "1"
    with pytest.raises(ValueError):
        Turn("r", 2.0, 2.0, "s")
    with pytest.raises(ValueError):
        Turn("r", 2.0, 1.0, "s")


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

GOOD = "SPEAKER rec 1 0.0 1.0 <NA> <NA> spk <NA> <NA>"


@pytest.mark.parametrize(
    "bad, expected_parts",
    [
        ("SPEAKER rec 1 0.0 1.0 <NA> <NA> spk", ["8 fields", "expected 9 or 10"]),
        ("SPEAKER rec 1 0.0 1.0 <NA> <NA> spk <NA> <NA> extra", ["11 fields", "expected 9 or 10"]),
        (
            "SPEAKER rec 1 abc 1.0 <NA> <NA> spk <NA> <NA>",
            ["onset (field 4) 'abc'", "not a number", "expected a decimal number"],
        ),
        ("SPEAKER rec 1 0.0 1,5 <NA> <NA> spk <NA> <NA>", ["duration (field 5) '1,5'", "expected a decimal number"]),
        ("SPEAKER rec 1 0.0 nan <NA> <NA> spk <NA> <NA>", ["duration (field 5) 'nan'", "expected a decimal number"]),
        ("SPEAKER rec 1 <NA> 1.0 <NA> <NA> spk <NA> <NA>", ["onset (field 4) '<NA>'", "expected a decimal number"]),
        ("SPEAKER rec 1 1e999 1.0 <NA> <NA> spk <NA> <NA>", ["onset (field 4) '1e999'", "expected a finite number"]),
        ("SPEAKER rec 1 -0.5 1.0 <NA> <NA> spk <NA> <NA>", ["negative onset -0.5", "expected onset >= 0"]),
        ("SPEAKER rec 1 0.5 -1.25 <NA> <NA> spk <NA> <NA>", ["negative duration -1.25", "expected duration >= 0"]),
        # SPKR-INFO / LEXEME lines are valid NIST RTTM and skipped (test_other_rttm_types_are_skipped_and_counted);
        # an unknown type, or another type with the wrong field count, is still an error
        (
            "SPEAKERS rec 1 0.0 1.0 <NA> <NA> spk <NA> <NA>",
            ["'SPEAKERS'", "not an RTTM type", "expected a SPEAKER line"],
        ),
        ("TURN rec 1 0.5 0.2 hello lex spk <NA> <NA>", ["'TURN'", "not an RTTM type"]),
        ("SPKR-INFO rec 1 <NA> <NA> <NA> unknown spk", ["8 fields", "expected 9 or 10"]),
        (
            "SPEAKER rec 1 0.0 1.0 <NA> <NA> <NA> <NA> <NA>",
            ["speaker name (field 8) is <NA>", "expected a speaker label"],
        ),
        # speaker left empty: the 9 remaining fields put '<NA>' (conf) in the speaker slot
        ("SPEAKER rec 1 0.0 1.0 <NA> <NA>  <NA> <NA>", ["speaker name (field 8) is <NA>"]),
        (
            "SPEAKER <NA> 1 0.0 1.0 <NA> <NA> spk <NA> <NA>",
            ["recording id (field 2) is <NA>", "expected a recording id"],
        ),
    ],
)
def test_rttm_errors(tmp_path, bad, expected_parts):
    path = _write(tmp_path / "sub" / "bad.rttm", f";; header\n{GOOD}\n\n{bad}\n{GOOD}\n")
    with pytest.raises(AnnotationError) as info:
        read_rttm(tmp_path)  # through the directory walk: the message still names the file
    msg = str(info.value)
    assert msg.startswith(f"{path}:4: ")
    assert "\n" not in msg and "; expected " in msg
    for part in expected_parts:
        assert part in msg
    assert info.value.file == str(path) and info.value.line == 4
    assert isinstance(info.value, ValueError)


def test_other_rttm_types_are_skipped_and_counted(tmp_path):
    """NIST RTTM (RT-09 plan) files carry SPKR-INFO headers and LEXEME / NON-SPEECH lines:
    valid, skipped, counted per type; the SPEAKER turns are read as without them."""
    other = (
        "SPKR-INFO rec 1 <NA> <NA> <NA> unknown spk <NA> <NA>\n"
        "LEXEME rec 1 0.5 0.2 hello lex spk <NA> <NA>\n"
        "LEXEME rec 1 0.7 0.2 world lex spk <NA> <NA>\n"
        "NON-SPEECH rec 1 3.0 0.5 <NA> noise <NA> <NA> <NA>\n"
    )
    plain = _write(tmp_path / "plain.rttm", f"{GOOD}\n")
    nist = _write(tmp_path / "nist.rttm", other + f"{GOOD}\n")
    (want, _), (got, report) = read_rttm(plain), read_rttm(nist)
    assert got == want
    assert report.other_types == {"SPKR-INFO": 1, "LEXEME": 2, "NON-SPEECH": 1} and report.lines == 1
    assert "4 line(s) of other RTTM types (2 LEXEME, 1 NON-SPEECH, 1 SPKR-INFO)" in report.summary()


def test_empty_uem_file_is_an_error_and_uems_join(tmp_path):
    from recipes.rttm import read_uems

    empty = _write(tmp_path / "empty.uem", ";; nothing scored\n\n")
    with pytest.raises(ValueError, match="has no interval"):
        read_uem(empty)
    a = _write(tmp_path / "a.uem", "r1 1 0 5\nr1 1 4 8\n")
    b = _write(tmp_path / "b.uem", "r0 1 1 2\n")
    assert read_uems([a, b]) == {"r0": [(1.0, 2.0)], "r1": [(0.0, 8.0)]}
    c = _write(tmp_path / "c.uem", "r1 1 9 10\n")
    with pytest.raises(ValueError, match=r"'r1' is in two UEM files: .*a.uem and .*c.uem"):
        read_uems([a, b, c])


def test_invalid_utf8_is_annotation_error(tmp_path):
    path = tmp_path / "bin.rttm"
    path.write_bytes(f"{GOOD}\n".encode() + b"SPEAKER r\xff 1 0 1 <NA> <NA> s <NA> <NA>\n")
    with pytest.raises(AnnotationError, match=rf"^{path}:2: .*UTF-8"):
        read_rttm(path)


def test_missing_paths(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_rttm(tmp_path / "nope.rttm")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no \\*.rttm"):
        read_rttm(tmp_path / "empty")


# ---------------------------------------------------------------------------
# directories
# ---------------------------------------------------------------------------


def test_directory_input(tmp_path, caplog):
    _write(tmp_path / "b" / "deep" / "y.rttm", "SPEAKER y 1 2.0 1.0 <NA> <NA> s2 <NA> <NA>\n")
    _write(tmp_path / "a" / "x.rttm", "SPEAKER x 1 5.0 1.0 <NA> <NA> s1 <NA> <NA>\n# c\n")
    _write(tmp_path / "a" / "notes.txt", "not an rttm\n")
    extra = _write(tmp_path / "other" / "x_extra", "SPEAKER x 1 0.5 1.0 <NA> <NA> s1 <NA> <NA>\n")

    turns, report = read_rttm(tmp_path)
    assert turns == [Turn("x", 5.0, 6.0, "s1"), Turn("y", 2.0, 3.0, "s2")]
    assert (report.files, report.lines, report.skipped_lines) == (2, 2, 1)

    # an iterable mixing a directory and a file with no .rttm extension (like CHiME-6 'dev_rttm')
    with caplog.at_level(logging.WARNING, logger="recipes.rttm"):
        turns, report = read_rttm([str(tmp_path / "a"), extra])
    assert turns == [Turn("x", 0.5, 1.5, "s1"), Turn("x", 5.0, 6.0, "s1")]
    assert report.files == 2
    assert "more than one RTTM file" in caplog.text  # recording x comes from two files


def test_group_by_recording():
    turns = [Turn("b", 1, 2, "s"), Turn("a", 3, 4, "s"), Turn("b", 0, 1, "t"), Turn("-c", 0, 1, "s")]
    groups = group_by_recording(turns)
    assert list(groups) == ["-c", "a", "b"]
    assert groups["b"] == [Turn("b", 0, 1, "t"), Turn("b", 1, 2, "s")]


# ---------------------------------------------------------------------------
# clipping
# ---------------------------------------------------------------------------


def test_clip_to_durations():
    turns = [
        Turn("r1", 1.0, 3.0, "A"),
        Turn("r1", 8.0, 12.0, "A"),  # clipped to 10
        Turn("r1", 10.0, 11.0, "B"),  # starts at the end -> removed
        Turn("r1", 12.0, 13.0, "B"),  # past the end -> removed
        Turn("r1", -1.0, 0.5, "C"),  # negative start -> clipped to 0
        Turn("r2", 5.0, 100.0, "A"),  # no duration known -> untouched
    ]
    out, messages = clip_to_durations(turns, {"r1": 10.0, "unused": 1.0})
    assert out == [
        Turn("r1", 0.0, 0.5, "C"),
        Turn("r1", 1.0, 3.0, "A"),
        Turn("r1", 8.0, 10.0, "A"),
        Turn("r2", 5.0, 100.0, "A"),
    ]
    assert messages == [
        "r1 spk C turn -1.000-0.500 s clipped to start at 0.000 s",
        "r1 spk A turn 8.000-12.000 s clipped to 10.000 s (recording end)",
        "r1 spk B turn 10.000-11.000 s removed: starts at or after the recording end 10.000 s",
        "r1 spk B turn 12.000-13.000 s removed: starts at or after the recording end 10.000 s",
    ]


def test_clip_to_uem_splits_turns():
    uem = {"r1": [(3.0, 5.0), (0.0, 2.0), (7.0, 10.0)]}  # unsorted on purpose
    turns = [
        Turn("r1", 1.0, 8.0, "A", "0"),  # spans two gaps -> 3 pieces
        Turn("r1", 2.0, 3.0, "B"),  # exactly the gap -> removed
        Turn("r1", 9.5, 12.0, "B"),  # trimmed at the end
        Turn("r1", 3.5, 4.0, "C"),  # inside -> unchanged
        Turn("r2", 0.0, 50.0, "A"),  # no UEM -> kept
    ]
    assert clip_to_uem(turns, uem) == [
        Turn("r1", 1.0, 2.0, "A", "0"),
        Turn("r1", 3.0, 5.0, "A", "0"),
        Turn("r1", 3.5, 4.0, "C"),
        Turn("r1", 7.0, 8.0, "A", "0"),
        Turn("r1", 9.5, 10.0, "B"),
        Turn("r2", 0.0, 50.0, "A"),
    ]
    assert clip_to_uem(turns, {"r1": []}) == [Turn("r2", 0.0, 50.0, "A")]


# ---------------------------------------------------------------------------
# writing / round trip
# ---------------------------------------------------------------------------


def _assert_same_to_1ms(a, b):
    """Compare turn lists stream by stream (rounding may reorder turns of different speakers)."""

    def streams(turns):
        out = defaultdict(list)
        for t in turns:
            out[(t.recording_id, t.speaker, t.channel)].append(t)
        return out

    sa, sb = streams(a), streams(b)
    assert sa.keys() == sb.keys()
    for key in sa:
        assert len(sa[key]) == len(sb[key]), key
        for x, y in zip(sa[key], sb[key]):
            assert abs(x.start - y.start) <= MS and abs(x.end - y.end) <= MS, (x, y)


def test_write_format_and_round_trip(tmp_path):
    turns, _ = read_rttm(_write(tmp_path / "hand.rttm", HAND))
    buf = io.StringIO()
    write_rttm(reversed(turns), buf)  # input order does not matter
    lines = buf.getvalue().splitlines()
    assert lines[0] == "SPEAKER -rec_A 0 0.100 1.150 <NA> <NA> h <NA> <NA>"
    assert lines[-1] == "SPEAKER rec.B 1 12.123 0.100 <NA> <NA> spkB <NA> <NA>"
    assert len(lines) == len(turns)

    out = tmp_path / "new" / "dir" / "out.rttm"  # parent dirs are created
    write_rttm(turns, out)
    assert out.read_text() == buf.getvalue()
    again, report = read_rttm(out)
    assert report.merged_self_overlaps == 0 and report.zero_duration == []
    _assert_same_to_1ms(turns, again)


def test_write_rejects_unwritable_turns():
    with pytest.raises(ValueError):
        write_rttm([Turn("has space", 0.0, 1.0, "s")], io.StringIO())
    with pytest.raises(ValueError):
        write_rttm([Turn("r", 0.0, 1.0, "<NA>")], io.StringIO())
    with pytest.raises(ValueError):
        write_rttm([Turn("r", -2.0, 1.0, "s")], io.StringIO())


# ---------------------------------------------------------------------------
# UEM
# ---------------------------------------------------------------------------


def test_uem_read_write(tmp_path):
    path = _write(
        tmp_path / "all.uem",
        ";; scoring regions\n"
        "DH_0002 1 0.000 600.5\n"
        "DH_0001 1 300.25 601.408\n"
        "\n"
        "DH_0001 1 0.000 120.0\n"
        "DH_0001 1 100.0 150.5\n"  # overlaps the previous interval -> joined
        "DH_0001 1 150.5 200\n"  # touches -> joined
        "S02_U06 1 75 12000\n",
    )
    uem = read_uem(path)
    assert uem == {
        "DH_0001": [(0.0, 200.0), (300.25, 601.408)],
        "DH_0002": [(0.0, 600.5)],
        "S02_U06": [(75.0, 12000.0)],
    }
    assert list(uem) == sorted(uem)
    buf = io.StringIO()
    write_uem(uem, buf)
    assert buf.getvalue() == (
        "DH_0001 1 0.000 200.000\nDH_0001 1 300.250 601.408\nDH_0002 1 0.000 600.500\nS02_U06 1 75.000 12000.000\n"
    )
    out = tmp_path / "x" / "y.uem"
    write_uem(uem, out, channel="A")
    assert out.read_text().splitlines()[0] == "DH_0001 A 0.000 200.000"
    assert read_uem(out) == uem


@pytest.mark.parametrize(
    "bad, expected_parts",
    [
        ("rec 0.0 10.0", ["3 fields", "expected 4 whitespace-separated fields"]),
        ("rec 1 0.0 10.0 extra", ["5 fields", "expected 4"]),
        ("rec 1 0.0 ten", ["end (field 4) 'ten' is not a number", "expected a decimal number"]),
        ("rec 1 -5 10", ["negative start -5", "expected start >= 0"]),
        ("rec 1 10 10", ["end 10 is not after start 10", "expected end > start"]),
    ],
)
def test_uem_errors(tmp_path, bad, expected_parts):
    path = _write(tmp_path / "bad.uem", f"ok 1 0 1\n;; c\n{bad}\n")
    with pytest.raises(AnnotationError) as info:
        read_uem(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}:3: ")
    for part in expected_parts:
        assert part in msg


# ---------------------------------------------------------------------------
# fuzz
# ---------------------------------------------------------------------------

_ID_CHARS = "abcXYZ019_.-"
_ids = st.builds(
    lambda dash, body: ("-" if dash else "") + body,
    st.booleans(),
    st.text(_ID_CHARS, min_size=1, max_size=6),
)
_speakers = st.sampled_from(["h", "h0", "h1", "0", "1", "spk00", "FEE041", "P25", "a.b"])
_channels = st.sampled_from(["0", "1", "A", "<NA>"])


@st.composite
def _seconds(draw, min_ms=0, max_seconds=30):
    """(text with 0-6 decimals, exact Fraction value), value in [min_ms / 1000, max_seconds]."""
    decimals = draw(st.integers(0, 6))
    scale = 10**decimals
    units = draw(st.integers(-(-min_ms * scale // 1000), max_seconds * scale))
    value = Fraction(units, scale)
    text = f"{units // scale}" + (f".{units % scale:0{decimals}d}" if decimals else "")
    if decimals == 0 and draw(st.booleans()):
        text += "."  # '3.' is a valid number too
    return text, value


@st.composite
def _rttm_document(draw):
    """Random turns as RTTM text with noise; returns (text, turns, comment count, zero-duration line numbers)."""
    recordings = draw(st.lists(_ids, min_size=1, max_size=3, unique=True))
    n = draw(st.integers(1, 25))
    turns = []
    for _ in range(n):
        rec = draw(st.sampled_from(recordings))
        spk = draw(st.sampled_from(["a", "b"]) if draw(st.booleans()) else _speakers)
        start = draw(_seconds())
        dur = draw(st.one_of(st.just(("0.000", Fraction(0))), _seconds(max_seconds=5)))
        turns.append((rec, draw(_channels), start, dur, spk))
    lines, skipped, zero_lines = [], 0, []
    for rec, chan, (s_txt, _), (d_txt, d_val), spk in turns:
        while draw(st.integers(0, 4)) == 4:  # shrinks towards no noise
            lines.append(draw(st.sampled_from(["", "   ", "\t", ";; note", "# x y z", "  ;;SPEAKER x"])))
            skipped += 1
        fields = ["SPEAKER", rec, chan, s_txt, d_txt, "<NA>", "<NA>", spk, draw(st.sampled_from(["<NA>", "0.9"]))]
        if draw(st.booleans()):
            fields.append("<NA>")
        seps = [draw(st.sampled_from([" ", "  ", "\t", " \t "])) for _ in fields]
        line = draw(st.sampled_from(["", " ", "\t"])) + "".join(f + s for f, s in zip(fields, seps)).rstrip()
        lines.append(line)
        if d_val == 0:
            zero_lines.append(len(lines))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(lines) + newline, turns, skipped, zero_lines


def _coverage(intervals):
    """Union of [start, end) intervals by an exact sweep over +1/-1 events (touching intervals join)."""
    events = defaultdict(int)
    for s, e in intervals:
        if e > s:
            events[s] += 1
            events[e] -= 1
    out, depth, open_at = [], 0, None
    for x in sorted(events):
        before, depth = depth, depth + events[x]
        if before == 0 and depth > 0:
            open_at = x
        elif before > 0 and depth == 0:
            out.append((open_at, x))
    return out


def _join_touching(turns):
    out = []
    for t in turns:
        if out and t.start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], t.end))
        else:
            out.append((t.start, t.end))
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_rttm_document())
def test_fuzz_parse_matches_exact_union(doc):
    text, turns, skipped, zero_lines = doc
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.rttm"
        path.write_bytes(text.encode("utf-8"))
        got, report = read_rttm(path)

    assert report.files == 1 and report.lines == len(turns)
    assert report.skipped_lines == skipped
    assert report.zero_duration == [f"{path}:{n}" for n in zero_lines]
    assert got == sorted(got)

    expected = defaultdict(list)
    for rec, _chan, (_, s), (_, dur), spk in turns:
        expected[(rec, spk)].append((s, s + dur))
    got_streams = defaultdict(list)
    for t in got:
        got_streams[(t.recording_id, t.speaker)].append(t)
    assert set(got_streams) == {k for k, v in expected.items() if any(e > s for s, e in v)}
    for key, stream in got_streams.items():
        # no two returned turns of one speaker strictly overlap
        assert all(a.end <= b.start for a, b in zip(stream, stream[1:]))
        want = [(float(s), float(e)) for s, e in _coverage(expected[key])]
        assert _join_touching(stream) == want  # exact: both are correctly rounded decimals
    nonzero = len(turns) - len(zero_lines)
    assert report.merged_self_overlaps == nonzero - len(got)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(_ids, _speakers, _channels, _seconds(), _seconds(min_ms=2, max_seconds=5)),
        min_size=1,
        max_size=20,
    )
)
def test_fuzz_round_trip_to_1ms(rows):
    turns = [Turn(rec, float(s), float(s + d), spk, ch) for rec, spk, ch, (_, s), (_, d) in rows]
    merged, _ = merge_self_overlaps(turns)
    buf = io.StringIO()
    write_rttm(merged, buf)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "rt.rttm"
        path.write_text(buf.getvalue())
        again, report = read_rttm(path)
    assert report.merged_self_overlaps == 0 and report.zero_duration == []
    _assert_same_to_1ms(merged, again)


_TOKENS = st.one_of(
    st.sampled_from(
        [
            "SPEAKER",
            "SPKR-INFO",
            "<NA>",
            "1",
            "0",
            "-1",
            "1e999",
            "-0",
            "nan",
            "inf",
            "1_0",
            "\u0663",
            "0x1",
            ".5",
            "5.",
            "1e-400",
            ";;",
            "#",
            "",
            "1e9999999999",
        ]
    ),
    st.text(max_size=6).filter(lambda s: "\n" not in s),
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.lists(_TOKENS, max_size=12).map(" ".join),
        st.lists(_TOKENS, min_size=8, max_size=10).map(lambda f: " ".join(["SPEAKER", *f])),
        st.text(max_size=60).filter(lambda s: "\n" not in s),
        st.binary(max_size=60).filter(lambda b: b"\n" not in b),
    )
)
def test_fuzz_garbage_raises_only_annotation_error(garbage):
    data = garbage if isinstance(garbage, bytes) else garbage.encode("utf-8", "surrogatepass")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "g.rttm"
        path.write_bytes(f"{GOOD}\n".encode() + data + b"\n")
        try:
            turns, report = read_rttm(path)
        except AnnotationError as e:
            assert str(e).startswith(f"{path}:2: ") and "; expected " in str(e)
        else:  # the line happened to be valid, blank or a comment
            assert report.lines + report.skipped_lines + sum(report.other_types.values()) == 2
            assert all(t.end > t.start >= 0 for t in turns)


# ---------------------------------------------------------------------------
# real annotation files (../shared/realdata)
# ---------------------------------------------------------------------------


@pytest.mark.realdata
def test_realdata_voxconverse(realdata):
    dev, report = read_rttm(realdata / "voxconverse" / "dev")
    assert report.files == 216 and report.lines == 8268
    assert len(group_by_recording(dev)) == 216
    assert report.merged_self_overlaps == 0 and report.zero_duration == []
    assert {t.channel for t in dev} == {"1"}

    test, report = read_rttm(realdata / "voxconverse" / "test")
    assert report.files == 232 and len(group_by_recording(test)) == 232
    assert report.merged_self_overlaps == 2

    raw, raw_report = read_rttm(realdata / "voxconverse" / "test", merge_self_overlaps=False)
    assert len(raw) == raw_report.lines == report.lines == len(test) + 2
    merged_in = {}
    for rec, turns in group_by_recording(raw).items():
        _, n = merge_self_overlaps(turns)
        if n:
            merged_in[rec] = n
    assert merged_in == {"utial": 1, "optsn": 1}
    by_rec = group_by_recording(test)
    utial = [(t.start, t.end) for t in by_rec["utial"] if t.speaker == "spk00"]
    assert (247.58, 276.54) in utial and not any(s == 250.67 for s, _ in utial)
    optsn = [(t.start, t.end) for t in by_rec["optsn"] if t.speaker == "spk01"]
    assert (845.61, 847.19) in optsn


@pytest.mark.realdata
def test_realdata_voxconverse_round_trip(realdata, tmp_path):
    turns, _ = read_rttm(realdata / "voxconverse" / "test")
    write_rttm(turns, tmp_path / "vox.rttm")
    again, report = read_rttm(tmp_path / "vox.rttm")
    assert report.merged_self_overlaps == 0
    _assert_same_to_1ms(turns, again)


@pytest.mark.realdata
def test_realdata_msdwild(realdata):
    per_file, report = read_rttm(realdata / "msdwild" / "rttm_per_file")
    stems = {p.stem for p in (realdata / "msdwild" / "rttm_per_file").glob("*.rttm")}
    assert report.files == 3143 and len(stems) == 3143
    groups = group_by_recording(per_file)
    assert set(groups) == stems  # the recording id is the file stem
    assert {t.channel for t in per_file} == {"0"}
    assert "h" in {t.speaker for t in groups["01935"]}
    assert report.merged_self_overlaps == 0 and report.zero_duration == []

    for name, n_rec in (("few.val", 490), ("many.val", 177)):
        split, _ = read_rttm(realdata / "msdwild" / "rttms" / f"{name}.rttm")
        split_groups = group_by_recording(split)
        assert len(split_groups) == n_rec
        for rec, turns in split_groups.items():
            assert turns == groups[rec]


@pytest.mark.realdata
@pytest.mark.parametrize("flavour", ["only_words", "word_and_vocalsounds"])
def test_realdata_ami(realdata, flavour):
    root = realdata / "ami" / flavour / "rttms"
    for split, n in (("train", 136), ("dev", 18), ("test", 16)):
        turns, report = read_rttm(root / split)
        assert report.files == n and len(group_by_recording(turns)) == n
        meetings = (realdata / "ami" / "lists" / f"{split}.meetings.txt").read_text().split()
        assert set(group_by_recording(turns)) == set(meetings)
        assert report.merged_self_overlaps == 0 and report.zero_duration == []
        concatenated = root / f"{split}.rttm"
        assert concatenated.exists() == (flavour == "only_words")  # README layout
        if concatenated.exists():
            assert read_rttm(concatenated)[0] == turns

    # TS3007c has turns past the UEM end (2420.0 s)
    turns, _ = read_rttm(root / "train" / "TS3007c.rttm")
    uem = read_uem(realdata / "ami" / "uems" / "train" / "TS3007c.uem")
    assert uem == {"TS3007c": [(0.0, 2420.0)]}
    clipped, messages = clip_to_durations(turns, {"TS3007c": 2420.0})
    assert len(messages) == 4
    assert all(m.startswith("TS3007c spk MTD02") for m in messages)
    assert max(t.end for t in clipped) == 2420.0
    assert clip_to_uem(turns, uem) == clipped


@pytest.mark.realdata
def test_realdata_ami_uems(realdata):
    uem_files = sorted((realdata / "ami" / "uems").rglob("*.uem"))
    assert len(uem_files) == 170
    total = 0.0
    for path in uem_files:
        uem = read_uem(path)
        assert list(uem) == [path.stem]
        [(start, end)] = uem[path.stem]
        assert start == 0.0
        total += end
    assert abs(total / 3600 - (80.67 + 9.67 + 9.06)) < 0.02  # STATS.md hours per split


@pytest.mark.realdata
def test_realdata_chime6(realdata):
    for name, n_turns, recs in (
        ("dev_rttm", 11016, {"S02_U06.ENH", "S09_U06.ENH"}),
        ("eval_rttm", 11938, {"S01_U06.ENH", "S21_U06.ENH"}),
    ):
        turns, report = read_rttm(realdata / "chime6" / name)
        assert report.lines == n_turns == len(turns)
        assert set(group_by_recording(turns)) == recs
    uem = read_uem(realdata / "chime6" / "uem_file")
    assert len(uem) == 20
    assert uem["S02_U06"] == [(75.0, 12000.0)] and uem["S01_U01"] == [(0.0, 12000.0)]


@pytest.mark.realdata
def test_realdata_dihard3(realdata):
    hyps, report = read_rttm(realdata / "dihard3" / "baseline_hyp_samples")
    assert report.files == 4
    assert set(group_by_recording(hyps)) == {"DH_DEV_0001", "DH_DEV_0002", "DH_DEV_0022", "DH_EVAL_0001"}
    uem = read_uem(realdata / "dihard3" / "dihard2_dev_all.uem")
    assert len(uem) == 192
    assert max(len(v) for v in uem.values()) > 1  # PII gaps
    assert sum(len(v) for v in uem.values()) == 344  # one interval per line, none overlapping
    hours = sum(e - s for v in uem.values() for s, e in v) / 3600
    assert abs(hours - 23.79) < 0.005
