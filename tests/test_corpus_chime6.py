"""CHiME-6 recipe on a miniature synchronised copy in the real layout (tests/fixtures/chime6.py).

No download test against ``http_server``: the CHiME-6 audio is licensed and has
no public URL; ``diar download chime6`` only links a local copy (tested) and
refuses without ``--corpus-dir``.

Lhotse comparison: ``lhotse.recipes.chime6.prepare_chime6`` iterates over its
hard-coded session lists (16 train, 2 dev, 2 eval sessions) and fails when a
session's audio is absent, which a miniature copy cannot provide; the test
narrows ``DATASET_PARTS`` to the fixture's sessions (monkeypatch) and compares
recordings (ids, durations) and speech coverage per speaker (union of the
speaker's utterances, which our turns must equal), for ``mdm`` against our
``U06`` and ``ihm`` against our ``binaural``.

Real data: the forced-alignment RTTMs (dev S02/S09, eval S01/S21, ids
``S02_U06.ENH``) are turned into CHiME-6 JSON transcriptions (one utterance per
turn, ``H:MM:SS.ss`` times) with 0.1 s stand-in audio, and prepared with the
official track-2 UEM file.
"""
import json
import shutil
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner
from lhotse import CutSet
from lhotse.cut import MultiCut

from recipes.cli import cli
from recipes.corpora.chime6 import download_chime6, hms_to_seconds, manifest_name, prepare_chime6, track2_uem
from recipes.rttm import AnnotationError
from tests.fixtures.chime6 import SESSIONS, build_chime6_fixture, seconds_to_hms, write_kaldi_uem
from tests.fixtures.expect import union_length

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_chime6_fixture(tmp_path_factory.mktemp("chime6"), unmatched=True)


@pytest.fixture(scope="module")
def clean_corpus(tmp_path_factory):
    return build_chime6_fixture(tmp_path_factory.mktemp("chime6_clean"))


@pytest.fixture(scope="module")
def uem(tmp_path_factory):
    return write_kaldi_uem(tmp_path_factory.mktemp("uem") / "uem_file", {"S01": 0, "S02": 0.5, "S09": 0.3})


def turns_of(parts):
    return sorted((s.recording_id, round(s.start, 6), round(s.end, 6), s.speaker) for s in parts["supervisions"])


def test_hms_times():
    assert hms_to_seconds("0:01:15.34") == 75.34
    assert hms_to_seconds("2:00:00.1") == 7200.1
    assert hms_to_seconds(seconds_to_hms(4321.07)) == 4321.07
    for bad in ("1:15.34", "0:61:00.00", "abc", "0:00:-1.0"):
        with pytest.raises(ValueError):
            hms_to_seconds(bad)


def test_u06_sessions_turns_speakers_uem_and_report(corpus, uem):
    result, report = prepare_chime6(corpus, mic="U06", uem_file=uem, progress=False)
    assert set(result) == {"", "train", "dev", "eval"}
    assert list(result["dev"]["cuts"].ids) == ["S02"] and list(result["eval"]["cuts"].ids) == ["S01"]
    assert list(result["train"]["cuts"].ids) == ["S22"]
    recs = {r.id: r for r in result[""]["recordings"]}
    assert all(r.duration == 3.0 and r.num_channels == 1 and r.sampling_rate == 16000 for r in recs.values())
    assert recs["S02"].sources[0].source.endswith("audio/dev/S02_U06.CH1.wav")
    # utterances -> turns: P05's overlapping utterances merged; the end <= start utterance left out
    assert turns_of(result["dev"]) == [
        ("S02", 0.1, 0.6, "P08"), ("S02", 0.2, 1.4, "P05"), ("S02", 1.2, 2.0, "P06"),
        ("S02", 1.8, 2.6, "P07"), ("S02", 2.5, 2.9, "P05")]
    assert [t[3] for t in turns_of(result["eval"])] == ["P01", "P02", "P03", "P04"]  # P04: [redacted] words
    assert any("S01.json[2]: speaker P02 end 0:00:02.00 <= start" in n for n in report.notes)
    assert "1 same-speaker overlapping utterance(s) merged" in report.annotation_summary
    # track-2 UEM on dev/eval (end 12000 clipped to the audio); train: whole recording
    cuts = {c.id: c for c in result[""]["cuts"]}
    assert cuts["S02"].custom["uem"] == [[0.5, 3.0]]
    assert cuts["S01"].custom["uem"] == [[0.0, 3.0]]
    assert cuts["S22"].custom["uem"] == [[0.0, 3.0]]
    # nothing dropped silently
    assert report.annotations_without_audio == ["S09"]
    assert report.audio_without_annotations == ["S21"]


