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
    assert "tr\u00f1" "00 (did you mean trn00?)" in res.stderr and "debug.train.lst" in res.stderr


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
    assert any("1 recording(s): not in the UEM; the whole recording is scored" in m and "tst00" in m
               for m in console)
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
    assert [(r["recording_id"], r["audio"]) for r in rejects] == [("trn02", str(db / "trn02.wav")),
                                                                   ("trn03", str(db / "trn03.wav"))]
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
    rttm.write_text("".join(f"SPEAKER {u} 1 1.0 2.0 <NA> <NA> A <NA> <NA>\n"
                            for u in ("trn01", "trn02", "trn03", nfd)), encoding="utf-8")  # RTTM id NFD
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
