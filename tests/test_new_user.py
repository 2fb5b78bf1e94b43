"""Issue 16: no dead ends for a new user. Each test first reproduces what a new user met
(on a stand-in of pyannote.audio's own test database, tests/fixtures/pyannote_testdb.py),
then checks the fixed behaviour against expectations computed here."""

import json
import os
import unicodedata

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner
from lhotse import CutSet

from recipes.cli import cli
from recipes.corpora import CORPORA
from tests.fixtures.pyannote_testdb import DURATION, SPLITS, build_pyannote_testdb, reference_uem


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def db(tmp_path):
    return build_pyannote_testdb(tmp_path / "data")


def prepare(db, out, *extra, rttm=None, splits=True):
    args = ["prepare", "rttm", db, rttm or db, out, "--name", "dbg"]
    if splits:
        for s in SPLITS:
            args += ["--split", f"{s}={db / f'debug.{s}.lst'}"]
    return run(*args, *extra)


def uem_args(db):
    return [x for s in SPLITS for x in ("--uem", db / f"debug.{s}.uem")]


def fix_list(db):
    """The release's train list says 'trñ00' for 'trn00'."""
    p = db / "debug.train.lst"
    p.write_text(p.read_text(encoding="utf-8").replace("tr\u00f1", "trn"), encoding="utf-8")


# ---------------------------------------------------------------------------
# A. repeated --uem


def test_list_typo_is_named_with_the_close_id(db, tmp_path):
    res = prepare(db, tmp_path / "out", *uem_args(db))
    assert res.exit_code == 1
    assert "tr\u00f100 (did you mean trn00?)" in res.stderr and "debug.train.lst" in res.stderr


def test_repeated_uem_is_their_union_and_notes_reach_the_console(db, tmp_path, caplog):
    fix_list(db)
    # one recording (tst00) left out of every UEM: it is scored whole, and the console says so
    test_uem = db / "debug.test.uem"
    test_uem.write_text("")
    res = prepare(db, tmp_path / "out", *uem_args(db))
    assert res.exit_code == 1 and "debug.test.uem: the UEM file has no interval" in res.stderr  # empty = error
    test_uem.write_text(";; tst00 left out\n")
    res = prepare(db, tmp_path / "out", "--uem", db / "debug.train.uem", "--uem", db / "debug.development.uem")
    assert res.exit_code == 0, res.output
    console = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]  # logging goes to stderr
    assert any("1 recording(s): not in the UEM; the whole recording is scored" in m and "tst00" in m for m in console)
    expected = reference_uem(db)
    for split, uris in SPLITS.items():
        for cut in CutSet.from_file(tmp_path / "out" / f"dbg_cuts_{split}.jsonl.gz"):
            if cut.id == "tst00":
                assert cut.custom["uem"] == [[0.0, pytest.approx(DURATION)]]
            else:  # every split's UEM is kept, not only the last --uem's
                assert cut.custom["uem"] == [list(expected[cut.id])]


def test_a_recording_in_two_uems_is_an_error(db, tmp_path):
    fix_list(db)
    (db / "other.uem").write_text("dev00 NA 1.0 2.0\n")
    res = prepare(db, tmp_path / "out", "--uem", db / "debug.development.uem", "--uem", db / "other.uem")
    assert res.exit_code == 1 and "'dev00' is in two UEM files" in res.stderr
    assert not list((tmp_path / "out").glob("*.jsonl.gz"))


# ---------------------------------------------------------------------------
# B. all or nothing, files named, --skip-bad


