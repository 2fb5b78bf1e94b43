"""diar score against an independent brute-force reference at 1 ms frames.

The reference below re-implements md-eval-22 (as dscore runs it) and dscore's JER
frame by frame with its own loops: frame k is [k, k+1) ms; speaker mappings are
found by trying every one-to-one assignment (no scipy). Inputs lie on the 1 ms grid,
so 1 ms frames measure them exactly.
"""

import itertools
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recipes.rttm import Turn, write_rttm, write_uem
from recipes.score import oracle_one_speaker, score, score_file, summarize

REPO = Path(__file__).resolve().parents[1]
C = 250  # 0.25 s collar in frames


# ---------------------------------------------------------------------------
# brute-force reference


def _frames(turns, n):
    """{speaker: bool[n]} at 1 ms."""
    act = {}
    for t in turns:
        a = act.setdefault(t.speaker, np.zeros(n, bool))
        a[round(t.start * 1000) : round(t.end * 1000)] = True
    return act


def _best_map(names_r, names_s, gain):
    """The one-to-one partial map ref -> sys maximising sum(gain), by trying them all."""
    best, best_map = -1.0, {}
    slots = list(names_s) + [None] * len(names_r)
    for perm in itertools.permutations(range(len(slots)), len(names_r)):
        m = {r: slots[i] for r, i in zip(names_r, perm)}
        if len({v for v in m.values() if v is not None}) != sum(v is not None for v in m.values()):
            continue
        g = sum(gain(r, s) for r, s in m.items() if s is not None)
        if g > best + 1e-12:
            best, best_map = g, m
    return best_map


def brute_file(ref, hyp, uem, collar_frames, skip_overlap):
    """(scored, missed, fa, conf) frames and the per-reference-speaker JERs (None: no ref)."""
    n = max(round(b * 1000) for _, b in uem) + 2 * C + 2
    in_uem = np.zeros(n, bool)
    for a, b in uem:
        in_uem[round(a * 1000) : round(b * 1000)] = True
    R = {k: v & in_uem for k, v in _frames(ref, n).items()}
    R = {k: v for k, v in R.items() if v.any()}
    S = {k: v & in_uem for k, v in _frames(hyp, n).items()}
    S = {k: v for k, v in S.items() if v.any()}
    nref = sum((v.astype(int) for v in R.values()), np.zeros(n, int))
    nsys = sum((v.astype(int) for v in S.values()), np.zeros(n, int))
    # DER mapping: maximise co-active frames in the UEM
    co = {(r, s): float((R[r] & S[s]).sum()) for r in R for s in S}
    dmap = _best_map(list(R), list(S), lambda r, s: co[r, s])
    scored_mask = in_uem.copy()
    if collar_frames:
        for v in R.values():  # boundaries of the UEM-clipped reference turns
            edges = np.flatnonzero(np.diff(np.concatenate([[0], v.astype(int), [0]])))
            for b in edges:
                scored_mask[max(b - collar_frames, 0) : b + collar_frames] = False
    if skip_overlap:
        scored_mask &= nref < 2
    nmap = np.zeros(n, int)
    for r, s in dmap.items():
        if s is not None:
            nmap += R[r] & S[s]
    m = scored_mask
    scored = int(nref[m].sum())
    missed = int(np.maximum(nref - nsys, 0)[m].sum())
    fa = int(np.maximum(nsys - nref, 0)[m].sum())
    conf = int((np.minimum(nref, nsys) - nmap)[m].sum())
    # JER: minimise summed (1 - IoU); unmapped reference speakers count 1
    if not R:
        return (scored, missed, fa, conf), None, bool(S)

    err = {(r, s): 1.0 - (R[r] & S[s]).sum() / (R[r] | S[s]).sum() for r in R for s in S}
    jmap = _best_map(list(R), list(S), lambda r, s: 1.0 - err[r, s])
    jers = [err[r, s] if s is not None else 1.0 for r, s in jmap.items()]
    return (scored, missed, fa, conf), jers, bool(S)


def brute(files, collar_frames, skip_overlap):
    """{uri: percent dict} and the total, pooled as md-eval / dscore pool them."""
    out, tot, all_jers, any_sys = {}, np.zeros(4), [], False
    for uri, (ref, hyp, uem) in files.items():
        parts, jers, has_sys = brute_file(ref, hyp, uem, collar_frames, skip_overlap)
        any_sys |= has_sys
        tot += parts
        out[uri] = _pcts(parts, jers, has_sys)
        all_jers += jers or []
    total = _pcts(tot, all_jers or None, any_sys)
    return out, total


