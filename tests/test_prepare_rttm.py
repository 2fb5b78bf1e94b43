"""The generic `diar prepare rttm` recipe and the CLI's error behaviour."""

import gzip
import json

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner
from lhotse import CutSet, RecordingSet, SupervisionSet
from lhotse.qa import validate_recordings_and_supervisions

from recipes.cli import cli


def write_audio(path, duration, sr=16000, channels=1):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(duration * sr)) / sr
    sig = 0.1 * np.sin(2 * np.pi * 220 * t)
    data = np.stack([sig] * channels, axis=1) if channels > 1 else sig
    soundfile.write(path, data, sr)


@pytest.fixture
def corpus(tmp_path):
    """Two recordings with audio + RTTM, one annotation without audio, one audio without annotation."""
    write_audio(tmp_path / "audio" / "meetA.wav", 10.0)
    write_audio(tmp_path / "audio" / "sub" / "S02_U06.ENH.flac", 8.0, channels=2)
    write_audio(tmp_path / "audio" / "orphan.wav", 3.0)
    (tmp_path / "rttm").mkdir()
    (tmp_path / "rttm" / "a.rttm").write_text(
        ";; comment\n"
        "SPEAKER meetA 1 0.50 2.00 <NA> <NA> spk2 <NA> <NA>\n"
        "SPEAKER meetA 1 2.00 3.00 <NA> <NA> spk1 <NA> <NA>\n"
        "SPEAKER meetA 1 9.00 4.00 <NA> <NA> spk1 <NA> <NA>\n"  # runs past the 10 s audio
        "SPEAKER S02_U06.ENH 1 1.0 2.0 <NA> <NA> P05 <NA> <NA>\n"
        "SPEAKER noaudio 1 1.0 2.0 <NA> <NA> X <NA> <NA>\n"
    )
    (tmp_path / "train.list").write_text("meetA\n")
    (tmp_path / "dev.list").write_text("S02_U06.ENH")  # no trailing newline, as in AVA-AVD lists
    (tmp_path / "all.uem").write_text("meetA 1 0.0 9.5\n")
    return tmp_path


