"""CHiME-6 recipe on a miniature synchronised copy in the real layout (tests/fixtures/chime6.py).

The download test serves the OpenSLR SLR150 layout (``CHiME6_<split>.tar.gz``
with ``CHiME6_<split>/CHiME6/audio/<split>/`` members, the transcription tar,
the forced-alignment RTTMs) from the local ``http_server``.

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
import subprocess
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
from tests.fixtures.chime6 import SESSIONS, build_chime6_fixture, rttm_turns, seconds_to_hms, to_chime5, write_kaldi_uem
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
    assert list(result["dev"]["cuts"].ids) == ["S02", "S09"] and list(result["eval"]["cuts"].ids) == ["S01"]
    assert list(result["train"]["cuts"].ids) == ["S22"]
    recs = {r.id: r for r in result[""]["recordings"]}
    assert all(r.duration == 3.0 and r.num_channels == 1 and r.sampling_rate == 16000 for r in recs.values())
    assert recs["S02"].sources[0].source.endswith("audio/dev/S02_U06.CH1.wav")
    # utterances -> turns: P05's overlapping utterances merged; the end <= start utterance left out
    assert [t for t in turns_of(result["dev"]) if t[0] == "S02"] == [
        ("S02", 0.1, 0.6, "P08"),
        ("S02", 0.2, 1.4, "P05"),
        ("S02", 1.2, 2.0, "P06"),
        ("S02", 1.8, 2.6, "P07"),
        ("S02", 2.5, 2.9, "P05"),
    ]
    assert [t[3] for t in turns_of(result["eval"])] == ["P01", "P02", "P03", "P04"]  # P04: [redacted] words
    assert any("S01.json[2]: speaker P02 end 00:00:02.00 <= start" in n for n in report.notes)
    assert "1 same-speaker overlapping utterance(s) merged" in report.annotation_summary
    # track-2 UEM on dev/eval (end 12000 clipped to the audio); train: whole recording
    cuts = {c.id: c for c in result[""]["cuts"]}
    assert cuts["S02"].custom["uem"] == [[0.5, 3.0]]
    assert cuts["S01"].custom["uem"] == [[0.0, 3.0]]
    assert cuts["S22"].custom["uem"] == [[0.0, 3.0]]
    assert cuts["S09"].custom["uem"] == [[0.3, 3.0]]
    assert {c.custom["reference"] for c in cuts.values()} == {"CHiME-6 JSON transcription utterances"}
    # nothing dropped silently; the report says what the release lacks
    assert report.annotations_without_audio == ["S14"]
    assert report.audio_without_annotations == ["S21"]
    assert any("lacks in-ear (binaural) audio for eval" in n and "S05: U03, U04" in n for n in report.notes)


def test_missing_arrays_of_the_release_are_reported_not_fatal(corpus, uem):
    # the real gaps: U05 in S09, U03 in S01 and S22 (audio_md5sums.txt)
    result, report = prepare_chime6(corpus, mic="U05", channel=3, uem_file=uem, progress=False)
    assert sorted(result[""]["cuts"].ids) == ["S01", "S02", "S22"]
    assert list(result["dev"]["cuts"].ids) == ["S02"]
    assert report.annotations_without_audio == ["S09", "S14"]
    assert any(
        "S09: no audio/dev/S09_U05.CH3.wav (array U05 missing in this session: the CHiME-6 release lacks it)" in n
        for n in report.notes
    )
    rec = next(r for r in result[""]["recordings"] if r.id == "S02")
    assert rec.sources[0].source.endswith("S02_U05.CH3.wav")
    result, report = prepare_chime6(corpus, mic="U03", uem_file=uem, progress=False)
    assert sorted(result[""]["cuts"].ids) == ["S02", "S09"]
    assert "train" not in result and "eval" not in result
    assert report.annotations_without_audio == ["S01", "S14", "S22"]


def test_binaural_multicut_channels_follow_sorted_speakers(corpus, uem):
    result, report = prepare_chime6(corpus, mic="binaural", uem_file=uem, progress=False)
    cut = next(c for c in result[""]["cuts"] if c.id == "S02")
    assert isinstance(cut, MultiCut) and cut.channel == list(range(8))
    rec = cut.recording
    assert [(Path(s.source).name, s.channels) for s in rec.sources] == [
        ("S02_P05.wav", [0, 1]),
        ("S02_P06.wav", [2, 3]),
        ("S02_P07.wav", [4, 5]),
        ("S02_P08.wav", [6, 7]),
    ]
    audio = cut.load_audio()
    assert audio.shape == (8, 48000)
    # P06 speaks 1.2-2.0 s: louder in P06's own in-ear file (channels 2, 3) than in P05's (0, 1)
    seg = slice(int(1.3 * 16000), int(1.9 * 16000))
    assert np.abs(audio[2, seg]).mean() > 2 * np.abs(audio[0, seg]).mean()
    assert turns_of(result["dev"]) == turns_of(prepare_chime6(corpus, uem_file=uem, progress=False)[0]["dev"])
    assert "S02: P05, P06, P07, P08" in report.text()
    # the release has no in-ear audio for eval: train and dev only, eval reported, nothing written for it
    assert set(result) == {"", "train", "dev"}
    assert "S01" in report.annotations_without_audio
    assert any(
        "S01: no binaural audio/eval/S01_P*.wav (the CHiME-6 release has no in-ear audio for eval)" in n
        for n in report.notes
    )


def test_default_uem_is_the_official_track2_start(corpus):
    official = track2_uem()
    assert official == {
        "S01": [(0.0, 12000.0)],
        "S02": [(75.0, 12000.0)],
        "S09": [(64.0, 12000.0)],
        "S21": [(59.0, 12000.0)],
    }
    result, report = prepare_chime6(corpus, splits=["dev"], progress=False)
    # S02 starts scoring at 75 s: nothing of the 3 s fixture is scored
    assert result["dev"]["uem"] == {"S02": [], "S09": []}
    assert any("S02: UEM lies outside the recording" in n for n in report.uem_notes)


def test_kaldi_uem_arrays_must_agree(tmp_path):
    path = tmp_path / "u"
    path.write_text("S02_U01 1 75 12000\nS02_U06 1 70 12000\n")
    with pytest.raises(ValueError, match="S02_U06"):
        track2_uem(path)


def test_duration_from_annotations_uses_last_turn_end(corpus, uem):
    result, _ = prepare_chime6(corpus, uem_file=uem, duration_from_annotations=True, progress=False)
    durations = {r.id: r.duration for r in result[""]["recordings"]}
    assert durations == {"S01": 2.95, "S02": 2.9, "S09": 2.9, "S22": 2.8}


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


def test_chime5_per_device_times_and_speakerless_redactions(corpus, tmp_path):
    c5 = tmp_path / "c5"
    shutil.copytree(corpus, c5)
    path = c5 / "transcriptions" / "dev" / "S02.json"
    to_chime5(path, {"U06": 0.05})  # U06 runs 0.05 s late; no P time, so binaural uses 'original'
    assert sum("speaker" not in u for u in json.loads(path.read_text())) == 2  # as real CHiME-5 JSON
    result, report = prepare_chime6(c5, splits=["dev"], progress=False)
    assert turns_of(result["dev"])[0] == ("S02", 0.15, 0.65, "P08")
    assert any("12 time(s) of U06" in n for n in report.notes)
    # the redaction markers are skipped and counted, not turns, not a crash
    assert "2 speakerless entr(ies) (CHiME-5 redaction markers) skipped" in report.annotation_summary
    assert all(s.speaker.startswith("P") for s in result["dev"]["supervisions"])
    result, _ = prepare_chime6(c5, mic="binaural", splits=["dev"], progress=False)
    assert turns_of(result["dev"])[0] == ("S02", 0.1, 0.6, "P08")


def test_zero_padded_hours_as_in_the_release(corpus):
    utts = json.loads((corpus / "transcriptions" / "dev" / "S02.json").read_text())
    assert utts[0]["start_time"] == "00:00:00.20"
    assert hms_to_seconds("01:10:05.55") == 4205.55 == hms_to_seconds("1:10:05.55")


def test_forced_alignment_references(corpus, uem):
    result, report = prepare_chime6(corpus, uem_file=uem, references="rttm", progress=False)
    # dev/eval turns are the RTTM lines (independently derived by the fixture), train keeps the JSON
    for split in ("dev", "eval"):
        expected = sorted(
            (sess, a, b, spk)
            for sess, (sp, _, utts, _) in SESSIONS.items()
            if sp == split
            for spk, a, b in rttm_turns(utts)
        )
        got = [t for t in turns_of(result[split]) if t[0] != "S14"]
        assert got == expected
    assert turns_of(result["train"]) == turns_of(prepare_chime6(corpus, uem_file=uem, progress=False)[0]["train"])
    refs = {c.id: c.custom["reference"] for c in result[""]["cuts"]}
    assert refs["S02"] == refs["S01"] and "forced-alignment RTTM" in refs["S02"]
    assert refs["S22"] == "CHiME-6 JSON transcription utterances"
    assert any("train keeps the JSON utterances" in n for n in report.notes)
    assert any("no turns for S14; their JSON turns are used" in n for n in report.notes)
    with pytest.raises(FileNotFoundError, match="diar download chime6"):
        prepare_chime6(corpus, references="rttm", rttm_dir=corpus / "audio", progress=False)


def test_card_says_which_reference_was_used(corpus, uem, tmp_path):
    from recipes.stats import build_report, cutset_stats, format_report

    for references, words in (("json", "JSON transcription"), ("rttm", "track-2 forced-alignment RTTM")):
        result, _ = prepare_chime6(corpus, uem_file=uem, references=references, progress=False)
        card = format_report(build_report([("chime6-U06/dev", cutset_stats(result["dev"]["cuts"]))]), "markdown")
        assert f"Reference annotations: chime6-U06/dev: CHiME-6 {words}" in card


def _slr150_archives(corpus: Path, out: Path) -> None:
    """The OpenSLR SLR150 files: CHiME6_<split>.tar.gz (CHiME6_<split>/CHiME6/audio/<split>/...) and
    CHiME6_transcriptions.tar.gz (CHiME6/transcriptions/<split>/...), plus the RTTMs in rttm/."""
    import tarfile

    out.mkdir(parents=True)
    for split in ("train", "dev", "eval"):
        with tarfile.open(out / f"CHiME6_{split}.tar.gz", "w:gz") as tar:
            tar.add(corpus / "audio" / split, arcname=f"CHiME6_{split}/CHiME6/audio/{split}")
    with tarfile.open(out / "CHiME6_transcriptions.tar.gz", "w:gz") as tar:
        tar.add(corpus / "transcriptions", arcname="CHiME6/transcriptions")
    shutil.copytree(corpus / "chime6_rttm", out / "rttm")


def test_download_from_openslr_layout(clean_corpus, tmp_path, http_server):
    _slr150_archives(clean_corpus, tmp_path / "srv")
    url, log = http_server(tmp_path / "srv")
    target = tmp_path / "dl"
    download_chime6(target, base_url=url, rttm_base_url=url + "/rttm", progress=False)
    assert sorted(p for p, _ in log) == sorted(
        [
            "/CHiME6_transcriptions.tar.gz",
            "/CHiME6_train.tar.gz",
            "/CHiME6_dev.tar.gz",
            "/CHiME6_eval.tar.gz",
            "/rttm/dev_rttm",
            "/rttm/eval_rttm",
        ]
    )
    for rel in ("audio/dev/S09_U06.CH4.wav", "transcriptions/eval/S01.json", "chime6_rttm/eval_rttm"):
        assert (target / rel).read_bytes() == (clean_corpus / rel).read_bytes()
    assert not list((target / "downloads").glob("*.tar.gz"))  # archives deleted once extracted
    ours = prepare_chime6(target, references="rttm", progress=False)[0]
    ref = prepare_chime6(clean_corpus, references="rttm", progress=False)[0]
    for split in ("train", "dev", "eval"):
        assert turns_of(ours[split]) == turns_of(ref[split])
    # rerun: every archive is marked extracted; only a split given anew is fetched
    n = len(log)
    download_chime6(target, base_url=url, rttm_base_url=url + "/rttm", splits=["dev"], progress=False)
    assert [p for p, _ in log[n:]] == ["/CHiME6_transcriptions.tar.gz", "/CHiME6_dev.tar.gz"]
    res = CliRunner().invoke(cli, ["download", "chime6", str(tmp_path / "dl2"), "--base-url", url + "/nothing"])
    assert res.exit_code != 0 and "404" in res.output and "CHiME6_transcriptions.tar.gz" in res.output


def test_same_recordings_and_speaker_coverage_as_lhotse(clean_corpus, monkeypatch):
    import lhotse.recipes.chime6 as lhotse_chime6

    parts = {split: [s for s, v in SESSIONS.items() if v[0] == split] for split in ("train", "dev", "eval")}
    monkeypatch.setattr(lhotse_chime6, "DATASET_PARTS", parts)
    for our_mic, their_mic, splits in (("U06", "mdm", ("train", "dev", "eval")), ("binaural", "ihm", ("train", "dev"))):
        ours, _ = prepare_chime6(clean_corpus, mic=our_mic, progress=False)
        theirs = lhotse_chime6.prepare_chime6(
            clean_corpus, dataset_parts=list(splits), mic=their_mic, normalize_text="none"
        )
        for split in splits:
            assert {r.id: r.duration for r in ours[split]["recordings"]} == {
                r.id: r.duration for r in theirs[split]["recordings"]
            }
            cov = []
            for m in (ours, theirs):
                per = defaultdict(list)
                for s in m[split]["supervisions"]:
                    per[(s.recording_id, s.speaker)].append((s.start, s.end))
                cov.append({k: round(union_length(v), 6) for k, v in per.items()})
            assert cov[0] == cov[1]
        if their_mic == "ihm":
            assert (
                {r.id: r.num_channels for r in theirs["dev"]["recordings"]}
                == {r.id: r.num_channels for r in ours["dev"]["recordings"]}
                == {"S02": 8, "S09": 8}
            )
    # no in-ear audio for eval in the release: Lhotse's ihm stops there, ours leaves eval out (tested above)
    with pytest.raises(FileNotFoundError, match="S01"):
        lhotse_chime6.prepare_chime6(clean_corpus, dataset_parts="eval", mic="ihm", normalize_text="none")
    # Lhotse's mdm stacks every array file: 24 channels, 20 in S22 (no U03)
    assert {r.id: r.num_channels for r in theirs["train"]["recordings"]} == {"S22": 8}  # ihm of the last loop
    mdm = lhotse_chime6.prepare_chime6(clean_corpus, dataset_parts="train", mic="mdm", normalize_text="none")
    assert mdm["train"]["recordings"]["S22"].num_channels == 20
    # its supervisions are utterances: P05's two overlapping utterances stay two
    assert len(theirs["dev"]["supervisions"]) == len(ours["dev"]["supervisions"]) + 1


def test_download_links_a_local_copy(corpus, tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["download", "chime6", str(tmp_path / "link"), "--corpus-dir", str(corpus)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "link").resolve() == corpus.resolve()
    with pytest.raises(ValueError, match="not both"):
        download_chime6(tmp_path / "x", corpus_dir=corpus, base_url="http://127.0.0.1:9")


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
                # no in-ear audio for eval in the release
                assert (out / f"{name}_{kind}_{split}.jsonl.gz").is_file() == (
                    (name, split) != ("chime6-binaural", "eval")
                )
            assert (out / f"{name}_{split}.uem").is_file() == ((name, split) != ("chime6-binaural", "eval"))
    assert (out / "chime6-U06_dev.uem").read_text() == "S02 1 0.500 3.000\nS09 1 0.300 3.000\n"
    cuts = CutSet.from_file(out / "chime6-U01-ch2_cuts_eval.jsonl.gz").to_eager()
    assert cuts["S01"].recording.sources[0].source.endswith("S01_U01.CH2.wav")
    report = (out / "chime6-U06_prepare_report.txt").read_text()
    assert "S14" in report and "S21" in report
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
            utts[session].append(
                {
                    "end_time": seconds_to_hms(float(start + dur)),
                    "start_time": seconds_to_hms(float(start)),
                    "words": "x",
                    "speaker": f[7],
                    "session_id": session,
                    "ref": "U06",
                    "location": "kitchen",
                }
            )
        (root / "transcriptions" / split).mkdir(parents=True)
        (root / "audio" / split).mkdir(parents=True)
        for session, items in utts.items():
            (root / "transcriptions" / split / f"{session}.json").write_text(json.dumps(items))
            soundfile.write(root / "audio" / split / f"{session}_U06.CH1.wav", silence, 16000)
    return root


@pytest.mark.realdata
def test_real_rttms_reproduce_stats(real_corpus, realdata):
    from recipes.stats import cutset_stats, summarize

    result, report = prepare_chime6(
        real_corpus, uem_file=realdata / "chime6" / "uem_file", duration_from_annotations=True, progress=False
    )
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


def test_run_sh_binaural_stages_0_to_4_on_the_release_layout(clean_corpus, tmp_path):
    """No in-ear audio for eval: stage 1 writes train and dev, stages 2-4 process exactly those."""
    from tests.fixtures.sandbox import recipe_sandbox

    root, env = recipe_sandbox(tmp_path, "chime6")
    recipe = root / "egs" / "chime6"
    cmd = [
        "bash",
        str(recipe / "run.sh"),
        "--corpus-dir",
        str(clean_corpus),
        "--mic",
        "binaural",
        "--references",
        "rttm",
    ]
    res = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    manifests = sorted(p.name for p in (recipe / "data" / "manifests").glob("chime6-binaural_cuts_*.jsonl.gz"))
    assert manifests == ["chime6-binaural_cuts_dev.jsonl.gz", "chime6-binaural_cuts_train.jsonl.gz"]
    for split in ("train", "dev"):
        labelled = CutSet.from_file(recipe / "data" / "cuts" / f"chime6-binaural_cuts_{split}_binary.jsonl.gz")
        # one feature cut per in-ear channel (4 speakers x 2), every one labelled
        assert len(labelled) == 8 * len(
            CutSet.from_file(recipe / "data" / "manifests" / f"chime6-binaural_cuts_{split}.jsonl.gz")
        )
        assert all(c.features.num_features == 23 and "labels" in c.custom for c in labelled)
    assert not list((recipe / "data" / "cuts").glob("*eval*"))
    card = (recipe / "data" / "stats" / "chime6-binaural_card.md").read_text()
    assert "chime6-binaural/dev: CHiME-6 track-2 forced-alignment RTTM" in card
    report = (recipe / "data" / "manifests" / "chime6-binaural_prepare_report.txt").read_text()
    assert "no in-ear audio for eval" in report
    res = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0 and res.stderr.count("already done") == 5, res.stderr[-3000:]
