"""Corpus statistics against an independent 1 ms grid computation, and against STATS.md."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from recipes.cli import cli
from recipes.rttm import Turn
from recipes.stats import batch_interval_stats, build_report, format_report, recording_stats, union_intervals

MS = 1000


def grid_stats(turns, duration, uem=None):
    """Speech, overlap, speaker time (seconds) on a 1 ms grid; turns on whole milliseconds."""
    n = int(round(duration * MS))
    speakers = sorted({t.speaker for t in turns})
    act = np.zeros((len(speakers), n), dtype=bool)
    for t in turns:
        act[speakers.index(t.speaker), int(round(t.start * MS)) : int(round(t.end * MS))] = True
    if uem is not None:
        keep = np.zeros(n, dtype=bool)
        for s, e in uem:
            keep[int(round(s * MS)) : int(round(e * MS))] = True
        act &= keep
        duration = keep.sum() / MS
    k = act.sum(axis=0)
    return dict(speech=(k >= 1).sum() / MS, overlap=(k >= 2).sum() / MS, speaker_time=k.sum() / MS, duration=duration)


def random_turns(rng, rec="r", duration=60.0, speakers=("a", "b", "c", "d")):
    turns = []
    for spk in speakers:
        for _ in range(rng.integers(3, 15)):
            s = rng.integers(0, int(duration * MS) - 100) / MS
            e = min(s + rng.integers(10, 8000) / MS, duration)
            turns.append(Turn(rec, s, e, spk))  # same-speaker overlaps included on purpose
    return turns


@pytest.mark.parametrize("seed", range(6))
def test_recording_stats_match_grid(seed):
    rng = np.random.default_rng(seed)
    turns = random_turns(rng)
    uem = [(1.0, 20.0), (25.5, 59.0)] if seed % 2 else None
    got = recording_stats("r", turns, duration=60.0, uem=uem)
    ref = grid_stats(turns, 60.0, uem)
    assert got.speech == pytest.approx(ref["speech"], abs=2e-3)
    assert got.overlap == pytest.approx(ref["overlap"], abs=2e-3)
    assert got.speaker_time == pytest.approx(ref["speaker_time"], abs=5e-3)
    assert got.duration == pytest.approx(ref["duration"], abs=1e-6)
    assert got.duration_source == ("uem" if uem else "audio")
    assert sum(got.time_by_speaker_count) == pytest.approx(got.duration, abs=1e-6)


def test_duration_falls_back_to_last_turn_end_and_says_so():
    got = recording_stats("r", [Turn("r", 1.0, 2.0, "a"), Turn("r", 1.5, 7.0, "b")])
    assert got.duration == 7.0 and got.duration_source == "last_turn_end"
    report = build_report([("x", [got])])
    assert "last turn end" in format_report(report, "text")
    assert "last turn end" in format_report(report, "markdown")


def test_union_intervals():
    assert union_intervals([(3, 4), (0, 1), (0.5, 2), (2, 2.5), (5, 5)]) == [(0, 2.5), (3, 4)]


def test_report_formats_state_definitions():
    rng = np.random.default_rng(0)
    r = recording_stats("r", random_turns(rng), duration=60.0)
    report = build_report([("set_a", [r]), ("set_b", [r])])
    js = json.loads(format_report(report, "json"))
    for key in (
        "recordings",
        "duration_hours",
        "speech_hours",
        "speaker_hours",
        "overlap_hours",
        "overlap_ratio",
        "overlap_ratio_of_duration",
        "missed_at_oracle_sad",
        "turns",
        "num_speakers",
        "speakers_per_recording",
    ):
        assert key in js["total"] and key in js["inputs"][0]
    assert js["total"]["recordings"] == 2
    assert js["total"]["overlap_ratio"] == pytest.approx(r.overlap / r.speech)
    text = format_report(report, "text")
    md = format_report(report, "markdown")
    for definition in ("overlap / speech", "overlap / duration", "(speaker time - speech) / speaker time"):
        assert definition in text and definition in md
    tex = format_report(report, "latex")
    assert r"\begin{tabular}" in tex and r"set\_a" in tex and "caption" in tex
    # corpus/split names become two columns; a repeated corpus is printed once
    two = build_report([("ami-sdm/dev", [r]), ("ami-sdm/test", [r]), ("vox/dev", [r])])
    rows = [line.strip() for line in format_report(two, "latex").splitlines() if line.strip().endswith(r"\\")]
    assert rows[1].startswith("ami-sdm & dev &") and rows[2].startswith("& test &")
    assert rows[3].startswith("vox & dev &") and rows[4].startswith("total &")
    md = format_report(two, "markdown").splitlines()
    assert md[0].startswith("| Corpus | Split |") and md[3].startswith("|  | test |")


def test_describe_cli_on_rttm_dir_and_cutset(tmp_path):
    from recipes.rttm import write_rttm

    rng = np.random.default_rng(1)
    turns = random_turns(rng, "rec1") + random_turns(rng, "rec2", speakers=("a", "e"))
    write_rttm([t for t in turns if t.recording_id == "rec1"], tmp_path / "rttm" / "rec1.rttm")
    write_rttm([t for t in turns if t.recording_id == "rec2"], tmp_path / "rttm" / "sub" / "rec2.rttm")
    res = CliRunner().invoke(
        cli, ["describe", str(tmp_path / "rttm"), "--format", "json", "--plot", str(tmp_path / "p.png")]
    )
    assert res.exit_code == 0, res.output
    js = json.loads(res.stdout)
    assert js["total"]["recordings"] == 2
    assert js["total"]["duration_source"] == "last_turn_end"
    assert js["total"]["num_speakers"] == 5
    assert (tmp_path / "p.png").stat().st_size > 1000
    res = CliRunner().invoke(cli, ["describe", str(tmp_path / "nope.rttm")])
    assert res.exit_code != 0


@pytest.mark.realdata
def test_voxconverse_dev_matches_stats_md(realdata):
    res = CliRunner().invoke(cli, ["describe", str(realdata / "voxconverse" / "dev"), "--format", "json"])
    assert res.exit_code == 0, res.output
    total = json.loads(res.stdout)["total"]
    assert total["recordings"] == 216
    assert total["turns"] == 8268
    assert round(100 * total["overlap_ratio"], 2) == 3.74
    assert total["speakers_per_recording"]["max"] == 20


@pytest.mark.realdata
@pytest.mark.parametrize("split,missed,meetings", [("dev", 13.45, 18), ("test", 14.55, 16)])
def test_ami_only_words_missed_at_oracle_sad(realdata, tmp_path, split, missed, meetings):
    uem = tmp_path / f"{split}.uem"
    uem.write_text("".join(p.read_text() for p in sorted((realdata / "ami" / "uems" / split).glob("*.uem"))))
    rttm = realdata / "ami" / "only_words" / "rttms" / split
    res = CliRunner().invoke(cli, ["describe", str(rttm), "--uem", str(uem), "--format", "json"])
    assert res.exit_code == 0, res.output
    total = json.loads(res.stdout)["total"]
    assert total["recordings"] == meetings
    assert total["duration_source"] == "uem"
    assert round(100 * total["missed_at_oracle_sad"], 2) == missed


def test_windows_of_one_recording_count_as_one_recording():
    a = recording_stats("rec", [Turn("rec", 0.0, 5.0, "a")], duration=10.0)
    b = recording_stats("rec", [Turn("rec", 10.0, 12.0, "b")], duration=10.0)
    c = recording_stats("other", [Turn("other", 0.0, 1.0, "a")], duration=10.0)
    total = build_report([("x", [a, b, c])])["total"]
    assert total["recordings"] == 2 and total["duration_hours"] == pytest.approx(30.0 / 3600)


# --- the per-recording sweep that recording_stats replaced (pure Python), as the reference of
# the vectorised version: the same numbers to the last bit, on awkward turns


def _union(spans):
    merged = []
    for a, b in sorted(spans):
        if not b > a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def sweep_stats(turns, duration):
    by_speaker = {}
    for t in turns:
        by_speaker.setdefault(t.speaker, []).append((t.start, t.end))
    unioned = {spk: _union(spans) for spk, spans in by_speaker.items()}
    deltas = {}
    for spans in unioned.values():
        for s, e in spans:
            deltas[s] = deltas.get(s, 0) + 1
            deltas[e] = deltas.get(e, 0) - 1
    profile, k, times = [], 0, sorted(deltas)
    for a, b in zip(times, times[1:]):
        k += deltas[a]
        if k > 0:
            profile.append((a, b, k))
    by_k = {}
    for a, b, k in profile:
        by_k[k] = by_k.get(k, 0.0) + (b - a)
    ordered = sorted((s, e, spk) for spk, spans in unioned.items() for s, e in spans)
    events = {"turn_duration": [e - s for s, e, _ in ordered], "pause_same_speaker": [], "pause_speaker_change": []}
    latest = None
    for s, e, spk in ordered:
        if latest is not None and s > latest[0]:
            events["pause_same_speaker" if latest[1] == spk else "pause_speaker_change"].append(s - latest[0])
        if latest is None or e > latest[0]:
            latest = (e, spk)
    runs, run = [], None
    for a, b, k in profile:
        if k < 2:
            continue
        if run is not None and abs(a - run[1]) < 1e-9:
            run = (run[0], b)
        else:
            if run is not None:
                runs.append(run[1] - run[0])
            run = (a, b)
    if run:
        runs.append(run[1] - run[0])
    events["overlap_segment"] = runs
    speech = sum(by_k.values())
    hist = [max(duration - speech, 0.0)] + [by_k.get(k, 0.0) for k in range(1, max(by_k, default=0) + 1)]
    return dict(
        speech=speech,
        overlap=sum(v for k, v in by_k.items() if k >= 2),
        speaker_time=sum(k * v for k, v in by_k.items()),
        time_by_speaker_count=hist,
        events=events,
        speakers=sorted(by_speaker),
        turns=len(turns),
    )


def awkward_turns(rng, n_speakers):
    """Turns on a coarse grid (touching, duplicated, nested), some off it by < 1e-9 s."""
    turns = []
    for i in range(int(rng.integers(0, 40))):
        spk = f"s{int(rng.integers(n_speakers))}"
        s = int(rng.integers(0, 60)) * 0.25
        e = s + int(rng.integers(1, 12)) * 0.25
        if rng.random() < 0.1:
            e += float(rng.choice([-4e-10, 4e-10, 1e-7]))
        turns.append(Turn("r", s, e, spk))
    if turns and rng.random() < 0.5:
        turns.append(turns[0])  # an exact duplicate
    return turns


@pytest.mark.parametrize("seed", range(8))
def test_vectorised_recording_stats_equal_the_sweep(seed):
    rng = np.random.default_rng(100 + seed)
    batch = []
    for _ in range(40):
        turns = awkward_turns(rng, int(rng.integers(1, 5)))
        got = recording_stats("r", turns, duration=20.0)
        ref = sweep_stats(turns, 20.0)
        for key, value in ref.items():
            assert getattr(got, key) == value, key  # exact: same floats, same order
        batch.append((turns, got))
    # many recordings in one vectorised call: each the same as measured alone
    rec, start, end, code, records = [], [], [], [], []
    for i, (turns, _) in enumerate(batch):
        names = sorted({t.speaker for t in turns})
        rec += [i] * len(turns)
        start += [t.start for t in turns]
        end += [t.end for t in turns]
        code += [names.index(t.speaker) for t in turns]
        records.append((f"r{i}", names, 20.0, "audio", [(0.0, 20.0)]))
    together = batch_interval_stats(
        np.array(rec, np.int64), np.array(start), np.array(end), np.array(code, np.int64), records
    )
    for (_, alone), got in zip(batch, together):
        assert dict(got.__dict__, recording_id="r") == alone.__dict__