def _pcts(parts, jers, has_sys):
    scored, missed, fa, conf = parts

    def p(x):
        return 100.0 * x / scored if scored else (100.0 if x else 0.0)

    jer = 100.0 * float(np.mean(jers)) if jers else (100.0 if has_sys else 0.0)
    return {
        "der": p(missed + fa + conf),
        "missed": p(missed),
        "false_alarm": p(fa),
        "confusion": p(conf),
        "jer": jer,
        "scored_seconds": scored / 1000,
    }


# ---------------------------------------------------------------------------
# random cases on the 1 ms grid


def _speaker_turns(rng, rec, spk, dur_ms, n):
    """n non-touching turns of one speaker (a same-speaker boundary is never shared)."""
    out, t = [], rng.randint(0, 3000)
    for _ in range(n):
        length = rng.randint(50, 6000)
        if t + length >= dur_ms:
            break
        out.append(Turn(rec, t / 1000, (t + length) / 1000, spk))
        t += length + rng.randint(1, 8000)
    return out


def random_case(rng, n_files=3):
    files = {}
    for f in range(n_files):
        rec = f"rec{f}"
        dur = rng.randint(20_000, 60_000)
        n_ref = rng.choice([0, 1, 2, 3, 4]) if f else rng.choice([1, 2, 3, 4])
        n_sys = rng.choice([0, 1, 2, 3, 4, 5])
        ref = [t for k in range(n_ref) for t in _speaker_turns(rng, rec, f"spk{k}", dur, rng.randint(1, 8))]
        if rng.random() < 0.5 and ref:  # a system near the reference: shifted, relabelled turns
            hyp = []
            for t in ref:
                a = max(0, round(t.start * 1000) + rng.randint(-300, 300))
                b = round(t.end * 1000) + rng.randint(-300, 300)
                if b > a and rng.random() < 0.8:
                    hyp.append(Turn(rec, a / 1000, b / 1000, f"s{rng.randrange(max(n_sys, 1))}"))
        else:
            hyp = [t for k in range(n_sys) for t in _speaker_turns(rng, rec, f"s{k}", dur, rng.randint(1, 8))]
        if rng.random() < 0.5:  # several scoring regions with gaps
            cuts = sorted(rng.sample(range(500, dur - 500), 4))
            uem = [(0.0, cuts[0] / 1000), (cuts[1] / 1000, cuts[2] / 1000), (cuts[3] / 1000, dur / 1000)]
        else:
            uem = [(rng.randint(0, 2000) / 1000, dur / 1000)]
        files[rec] = (ref, hyp, uem)
    return files


def _merge_hyp(turns):
    """System turns as the RTTM reader gives them (same-speaker overlaps merged)."""
    from recipes.rttm import merge_self_overlaps

    return merge_self_overlaps(turns)[0]


def _check(got_files, got_total, files, collar_frames, skip_overlap):
    exp_files, exp_total = brute(files, collar_frames, skip_overlap)
    assert set(got_files) == set(exp_files)
    for uri in exp_files:
        for key in ("der", "missed", "false_alarm", "confusion"):
            assert got_files[uri][key] == pytest.approx(exp_files[uri][key], abs=0.01), (uri, key)
        assert got_files[uri]["jer"] == pytest.approx(exp_files[uri]["jer"], abs=0.1), uri
        assert got_files[uri]["scored_seconds"] == pytest.approx(exp_files[uri]["scored_seconds"], abs=1e-6)
    for key in ("der", "missed", "false_alarm", "confusion"):
        assert got_total[key] == pytest.approx(exp_total[key], abs=0.01), key
    assert got_total["jer"] == pytest.approx(exp_total["jer"], abs=0.1)


@pytest.mark.parametrize("collar", [0.0, 0.25])
@pytest.mark.parametrize("skip_overlap", [False, True])
def test_random_against_brute_force(collar, skip_overlap):
    rng = random.Random(1000 + int(collar * 100) + skip_overlap)
    for _ in range(12):
        files = random_case(rng)
        files = {u: (r, _merge_hyp(h), uem) for u, (r, h, uem) in files.items()}
        ref = [t for r, _, _ in files.values() for t in r]
        hyp = [t for _, h, _ in files.values() for t in h]
        uem = {u: v[2] for u, v in files.items()}
        rep = score(ref, hyp, uem=uem, collar=collar, skip_overlap=skip_overlap).report()
        _check(rep["files"], rep["total"], files, round(collar * 1000), skip_overlap)


def _write_case(tmp_path, files, drop_sys=()):
    ref = [t for r, _, _ in files.values() for t in r]
    hyp = [t for u, (_, h, _) in files.items() if u not in drop_sys for t in h]
    write_rttm(ref, tmp_path / "ref.rttm")
    write_rttm(hyp, tmp_path / "sys.rttm")
    write_uem({u: v[2] for u, v in files.items()}, tmp_path / "all.uem")


def _diar(*args):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-m", "recipes.cli", *map(str, args)], capture_output=True, text=True, env=env
    )
    return proc