def test_missing_array_is_reported_not_fatal(corpus, uem):
    result, report = prepare_chime6(corpus, mic="U05", channel=3, uem_file=uem, progress=False)
    assert sorted(result[""]["cuts"].ids) == ["S01", "S02"]
    assert "train" not in result
    assert report.annotations_without_audio == ["S09", "S22"]
    assert any("S22: no audio/train/S22_U05.CH3.wav (array U05 missing" in n for n in report.notes)
    rec = next(r for r in result[""]["recordings"] if r.id == "S02")
    assert rec.sources[0].source.endswith("S02_U05.CH3.wav")


def test_binaural_multicut_channels_follow_sorted_speakers(corpus, uem):
    result, report = prepare_chime6(corpus, mic="binaural", uem_file=uem, progress=False)
    cut = next(c for c in result[""]["cuts"] if c.id == "S02")
    assert isinstance(cut, MultiCut) and cut.channel == list(range(8))
    rec = cut.recording
    assert [(Path(s.source).name, s.channels) for s in rec.sources] == [
        ("S02_P05.wav", [0, 1]), ("S02_P06.wav", [2, 3]), ("S02_P07.wav", [4, 5]), ("S02_P08.wav", [6, 7])]
    audio = cut.load_audio()
    assert audio.shape == (8, 48000)
    # P06 speaks 1.2-2.0 s: louder in P06's own in-ear file (channels 2, 3) than in P05's (0, 1)
    seg = slice(int(1.3 * 16000), int(1.9 * 16000))
    assert np.abs(audio[2, seg]).mean() > 2 * np.abs(audio[0, seg]).mean()
    assert turns_of(result["dev"]) == turns_of(prepare_chime6(corpus, uem_file=uem, progress=False)[0]["dev"])
    assert "S02: P05, P06, P07, P08" in report.text()


def test_default_uem_is_the_official_track2_start(corpus):
    official = track2_uem()
    assert official == {"S01": [(0.0, 12000.0)], "S02": [(75.0, 12000.0)], "S09": [(64.0, 12000.0)],
                        "S21": [(59.0, 12000.0)]}
    result, report = prepare_chime6(corpus, splits=["dev"], progress=False)
    # S02 starts scoring at 75 s: nothing of the 3 s fixture is scored
    assert result["dev"]["uem"] == {"S02": []}
    assert any("S02: UEM lies outside the recording" in n for n in report.uem_notes)


def test_kaldi_uem_arrays_must_agree(tmp_path):
    path = tmp_path / "u"
    path.write_text("S02_U01 1 75 12000\nS02_U06 1 70 12000\n")
    with pytest.raises(ValueError, match="S02_U06"):
        track2_uem(path)


def test_duration_from_annotations_uses_last_turn_end(corpus, uem):
    result, _ = prepare_chime6(corpus, uem_file=uem, duration_from_annotations=True, progress=False)
    durations = {r.id: r.duration for r in result[""]["recordings"]}
    assert durations == {"S01": 2.95, "S02": 2.9, "S22": 2.8}


def test_malformed_transcriptions_name_file_and_element(corpus, tmp_path):
    bad = tmp_path / "c6"
    shutil.copytree(corpus, bad)
    path = bad / "transcriptions" / "eval" / "S01.json"
    utts = json.loads(path.read_text())
    utts[3]["start_time"] = "0:00:xx"
    path.write_text(json.dumps(utts, indent=4))
    with pytest.raises(ValueError, match=r"S01\.json\[3\]: start_time '0:00:xx' is not H:MM:SS\.ss"):
        prepare_chime6(bad, progress=False)
    utts[3]["start_time"] = utts[2]["start_time"]
    utts[3]["session_id"] = "S02"
    path.write_text(json.dumps(utts, indent=4))
    with pytest.raises(ValueError, match=r"S01\.json\[3\]: session_id 'S02' in the file of session S01"):
        prepare_chime6(bad, progress=False)
    path.write_text('[\n  {"speaker": "P01",\n  "start_time": }\n]')
    with pytest.raises(AnnotationError) as e:
        prepare_chime6(bad, progress=False)
    assert str(e.value).startswith(f"{path}:3: invalid JSON")