def test_a_5_sample_file_names_the_file_writes_nothing_but_the_report(db, tmp_path):
    fix_list(db)
    soundfile.write(db / "trn02.wav", np.full(5, 0.1, dtype=np.float32), 16000)  # 0.3 ms of audio
    (db / "trn03.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEgarbage")  # unreadable
    out = tmp_path / "out"
    res = prepare(db, out)
    assert res.exit_code == 1
    err = [x for x in res.stderr.splitlines() if "Reading audio headers" not in x and x.strip()]  # no tqdm bar
    assert len(err) == 1 and "2 of 7 audio file(s) cannot be used" in err[0], res.stderr
    assert f"{db / 'trn02.wav'} is 5 samples (0.31 ms)" in err[0] and str(db / "trn03.wav") in err[0]
    assert "--skip-bad" in err[0] and "No 'data' chunk" in err[0] and "Lhotse" not in err[0]
    assert "Exception #" not in err[0] and len(err[0]) < 600
    assert sorted(p.name for p in out.iterdir()) == ["dbg_prepare_report.txt"]  # nothing that looks finished
    report = (out / "dbg_prepare_report.txt").read_text()
    assert report.startswith("# FAILED, no manifest written:")

    res = prepare(db, out, "--skip-bad")
    assert res.exit_code == 0, res.output
    rejects = [json.loads(x) for x in (out / "dbg_prepare_rejects.jsonl").read_text().splitlines()]
    assert [(r["recording_id"], r["audio"]) for r in rejects] == [
        ("trn02", str(db / "trn02.wav")),
        ("trn03", str(db / "trn03.wav")),
    ]
    train = CutSet.from_file(out / "dbg_cuts_train.jsonl.gz")
    assert sorted(train.ids) == ["trn00", "trn01"]
    assert "audio files left out (cannot be used): 2" in (out / "dbg_prepare_report.txt").read_text()


def test_write_failure_midway_leaves_no_manifest(db, tmp_path, monkeypatch):
    """Prepare writes all or nothing: a failure while writing the 5th file removes the 4 before."""
    fix_list(db)
    from lhotse import CutSet as CS

    calls = {"n": 0}
    original = CS.to_file

    def failing(self, path):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("simulated write error")
        return original(self, path)

    monkeypatch.setattr(CS, "to_file", failing)
    out = tmp_path / "out"
    res = prepare(db, out)
    assert res.exit_code == 1 and "simulated write error" in res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["dbg_prepare_report.txt"]


# ---------------------------------------------------------------------------
# 3. a listed recording without turns


def test_listed_recording_without_turns_needs_allow_empty(db, tmp_path):
    fix_list(db)
    (db / "debug.test.lst").write_text("tst00\nempty\n")  # empty.wav: no samples, no turn
    soundfile.write(db / "empty.wav", np.zeros(int(3.0 * 16000), dtype=np.float32), 16000)  # now 3 s, no turn
    out = tmp_path / "out"
    res = prepare(db, out)
    assert res.exit_code == 1 and "have audio but no speaker turn" in res.stderr and "--allow-empty" in res.stderr
    assert (out / "dbg_prepare_report.txt").is_file()  # the report is written in every case
    (db / "extra.uem").write_text("empty NA 0.5 2.5\n")
    res = prepare(db, out, "--allow-empty", *uem_args(db), "--uem", db / "extra.uem")
    assert res.exit_code == 0, res.output
    (cut,) = [c for c in CutSet.from_file(out / "dbg_cuts_test.jsonl.gz") if c.id == "empty"]
    assert cut.supervisions == [] and cut.custom["uem"] == [[0.5, 2.5]]
    assert "1 recording(s) with no speech (--allow-empty): empty" in (out / "dbg_prepare_report.txt").read_text()


def test_empty_wav_is_rejected_by_name(db, tmp_path):
    fix_list(db)
    (db / "debug.test.lst").write_text("tst00\nempty\n")
    res = prepare(db, tmp_path / "out", "--allow-empty")
    assert res.exit_code == 1 and f"{db / 'empty.wav'} is 0 samples" in res.stderr


# ---------------------------------------------------------------------------
# 9. audio discovery; 11. RTTM strictness and wording