def test_cli_hand_made_cases(tmp_path):
    """Overlapping reference, more and fewer system speakers, a UEM file without reference
    speech, a missing system file, collars and skip-overlap, through `diar score` JSON."""
    T = Turn
    files = {
        # overlapping reference; 3 system speakers for 2 reference speakers; two scoring regions
        "over": (
            [T("over", 0, 10, "A"), T("over", 5, 15, "B"), T("over", 20, 30, "A")],
            [T("over", 0, 12, "x"), T("over", 12, 18, "y"), T("over", 18, 30, "z")],
            [(0.0, 16.0), (19.0, 30.0)],
        ),
        # 3 reference speakers, 1 system speaker
        "fewer": (
            [T("fewer", 1, 4, "A"), T("fewer", 4.5, 8, "B"), T("fewer", 7, 12, "C")],
            [T("fewer", 0.5, 12.5, "only")],
            [(0.0, 13.0)],
        ),
        # no reference speech: its system speech is false alarm
        "noref": ([], [T("noref", 2, 5, "x")], [(0.0, 10.0)]),
        # the system file is missing: all missed
        "nosys": ([T("nosys", 1, 3, "A"), T("nosys", 2, 6, "B")], [], [(0.0, 8.0)]),
    }
    _write_case(tmp_path, files)
    for collar in (0.0, 0.25):
        for skip in (False, True):
            args = [
                "score",
                tmp_path / "ref.rttm",
                tmp_path / "sys.rttm",
                "--uem",
                tmp_path / "all.uem",
                "--collar",
                collar,
                "--format",
                "json",
            ] + (["--skip-overlap"] if skip else [])
            proc = _diar(*args)
            assert proc.returncode == 0, proc.stderr
            rep = json.loads(proc.stdout)
            assert set(rep) >= {"files", "total"}
            for v in list(rep["files"].values()) + [rep["total"]]:
                assert set(v) == {"der", "missed", "false_alarm", "confusion", "jer", "scored_seconds"}
            assert rep["missing_sys"] == ["nosys"]
            _check(rep["files"], rep["total"], files, round(collar * 1000), skip)
            assert rep["files"]["noref"]["der"] == 100.0 and rep["files"]["noref"]["false_alarm"] == 100.0
            assert rep["files"]["nosys"]["missed"] == 100.0
    assert "no system turns" in proc.stderr  # the missing system file is reported


def test_hand_computed_file():
    """One file worked out by hand (md-eval's mapping is A->y, B->x)."""
    ref = [Turn("a", 0, 10, "A"), Turn("a", 5, 15, "B"), Turn("a", 20, 30, "A")]
    hyp = [Turn("a", 0, 12, "x"), Turn("a", 12, 30, "y")]
    fs = score_file("a", ref, hyp, [(0, 40)])
    # 0-5 A/x confusion, 5-10 A+B/x one missed, 12-15 B/y confusion, 15-20 -/y false alarm
    assert (fs.scored, fs.missed, fs.false_alarm, fs.confusion) == (30.0, 5.0, 5.0, 8.0)
    assert summarize([fs])["der"] == pytest.approx(60.0)
    # JER: A-y IoU 10/28, B-x IoU 7/15 (the assignment minimising the summed errors)
    assert summarize([fs])["jer"] == pytest.approx(100 * ((1 - 10 / 28) + (1 - 7 / 15)) / 2)


def test_empty_system_output(tmp_path):
    files = random_case(random.Random(5), n_files=2)
    _write_case(tmp_path, files, drop_sys=set(files))
    proc = _diar(
        "score", tmp_path / "ref.rttm", tmp_path / "sys.rttm", "--uem", tmp_path / "all.uem", "--format", "json"
    )
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert rep["total"]["missed"] == pytest.approx(100.0) and rep["total"]["jer"] == 100.0
    _check(rep["files"], rep["total"], {u: (r, [], uem) for u, (r, _, uem) in files.items()}, 0, False)


def test_time_rounding_as_dscore_writes_it():
    """dscore writes onset and duration with 3 decimals: 0.0004 s moves nothing, 0.0006 s moves 1 ms."""
    ref = [Turn("a", 1.0, 2.0, "A")]
    assert score_file("a", ref, [Turn("a", 1.0004, 2.0004, "x")], [(0, 3)]).error == 0.0
    assert score_file("a", ref, [Turn("a", 1.0006, 2.0006, "x")], [(0, 3)]).error == pytest.approx(0.002)