def test_chime5_per_device_times(corpus, tmp_path):
    c5 = tmp_path / "c5"
    shutil.copytree(corpus, c5)
    path = c5 / "transcriptions" / "dev" / "S02.json"
    utts = json.loads(path.read_text())
    for u in utts:  # U06 runs 0.05 s late; no P time, so binaural uses 'original'
        for key in ("start_time", "end_time"):
            t = hms_to_seconds(u[key])
            u[key] = {"original": u[key], "U06": seconds_to_hms(t + 0.05)}
    path.write_text(json.dumps(utts))
    result, report = prepare_chime6(c5, splits=["dev"], progress=False)
    assert turns_of(result["dev"])[0] == ("S02", 0.15, 0.65, "P08")
    assert any("12 time(s) of U06" in n for n in report.notes)
    result, _ = prepare_chime6(c5, mic="binaural", splits=["dev"], progress=False)
    assert turns_of(result["dev"])[0] == ("S02", 0.1, 0.6, "P08")


def test_same_recordings_and_speaker_coverage_as_lhotse(clean_corpus, monkeypatch):
    import lhotse.recipes.chime6 as lhotse_chime6

    parts = {split: [s for s, v in SESSIONS.items() if v[0] == split] for split in ("train", "dev", "eval")}
    monkeypatch.setattr(lhotse_chime6, "DATASET_PARTS", parts)
    for our_mic, their_mic in (("U06", "mdm"), ("binaural", "ihm")):
        ours, _ = prepare_chime6(clean_corpus, mic=our_mic, progress=False)
        theirs = lhotse_chime6.prepare_chime6(clean_corpus, mic=their_mic, normalize_text="none")
        for split in ("train", "dev", "eval"):
            assert {r.id: r.duration for r in ours[split]["recordings"]} == \
                   {r.id: r.duration for r in theirs[split]["recordings"]}
            cov = []
            for m in (ours, theirs):
                per = defaultdict(list)
                for s in m[split]["supervisions"]:
                    per[(s.recording_id, s.speaker)].append((s.start, s.end))
                cov.append({k: round(union_length(v), 6) for k, v in per.items()})
            assert cov[0] == cov[1]
        if their_mic == "ihm":
            assert {r.id: r.num_channels for r in theirs["dev"]["recordings"]} == \
                   {r.id: r.num_channels for r in ours["dev"]["recordings"]} == {"S02": 8}
    # Lhotse's mdm stacks every array file: 24 channels, 20 in S22 (no U05)
    assert {r.id: r.num_channels for r in theirs["train"]["recordings"]} == {"S22": 8}  # ihm of the last loop
    mdm = lhotse_chime6.prepare_chime6(clean_corpus, dataset_parts="train", mic="mdm", normalize_text="none")
    assert mdm["train"]["recordings"]["S22"].num_channels == 20
    # its supervisions are utterances: P05's two overlapping utterances stay two
    assert len(theirs["dev"]["supervisions"]) == len(ours["dev"]["supervisions"]) + 1