def test_discovery_follows_links_reads_opus_reports_dangling_and_nfd(tmp_path, caplog):
    root = build_pyannote_testdb(tmp_path / "data")
    audio = tmp_path / "audio"
    (audio / "real").mkdir(parents=True)
    rec = root / "trn01.wav"
    data, sr = soundfile.read(rec, dtype="float32")
    os.rename(rec, audio / "real" / "trn01.wav")
    os.symlink(audio / "real", audio / "linked_dir")  # a symlinked subdirectory
    os.rename(audio / "real", tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", audio / "real")
    soundfile.write(audio / "trn02.opus", data, sr, format="OGG", subtype="OPUS")
    os.symlink(tmp_path / "missing.wav", audio / "trn03.wav")  # dangling
    nfd = unicodedata.normalize("NFD", "caf\u00e9")
    soundfile.write(audio / f"{unicodedata.normalize('NFC', nfd)}.wav", data, sr)  # file name NFC
    rttm = tmp_path / "x.rttm"
    rttm.write_text(
        "".join(f"SPEAKER {u} 1 1.0 2.0 <NA> <NA> A <NA> <NA>\n" for u in ("trn01", "trn02", "trn03", nfd)),
        encoding="utf-8",
    )  # RTTM id NFD
    out = tmp_path / "out"
    res = run("prepare", "rttm", audio, rttm, out, "--name", "d")
    assert res.exit_code == 0, res.output
    cuts = CutSet.from_file(out / "d_cuts.jsonl.gz")
    assert sorted(cuts.ids) == sorted(["trn01", "trn02", nfd])
    assert "dangling symbolic link" in caplog.text
    report = (out / "d_prepare_report.txt").read_text(encoding="utf-8")
    assert f"dangling symbolic links (target missing): 1\n{audio / 'trn03.wav'}" in report
    assert "different Unicode normalisation" in report


def test_spkr_info_lines_are_skipped_and_an_empty_rttm_says_so(db, tmp_path):
    fix_list(db)
    p = db / "debug.train.rttm"
    p.write_text("SPKR-INFO trn00 1 <NA> <NA> <NA> unknown spk_alice <NA> <NA>\n" + p.read_text())
    assert prepare(db, tmp_path / "o").exit_code == 0
    assert "1 line(s) of other RTTM types (1 SPKR-INFO)" in (tmp_path / "o" / "dbg_prepare_report.txt").read_text()
    (tmp_path / "empty.rttm").write_text("")
    res = prepare(db, tmp_path / "o2", rttm=tmp_path / "empty.rttm", splits=False)
    assert res.exit_code == 1 and "no SPEAKER line" in res.stderr and "no RTTM file id matches" not in res.stderr


# ---------------------------------------------------------------------------
# 1, 2: manifests used from another directory; one short error line.
# 4, 5: exports; 10: unsafe outputs. On features and labels of the stand-in database.


@pytest.fixture(scope="module")
def featured(tmp_path_factory):
    """The stand-in database prepared with recipe-relative paths (``--relative-paths`` run
    from its parent directory, as a run.sh does), with fbank and binary labels."""
    base = tmp_path_factory.mktemp("featured")
    db = build_pyannote_testdb(base / "data")
    fix_list(db)
    cwd = os.getcwd()
    os.chdir(base)
    try:
        args = ["prepare", "rttm", "data", "data", "man", "--name", "dbg", "--relative-paths"]
        for s in ("train", "development"):
            args += ["--split", f"{s}=data/debug.{s}.lst", "--uem", f"data/debug.{s}.uem"]
        assert run(*args).exit_code == 0
        for s in ("train", "development"):
            res = run("fbank", f"man/dbg_cuts_{s}.jsonl.gz", f"cuts/dbg_cuts_{s}.jsonl.gz", "--storage-path", "fbank")
            assert res.exit_code == 0, res.output
            res = run(
                "labels",
                f"cuts/dbg_cuts_{s}.jsonl.gz",
                f"cuts/dbg_cuts_{s}_binary.jsonl.gz",
                "--storage-path",
                "labels",
            )
            assert res.exit_code == 0, res.output
    finally:
        os.chdir(cwd)
    return base


def test_relative_manifest_from_another_directory_one_line_then_root(featured, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    manifest = featured / "man" / "dbg_cuts_train.jsonl.gz"
    res = run("fbank", manifest, tmp_path / "c.jsonl.gz", "--storage-path", tmp_path / "f")
    assert res.exit_code == 1
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("Error: audio of 4 of 4 cuts not found (data/trn00.wav, data/trn01.wav, data/trn02.wav, ...")
    assert f"relative paths resolved against {elsewhere}" in line and "--root DIR" in line
    assert "Lhotse" not in line and line.count("not found") == 1
    listed = (tmp_path / "c_missing_audio.txt").read_text().splitlines()
    assert [x.split("\t") for x in listed] == [[u, f"data/{u}.wav"] for u in SPLITS["train"]]
    assert not (tmp_path / "f").exists()  # nothing done
    res = run("fbank", manifest, tmp_path / "c.jsonl.gz", "--storage-path", tmp_path / "f", "--root", featured)
    assert res.exit_code == 0, res.output
    ours = {c.id: c.load_features() for c in CutSet.from_file(tmp_path / "c.jsonl.gz")}
    monkeypatch.chdir(featured)
    theirs = {c.id: c.load_features() for c in CutSet.from_file(featured / "cuts" / "dbg_cuts_train.jsonl.gz")}
    assert ours.keys() == theirs.keys() and all(np.array_equal(ours[k], theirs[k]) for k in ours)


def test_pyannote_export_of_label_files_loads_with_no_warning(featured, tmp_path):
    import warnings

    from pyannote.database import registry

    out = tmp_path / "pyannote"
    odd = tmp_path / "whatever.jsonl.gz"  # a name outside the naming rule, given with --split
    odd.write_bytes((featured / "cuts" / "dbg_cuts_development_binary.jsonl.gz").read_bytes())
    res = run(
        "export",
        "pyannote",
        featured / "cuts" / "dbg_cuts_train_binary.jsonl.gz",
        "--split",
        f"dev={odd}",
        out,
        "--name",
        "Dbg",
        "--root",
        featured,
    )
    assert res.exit_code == 0, res.output
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry.load_database(out / "database.yml")
        protocol = registry.get_protocol("Dbg.SpeakerDiarization.default")
        uris = {subset: sorted(f["uri"] for f in getattr(protocol, subset)()) for subset in ("train", "development")}
    assert [str(w.message) for w in caught] == []
    assert uris == {"train": SPLITS["train"], "development": SPLITS["development"]}


def test_failed_pyannote_export_writes_nothing(featured, tmp_path):
    out = tmp_path / "pyannote"
    weird = tmp_path / "dbg_cuts_weird.jsonl.gz"
    weird.write_bytes((featured / "cuts" / "dbg_cuts_train.jsonl.gz").read_bytes())
    res = run(
        "export",
        "pyannote",
        featured / "cuts" / "dbg_cuts_development.jsonl.gz",
        weird,
        out,
        "--name",
        "X",
        "--root",
        featured,
    )
    assert res.exit_code == 1 and "'weird' has no pyannote subset" in res.stderr
    assert not out.exists() or not any(out.iterdir())


def test_kaldi_export_without_sox_then_wav_files_read_by_soundfile(featured, tmp_path, monkeypatch):
    from scipy.signal import resample_poly

    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without sox
    cuts = featured / "cuts" / "dbg_cuts_train_binary.jsonl.gz"
    res = run("export", "kaldi", cuts, tmp_path / "k", "--root", featured)
    assert res.exit_code == 1 and "sox is not on PATH" in res.stderr and "--audio wav" in res.stderr
    res = run("export", "kaldi", cuts, tmp_path / "k", "--root", featured, "--sampling-rate", "16000")
    assert res.exit_code == 1 and "features of these cuts are at 8000 Hz" in res.stderr
    res = run("export", "kaldi", cuts, tmp_path / "k", "--root", featured, "--audio", "wav")
    assert res.exit_code == 0, res.output
    scp = dict(line.split(" ", 1) for line in (tmp_path / "k" / "wav.scp").read_text().splitlines())
    reco2dur = dict(line.split() for line in (tmp_path / "k" / "reco2dur").read_text().splitlines())
    assert sorted(scp) == SPLITS["train"]
    for rec, entry in scp.items():  # the reader a trainer has: a plain soundfile.read of each entry
        assert not entry.endswith("|")
        data, sr = soundfile.read(entry)
        assert sr == 8000 and data.ndim == 1 and abs(len(data) / sr - float(reco2dur[rec])) < 1e-3
        orig, osr = soundfile.read(featured / "data" / f"{rec}.wav")
        ref = resample_poly(orig, 1, osr // 8000)  # an independent resampler
        n = min(len(ref), len(data))
        assert np.corrcoef(ref[:n], data[:n])[0, 1] > 0.99
    mtimes = {r: os.stat(e).st_mtime_ns for r, e in scp.items()}
    assert run("export", "kaldi", cuts, tmp_path / "k", "--root", featured, "--audio", "wav").exit_code == 0
    assert {r: os.stat(e).st_mtime_ns for r, e in scp.items()} == mtimes  # written once


def test_fbank_checks_output_before_work_and_locks_it(featured, tmp_path, monkeypatch):
    from recipes.fileio import output_lock

    monkeypatch.chdir(featured)
    src = "man/dbg_cuts_development.jsonl.gz"
    res = run("fbank", src, tmp_path / "out.json", "--storage-path", tmp_path / "f")
    assert res.exit_code == 1 and "expected a name ending in .jsonl.gz" in res.stderr and ".partial" not in res.stderr
    assert not (tmp_path / "f").exists()
    res = run("fbank", src, src, "--storage-path", tmp_path / "f")
    assert res.exit_code == 1 and "is the input file" in res.stderr
    out = tmp_path / "out.jsonl.gz"
    with output_lock(out):  # another run holds the output
        res = run("fbank", src, out, "--storage-path", tmp_path / "f")
    assert res.exit_code == 1 and "another command is writing" in res.stderr and not out.exists()
    assert run("fbank", src, out, "--storage-path", tmp_path / "f").exit_code == 0  # released


# ---------------------------------------------------------------------------
# 6. start-up: describe on an RTTM and the verbs' --help import neither torch nor Lhotse


@pytest.mark.parametrize(
    "argv",
    [
        ["describe", "{rttm}"],
        ["fbank", "--help"],
        ["prepare", "rttm", "--help"],
        *[["prepare", c, "--help"] for c in CORPORA],
        *[["download", c, "--help"] for c in CORPORA],
        ["export", "kaldi", "--help"],
        ["--help"],
    ],
)
def test_light_verbs_import_no_torch_or_lhotse(tmp_path, argv):
    import subprocess
    import sys
    from pathlib import Path

    rttm = tmp_path / "x.rttm"
    rttm.write_text("SPEAKER a 1 0.0 1.0 <NA> <NA> s <NA> <NA>\n")
    repo = Path(__file__).resolve().parents[1]
    res = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "recipes.cli", *[a.format(rttm=rttm) for a in argv]],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(repo)),
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    imported = {line.rsplit("|", 1)[1].strip() for line in res.stderr.splitlines() if line.startswith("import time:")}
    assert "torch" not in imported and "lhotse" not in imported
    if argv[0] == "describe":
        assert "speech" in res.stdout  # it did describe


# ---------------------------------------------------------------------------
# 8. fbank on a small corpus: work split by duration, threads pinned inline, bar in hours


def test_small_corpus_is_split_by_duration_for_several_workers(featured, tmp_path, monkeypatch):
    from recipes.features.stage import chunk_by_duration

    monkeypatch.chdir(featured)
    cuts = CutSet.from_file("man/dbg_cuts_train.jsonl.gz").to_eager()  # 4 recordings: far under 200 cuts
    items = [(c, c.duration) for c in cuts]  # (cut, duration) pairs, as compute_fbank passes them
    assert len(chunk_by_duration(items, 200, 1)) == 1
    chunks = chunk_by_duration(items, 200, 2)
    assert len(chunks) == 4 and [c.id for ch in chunks for c, _ in ch] == list(cuts.ids)  # one task per worker+
    res = run(
        "fbank",
        "man/dbg_cuts_train.jsonl.gz",
        tmp_path / "two.jsonl.gz",
        "--storage-path",
        tmp_path / "f",
        "--num-jobs",
        "2",
    )
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "f" / "two").glob("feats-*.lca"))) == 4
    assert "h audio" in res.stderr  # the bar counts hours of audio
    reference = {c.id: c.load_features() for c in CutSet.from_file("cuts/dbg_cuts_train.jsonl.gz")}  # --num-jobs 1
    for cut in CutSet.from_file(tmp_path / "two.jsonl.gz"):
        np.testing.assert_array_equal(cut.load_features(), reference[cut.id])


def test_inline_run_pins_blas_and_torch_threads_then_restores():
    import torch
    from threadpoolctl import threadpool_info

    from recipes.parallel import map_tasks

    torch.set_num_threads(2)

    def probe():
        return torch.get_num_threads(), {p["num_threads"] for p in threadpool_info()}

    ((torch_threads, blas_threads),) = list(map_tasks(probe, [()], num_jobs=1, progress=False))
    assert torch_threads == 1 and blas_threads <= {1}
    assert torch.get_num_threads() == 2