def test_bad_input_names_file_and_line(tmp_path):
    (tmp_path / "ref.rttm").write_text("SPEAKER a 1 0.0 1.0 <NA> <NA> A <NA> <NA>\n")
    (tmp_path / "sys.rttm").write_text(
        "SPEAKER a 1 0.0 1.0 <NA> <NA> A <NA> <NA>\nSPEAKER a 1 zero 1 <NA> <NA> B <NA> <NA>\n"
    )
    proc = _diar("score", tmp_path / "ref.rttm", tmp_path / "sys.rttm")
    assert proc.returncode == 1
    assert f"{tmp_path / 'sys.rttm'}:2:" in proc.stderr and "onset" in proc.stderr
    (tmp_path / "bad.uem").write_text("a 1 0.0\n")
    proc = _diar("score", tmp_path / "ref.rttm", tmp_path / "ref.rttm", "--uem", tmp_path / "bad.uem")
    assert proc.returncode == 1 and f"{tmp_path / 'bad.uem'}:1:" in proc.stderr


def test_cutset_reference_with_groups(tmp_path):
    """A CutSet as REF: its supervisions and custom uem; --group-by a custom field."""
    from lhotse import CutSet, MonoCut, Recording, SupervisionSegment
    from lhotse.audio import AudioSource

    rng = random.Random(7)
    files = random_case(rng, n_files=3)
    cuts = []
    for i, (rec, (ref, hyp, uem)) in enumerate(files.items()):
        dur = max(b for _, b in uem)
        recording = Recording(
            rec, [AudioSource("file", [0], f"/nonexistent/{rec}.wav")], 16000, round(dur * 16000), dur
        )
        sups = [
            SupervisionSegment(f"{rec}-{j}", rec, t.start, round(t.end - t.start, 3), speaker=t.speaker)
            for j, t in enumerate(ref)
        ]
        cuts.append(
            MonoCut(
                rec,
                0.0,
                dur,
                0,
                recording=recording,
                supervisions=sups,
                custom={"uem": [list(x) for x in uem], "domain": "a" if i < 2 else "b"},
            )
        )
    CutSet.from_cuts(cuts).to_file(tmp_path / "cuts.jsonl.gz")
    write_rttm([t for _, h, _ in files.values() for t in h], tmp_path / "sys.rttm")
    from click.testing import CliRunner

    from recipes.cli import cli

    runner = CliRunner()  # in-process: Lhotse is imported once
    res = runner.invoke(
        cli,
        [
            "score",
            str(tmp_path / "cuts.jsonl.gz"),
            str(tmp_path / "sys.rttm"),
            "--collar",
            "0.25",
            "--group-by",
            "domain",
            "--format",
            "json",
            "-o",
            str(tmp_path / "out.json"),
        ],
    )
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "out.json").read_text())
    files = {u: (r, _merge_hyp(h), uem) for u, (r, h, uem) in files.items()}
    _check(rep["files"], rep["total"], files, C, False)
    _, exp_a = brute({u: files[u] for u in ("rec0", "rec1")}, C, False)
    assert rep["groups"]["a"]["der"] == pytest.approx(exp_a["der"], abs=0.01)
    assert rep["groups"]["a"]["jer"] == pytest.approx(exp_a["jer"], abs=0.1)
    res = runner.invoke(
        cli, ["score", str(tmp_path / "cuts.jsonl.gz"), str(tmp_path / "sys.rttm"), "--group-by", "nope"]
    )
    assert res.exit_code == 1 and "no custom field 'nope'" in res.output


def test_oracle_baseline_against_brute_force():
    """The dataset card's oracle: all speech to the most talkative speaker, DER at collar 0 / 0.25."""
    rng = random.Random(3)
    for _ in range(20):
        ((ref, _, uem),) = random_case(rng, n_files=1).values()
        got = oracle_one_speaker(ref, uem)
        talk = {}
        for t in ref:
            for a, b in uem:
                talk[t.speaker] = talk.get(t.speaker, 0) + max(0.0, min(t.end, b) - max(t.start, a))
        top = min(talk, key=lambda k: (-talk[k], k))
        n = 70_000
        speech = np.zeros(n, bool)
        for t in ref:
            speech[round(t.start * 1000) : round(t.end * 1000)] = True
        edges = np.flatnonzero(np.diff(np.concatenate([[0], speech.astype(int), [0]])))
        hyp = [Turn("rec0", a / 1000, b / 1000, top) for a, b in zip(edges[::2], edges[1::2])]
        for collar, frames in ((0.0, 0), (0.25, C)):
            (scored, missed, fa, conf), _, _ = brute_file(ref, hyp, uem, frames, False)
            err, sc = got[collar]
            assert sc == pytest.approx(scored / 1000, abs=1e-6)
            assert 100 * err / max(sc, 1e-9) == pytest.approx(100 * (missed + fa + conf) / max(scored, 1e-9), abs=0.01)


def test_help_lists_score():
    proc = _diar("score", "--help")
    assert proc.returncode == 0 and "--skip-overlap" in proc.stdout and "--collar" in proc.stdout