def run(args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_prepare_rttm_writes_valid_manifests_and_lists_unmatched(corpus):
    out = corpus / "out"
    res = run(
        [
            "prepare",
            "rttm",
            corpus / "audio",
            corpus / "rttm",
            out,
            "--name",
            "mine",
            "--uem",
            corpus / "all.uem",
            "--split",
            f"train={corpus / 'train.list'}",
            "--split",
            f"dev={corpus / 'dev.list'}",
        ]
    )
    assert res.exit_code == 0, res.output
    for split in ("train", "dev"):
        for kind in ("recordings", "supervisions", "cuts"):
            assert (out / f"mine_{kind}_{split}.jsonl.gz").is_file()
        assert (out / f"mine_{split}.uem").is_file()
    recs = RecordingSet.from_file(out / "mine_recordings.jsonl.gz")
    sups = SupervisionSet.from_file(out / "mine_supervisions.jsonl.gz")
    validate_recordings_and_supervisions(recs, sups)
    assert sorted(r.id for r in recs) == ["S02_U06.ENH", "meetA"]
    cuts = CutSet.from_file(out / "mine_cuts_train.jsonl.gz")
    (cut,) = list(cuts)
    assert cut.id == "meetA" and cut.channel == 0
    assert [(s.speaker, s.start, s.end) for s in cut.supervisions] == [
        ("spk2", 0.5, 2.5),
        ("spk1", 2.0, 5.0),
        ("spk1", 9.0, 10.0),
    ]  # last turn clipped to 10 s
    assert cut.custom["uem"] == [[0.0, 9.5]]
    dev = list(CutSet.from_file(out / "mine_cuts_dev.jsonl.gz"))
    assert dev[0].recording.num_channels == 2 and dev[0].custom["uem"] == [[0.0, 8.0]]
    report = (out / "mine_prepare_report.txt").read_text()
    assert "annotations without audio (not in the manifests): 1\nnoaudio" in report
    assert "audio without annotations (not in the manifests): 1\norphan" in report
    assert "turns clipped to the recording duration: 1" in report
    assert "S02_U06.ENH: not in the UEM" in report


def test_supervision_ids_and_speakers_do_not_depend_on_file_order(corpus, tmp_path):
    out1, out2 = tmp_path / "o1", tmp_path / "o2"
    assert run(["prepare", "rttm", corpus / "audio", corpus / "rttm", out1, "--name", "x"]).exit_code == 0
    lines = (corpus / "rttm" / "a.rttm").read_text().splitlines()
    (corpus / "rttm" / "a.rttm").write_text("\n".join(reversed(lines)) + "\n")
    assert run(["prepare", "rttm", corpus / "audio", corpus / "rttm", out2, "--name", "x"]).exit_code == 0
    a = gzip.open(out1 / "x_supervisions.jsonl.gz").read()
    b = gzip.open(out2 / "x_supervisions.jsonl.gz").read()
    assert a == b


@pytest.mark.parametrize(
    "line,expected",
    [
        ("SPEAKER meetA 1 0.5 <NA> <NA> spk2 <NA> <NA>", "a.rttm:2"),
        ("SPEAKER meetA 1 zero 1.0 <NA> <NA> spk2 <NA> <NA>", "a.rttm:2"),
        ("SPEAKER meetA 1 1.0 -1.0 <NA> <NA> spk2 <NA> <NA>", "a.rttm:2"),
        # NIST types other than SPEAKER are skipped (issue 16), a misspelt type is still an error
        ("SPEEKER meetA 1 1.0 1.0 <NA> <NA> spk2 <NA> <NA>", "a.rttm:2"),
        ("SPKR-INFO meetA 1 <NA> <NA> <NA> unknown", "a.rttm:2"),
    ],
)
def test_bad_rttm_gives_one_line_error_with_file_and_line(corpus, line, expected):
    (corpus / "rttm" / "a.rttm").write_text("SPEAKER meetA 1 0.50 2.00 <NA> <NA> spk2 <NA> <NA>\n" + line + "\n")
    res = run(["prepare", "rttm", corpus / "audio", corpus / "rttm", corpus / "o", "--name", "x"])
    assert res.exit_code == 1
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error:") and expected in err[0], res.stderr


def test_split_with_unknown_recording_is_an_error(corpus):
    (corpus / "bad.list").write_text("meetA\nnot_there\n")
    res = run(
        [
            "prepare",
            "rttm",
            corpus / "audio",
            corpus / "rttm",
            corpus / "o",
            "--name",
            "x",
            "--split",
            f"train={corpus / 'bad.list'}",
        ]
    )
    assert res.exit_code == 1 and "not_there" in res.stderr


def test_split_option_needs_name_and_file(corpus):
    res = run(["prepare", "rttm", corpus / "audio", corpus / "rttm", corpus / "o", "--name", "x", "--split", "train"])
    assert res.exit_code == 2 and "NAME=LISTFILE" in res.stderr


def test_no_matching_audio_is_an_error(corpus, tmp_path):
    (tmp_path / "empty").mkdir()
    res = run(["prepare", "rttm", tmp_path / "empty", corpus / "rttm", corpus / "o", "--name", "x"])
    assert res.exit_code == 1 and "no RTTM file id matches" in res.stderr


@pytest.mark.parametrize("verb", [["prepare", "rttm"], ["fbank"], ["labels"], ["describe"], ["download", "demo"]])
def test_every_verb_has_help_with_units_or_defaults(verb):
    res = run(verb + ["--help"])
    assert res.exit_code == 0
    assert "Usage:" in res.output
    assert any(word in res.output for word in ("default", "seconds", "ms", "Hz", "hours"))


def test_labels_and_describe_reject_a_non_cutset(corpus, tmp_path):
    out = tmp_path / "o"
    assert run(["prepare", "rttm", corpus / "audio", corpus / "rttm", out, "--name", "x"]).exit_code == 0
    res = run(["labels", out / "x_recordings.jsonl.gz", tmp_path / "l.jsonl.gz", "--storage-path", tmp_path / "l"])
    assert res.exit_code == 1 and "x_recordings.jsonl.gz" in res.stderr
    res = run(["describe", out / "x_cuts.jsonl.gz", "--format", "json"])
    assert res.exit_code == 0
    total = json.loads(res.stdout)["total"]
    assert total["recordings"] == 2 and total["duration_source"] == "audio"
    assert total["duration_hours"] == pytest.approx(18.0 / 3600)