def test_download_needs_corpus_dir_and_links(corpus, tmp_path):
    with pytest.raises(RuntimeError, match="licensed"):
        download_chime6(tmp_path / "dl")
    runner = CliRunner()
    res = runner.invoke(cli, ["download", "chime6", str(tmp_path / "dl")])
    assert res.exit_code != 0 and "--corpus-dir" in res.output
    assert not (tmp_path / "dl").exists()
    res = runner.invoke(cli, ["download", "chime6", str(tmp_path / "link"), "--corpus-dir", str(corpus)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "link").resolve() == corpus.resolve()


def test_cli_prepare_mics_and_names(corpus, uem, tmp_path):
    runner = CliRunner()
    out = tmp_path / "out"
    for args in ([], ["--mic", "U01", "--channel", "2"], ["--mic", "binaural"]):
        res = runner.invoke(cli, ["prepare", "chime6", str(corpus), str(out), "--uem", str(uem)] + args)
        assert res.exit_code == 0, res.output
    assert manifest_name("U01", 2) == "chime6-U01-ch2"
    for name in ("chime6-U06", "chime6-U01-ch2", "chime6-binaural"):
        for split in ("train", "dev", "eval"):
            for kind in ("recordings", "supervisions", "cuts"):
                assert (out / f"{name}_{kind}_{split}.jsonl.gz").is_file()
            assert (out / f"{name}_{split}.uem").is_file()
    assert (out / "chime6-U06_dev.uem").read_text() == "S02 1 0.500 3.000\n"
    cuts = CutSet.from_file(out / "chime6-U01-ch2_cuts_eval.jsonl.gz").to_eager()
    assert cuts["S01"].recording.sources[0].source.endswith("S01_U01.CH2.wav")
    report = (out / "chime6-U06_prepare_report.txt").read_text()
    assert "S09" in report and "S21" in report
    res = runner.invoke(cli, ["prepare", "chime6", "--help"])
    assert "--mic" in res.output and "seconds" in res.output and "Default" in res.output


# ---------------------------------------------------------------------------
# real forced-alignment RTTMs as stand-in JSON transcriptions, 0.1 s audio


@pytest.fixture(scope="module")
def real_corpus(realdata, tmp_path_factory):
    root = tmp_path_factory.mktemp("chime6_real")
    silence = np.zeros(1600, dtype=np.int16)
    for split in ("dev", "eval"):
        utts = defaultdict(list)
        for line in (realdata / "chime6" / f"{split}_rttm").read_text().splitlines():
            f = line.split()
            if not f:
                continue
            session = f[1].split("_")[0]  # S02_U06.ENH -> S02
            start, dur = Decimal(f[3]), Decimal(f[4])
            utts[session].append({"end_time": seconds_to_hms(float(start + dur)),
                                  "start_time": seconds_to_hms(float(start)), "words": "x", "speaker": f[7],
                                  "session_id": session, "ref": "U06", "location": "kitchen"})
        (root / "transcriptions" / split).mkdir(parents=True)
        (root / "audio" / split).mkdir(parents=True)
        for session, items in utts.items():
            (root / "transcriptions" / split / f"{session}.json").write_text(json.dumps(items))
            soundfile.write(root / "audio" / split / f"{session}_U06.CH1.wav", silence, 16000)
    return root


@pytest.mark.realdata
def test_real_rttms_reproduce_stats(real_corpus, realdata):
    from recipes.stats import cutset_stats, summarize

    result, report = prepare_chime6(real_corpus, uem_file=realdata / "chime6" / "uem_file",
                                    duration_from_annotations=True, progress=False)
    assert sorted(result["dev"]["cuts"].ids) == ["S02", "S09"]
    assert sorted(result["eval"]["cuts"].ids) == ["S01", "S21"]
    assert not report.annotations_without_audio and not report.audio_without_annotations
    expected_ov = {"dev": 28.6, "eval": 22.6}
    expected_hours = {"dev": 4.42, "eval": 5.19}
    expected_before = {"dev": 6, "eval": 1}
    uem_start = {"S01": 0.0, "S02": 75.0, "S09": 64.0, "S21": 59.0}
    for split in ("dev", "eval"):
        per_session = defaultdict(set)
        for s in result[split]["supervisions"]:
            per_session[s.recording_id].add(s.speaker)
        assert [len(v) for v in per_session.values()] == [4, 4]
        assert len(set().union(*per_session.values())) == 8
        stats = summarize(cutset_stats(result[split]["cuts"]))
        assert 100 * stats["overlap_ratio"] == pytest.approx(expected_ov[split], abs=0.1)
        # STATS.md: 4.42 h (dev) / 5.19 h (eval) from the UEM start to the last turn end
        assert stats["duration_hours"] == pytest.approx(expected_hours[split], abs=0.005)
        # every RTTM line is a turn; those ending before the UEM start (6 dev, 1 eval) are not scored
        lines = [f.split() for f in (realdata / "chime6" / f"{split}_rttm").read_text().splitlines() if f.strip()]
        scored = [f for f in lines if float(f[3]) + float(f[4]) > uem_start[f[1].split("_")[0]]]
        assert len(result[split]["supervisions"]) == len(lines)
        assert stats["turns"] == len(scored) and len(lines) - len(scored) == expected_before[split]
    starts = {c.id: c.custom["uem"][0][0] for c in result[""]["cuts"]}
    assert starts == {"S01": 0.0, "S02": 75.0, "S09": 64.0, "S21": 59.0}
