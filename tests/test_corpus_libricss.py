"""LibriCSS recipe on a miniature copy in the real layout (tests/fixtures/libricss.py).

Lhotse comparison: ``lhotse.recipes.libricss.prepare_libricss(type="sdm")``
reads the same for_release/ tree; it needs every condition folder to exist
(it iterates 0L..OV40 unconditionally), so the comparison runs on the complete
fixture (no unmatched folders). Recordings (ids, durations) and speech
coverage (union of the utterances) per recording are compared.
"""

import csv
import hashlib
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner
from lhotse import CutSet

from recipes.cli_corpora import download_command as _download
from recipes.cli_corpora import prepare_command as _prepare
from recipes.corpora.libricss import (
    download_libricss,
    parse_session_folder,
    prepare_libricss,
)
from recipes.download import DownloadError
from recipes.rttm import AnnotationError
from recipes.stats import cutset_stats, summarize
from tests.fixtures.expect import union_length
from tests.fixtures.libricss import SESSIONS, build_libricss_fixture, write_meeting_info

REPO = Path(__file__).resolve().parents[1]

download_command, prepare_command = _download("libricss"), _prepare("libricss")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_libricss_fixture(tmp_path_factory.mktemp("libricss"), unmatched=True)


@pytest.fixture(scope="module")
def complete_corpus(tmp_path_factory):
    return build_libricss_fixture(tmp_path_factory.mktemp("libricss_complete"))


def test_folder_names_parse_to_conditions():
    assert parse_session_folder("overlap_ratio_0.0_sil2.9_3.0_session7_actual0.0")["condition"] == "0L"
    assert parse_session_folder("overlap_ratio_0.0_sil0.1_0.5_session0_actual0.0")["condition"] == "0S"
    m = parse_session_folder("overlap_ratio_40.0_sil0.1_1.0_session5_actual42.0")
    assert (m["condition"], m["session"], m["actual_overlap_pct"]) == ("OV40", 5, 42.0)
    assert parse_session_folder("overlap_ratio_40.0_session5") is None


def test_prepare_raw_splits_turns_speakers_uem_condition_and_report(corpus):
    result, report = prepare_libricss(corpus, progress=False)
    assert set(result) == {"", "dev", "eval"}
    assert sorted(result["dev"]["cuts"].ids) == ["0S_session0", "OV10_session0"]
    assert sorted(result["eval"]["cuts"].ids) == ["0L_session3", "OV10_session1"]
    recs = {r.id: r for r in result[""]["recordings"]}
    assert {r: (x.num_channels, x.sampling_rate, x.duration) for r, x in recs.items()} == {
        "0L_session3": (7, 16000, 6.0),
        "0S_session0": (7, 16000, 5.0),
        "OV10_session0": (7, 16000, 6.0),
        "OV10_session1": (7, 16000, 6.0),
    }
    cuts = {c.id: c for c in result[""]["cuts"]}
    assert all(c.channel == 0 for c in cuts.values())
    assert cuts["OV10_session1"].custom["condition"] == "OV10"
    assert cuts["OV10_session1"].custom["session"] == 1
    assert cuts["OV10_session1"].custom["actual_overlap_pct"] == 10.2
    assert cuts["0L_session3"].custom["condition"] == "0L"
    assert cuts["0L_session3"].custom["uem"] == [[0.0, 6.0]]
    sups = sorted((s.recording_id, s.start, s.end, s.speaker) for s in result["dev"]["supervisions"])
    assert sups == [
        ("0S_session0", 0.2, 2.0, "1089"),
        ("0S_session0", 2.3, 4.5, "4077"),
        ("OV10_session0", 0.5, 2.5, "1089"),
        ("OV10_session0", 2.2, 4.0, "1320"),
        ("OV10_session0", 4.3, 5.8, "1089"),
    ]
    # LibriSpeech speaker ids are global: 1089 of two mini-sessions is one speaker
    by_rec = {}
    for s in result[""]["supervisions"]:
        by_rec.setdefault(s.recording_id, set()).add(s.speaker)
    assert by_rec["OV10_session0"] & by_rec["0S_session0"] == {"1089"}
    assert len(result[""]["supervisions"]) == sum(len(lines) for *_, lines in SESSIONS)
    assert [a for a in report.annotations_without_audio if a.startswith("OV40_session4")]
    assert [a for a in report.audio_without_annotations if a.startswith("OV20_session0")]
    # overlap / speech of OV10_session0: 0.3 s overlapped in 5.0 s of speech
    st = summarize(cutset_stats(result["dev"]["cuts"].filter(lambda c: c.id == "OV10_session0")))
    assert st["overlap_ratio"] == pytest.approx(0.3 / 5.0)


def test_clean_mic_channel_option_and_by_condition(corpus):
    result, report = prepare_libricss(corpus, mic="clean", by_condition=True, progress=False)
    recs = {r.id: r.num_channels for r in result[""]["recordings"]}
    assert recs == {"0L_session3": 1, "0S_session0": 1, "OV10_session0": 1, "OV10_session1": 1, "OV40_session4": 1}
    assert not report.annotations_without_audio
    assert sorted(result["eval_OV40"]["cuts"].ids) == ["OV40_session4"]
    assert sorted(result["dev_OV10"]["cuts"].ids) == ["OV10_session0"]
    assert "dev_OV40" not in result  # empty subsets are not written
    raw3, _ = prepare_libricss(corpus, channel=3, progress=False)
    assert {c.channel for c in raw3[""]["cuts"]} == {3}
    with pytest.raises(ValueError, match="only channel 0"):
        prepare_libricss(corpus, mic="clean", channel=2, progress=False)


def test_duration_from_annotations_uses_last_utterance_end(corpus):
    result, _ = prepare_libricss(corpus, duration_from_annotations=True, progress=False)
    assert {r.id: r.duration for r in result[""]["recordings"]} == {
        "0L_session3": 5.9,
        "0S_session0": 4.5,
        "OV10_session0": 5.8,
        "OV10_session1": 5.5,
    }


def test_malformed_meeting_info_is_reported_with_file_and_line(corpus, tmp_path):
    bad = tmp_path / "lc"
    shutil.copytree(corpus, bad)
    path = bad / "for_release" / "0S" / SESSIONS[2][1] / "transcription" / "meeting_info.txt"
    path.write_text(path.read_text() + "4.9\tfive\t4077\t4077-13754-0001\tTEXT\n")
    with pytest.raises(AnnotationError) as e:
        prepare_libricss(bad, progress=False)
    assert str(e.value).startswith(f"{path}:4: ")
    path.write_text("start\tend\n")
    with pytest.raises(AnnotationError, match=":1: "):
        prepare_libricss(bad, progress=False)


def test_cuts_load_audio(corpus):
    result, _ = prepare_libricss(corpus, progress=False)
    cut = result["dev"]["cuts"][0]
    audio = cut.load_audio()
    assert audio.shape == (1, int(cut.duration * 16000))
    raw, _ = soundfile.read(
        corpus / "for_release" / "0S" / SESSIONS[2][1] / "record" / "raw_recording.wav", dtype="float32"
    )
    np.testing.assert_allclose(audio[0], raw[:, 0], atol=1e-4)


def test_same_recordings_and_speech_coverage_as_lhotse(complete_corpus):
    from lhotse.recipes.libricss import prepare_libricss as lhotse_prepare

    # Lhotse iterates all six condition folders; the fixture lacks OV20/OV30/OV40: add empty ones
    for cond in ("OV20", "OV30", "OV40"):
        (complete_corpus / "for_release" / cond).mkdir(exist_ok=True)
    theirs = lhotse_prepare(complete_corpus, type="sdm")
    ours, _ = prepare_libricss(complete_corpus, progress=False)
    their_recs = {r.id: r.duration for r in theirs["recordings"]}
    assert {r.id: r.duration for r in ours[""]["recordings"]} == their_recs
    for rec_id in their_recs:
        a = union_length([(s.start, s.end) for s in ours[""]["supervisions"] if s.recording_id == rec_id])
        b = union_length([(s.start, s.end) for s in theirs["supervisions"] if s.recording_id == rec_id])
        assert a == pytest.approx(b, abs=1e-6)
    assert {s.speaker for s in ours[""]["supervisions"]} == {s.speaker for s in theirs["supervisions"]}


def test_download_resumes_verifies_and_prepares(complete_corpus, tmp_path, http_server):
    serve = tmp_path / "serve"
    serve.mkdir()
    with zipfile.ZipFile(serve / "for_release.zip", "w") as z:
        for p in sorted((complete_corpus / "for_release").rglob("*")):
            if p.is_file():
                z.write(p, str(p.relative_to(complete_corpus)))
    data = (serve / "for_release.zip").read_bytes()
    url, log = http_server(serve)
    target = tmp_path / "dl"
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        download_libricss(target, base_url=url, sha256="0" * 64, progress=False)
    assert not (target / "downloads" / "for_release.zip").exists()
    (target / "downloads" / "for_release.zip.part").write_bytes(data[:2000])
    download_libricss(target, base_url=url, sha256=hashlib.sha256(data).hexdigest(), progress=False)
    assert ("/for_release.zip", "bytes=2000-") in log
    assert (target / "downloads" / "for_release.zip").read_bytes() == data
    assert not list(target.rglob("*.part"))
    result, _ = prepare_libricss(target, progress=False)
    assert len(result[""]["cuts"]) == len(SESSIONS)


def test_cli_download_link_and_prepare(corpus, tmp_path):
    runner = CliRunner()
    res = runner.invoke(download_command, [str(tmp_path / "link"), "--corpus-dir", str(corpus)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "link").resolve() == corpus.resolve()
    out = tmp_path / "out"
    res = runner.invoke(prepare_command, [str(tmp_path / "link"), str(out), "--by-condition"])
    assert res.exit_code == 0, res.output
    for split in ("dev", "eval", "dev_OV10", "eval_0L"):
        assert (out / f"libricss-raw_cuts_{split}.jsonl.gz").is_file()
        assert (out / f"libricss-raw_{split}.uem").is_file()
    report = (out / "libricss-raw_prepare_report.txt").read_text()
    assert "OV40_session4" in report and "OV20_session0" in report
    cuts = CutSet.from_file(out / "libricss-raw_cuts_eval.jsonl.gz")
    assert sorted(c.custom["condition"] for c in cuts) == ["0L", "OV10"]
    res = runner.invoke(prepare_command, [str(corpus), str(out), "--mic", "raw", "--channel", "2"])
    assert res.exit_code == 0, res.output
    assert (out / "libricss-raw-ch2_cuts_dev.jsonl.gz").is_file()
    res = runner.invoke(prepare_command, [str(corpus), str(out), "--mic", "clean", "--channel", "2"])
    assert res.exit_code != 0 and "only channel 0" in res.output
    res = runner.invoke(prepare_command, ["--help"])
    assert "Default" in res.output and "seconds" in res.output and "--by-condition" in res.output


# ---------------------------------------------------------------------------
# real mini-session inventory (folder names and measured overlaps) with synthetic turns

STATS_OVERLAP_PCT = {"0L": 0.0, "0S": 0.0, "OV10": 10.03, "OV20": 20.26, "OV30": 29.92, "OV40": 40.24}
SPEECH_S = 600.0  # seconds of speech per synthetic mini-session (equal, so pooled ratio = mean ratio)


def synthetic_turns(pct: float, sil_min: float, sil_max: float, rng, n: int = 60):
    """(start, end, speaker) of ``n`` utterances of 8 speakers (cycling, so neighbours are different
    speakers) whose overlap / speech is ``pct`` %: speech = SPEECH_S, overlap = pct % of it, put in
    two of every three gaps (only two speakers at a time); the other gaps are silences drawn
    from the folder's silence range."""
    speakers = ["1089", "1188", "121", "1221", "1284", "1320", "1580", "1995"]
    overlap = pct / 100 * SPEECH_S
    gaps = list(range(n - 1))
    ov_gaps = [j for j in gaps if j % 3 != 2] if overlap > 0 else []
    o = overlap / len(ov_gaps) if ov_gaps else 0.0
    length = (SPEECH_S + overlap) / n
    assert length > 2 * o
    out, t = [], 1.0
    for i in range(n):
        out.append((round(t, 3), round(t + length, 3), speakers[i % 8]))
        t = t + length - o if i in ov_gaps else t + length + rng.uniform(sil_min, sil_max)
    return out


@pytest.fixture(scope="module")
def real_inventory(realdata, tmp_path_factory):
    root = tmp_path_factory.mktemp("libricss_real")
    rows = list(csv.DictReader(open(realdata / "libricss" / "mini_sessions.tsv"), delimiter="\t"))
    rng = np.random.default_rng(0)
    silence = np.zeros((1600, 7), dtype=np.int16)
    for row in rows:
        d = root / "for_release" / row["subset"] / row["folder_id"]
        (d / "record").mkdir(parents=True)
        soundfile.write(d / "record" / "raw_recording.wav", silence, 16000)
        turns = synthetic_turns(float(row["actual_overlap_pct"]), float(row["sil_min_s"]), float(row["sil_max_s"]), rng)
        lines = [(s, e, spk, f"{spk}-0-{i:04d}") for i, (s, e, spk) in enumerate(turns)]
        write_meeting_info(d / "transcription" / "meeting_info.txt", lines)
    return root, rows


@pytest.mark.realdata
def test_real_folder_names_reproduce_condition_overlap(real_inventory):
    """The 60 official folder names with synthetic turns whose overlap / speech equals each folder's
    measured ``actual`` value: checks the folder parsing (condition, session, split) and the
    statistic (recipes.stats overlap_ratio = overlap / speech, the paper's definition) against
    the per-condition means of STATS.md. There are no real turn times here (meeting_info.txt is
    not public), so this does not check real utterance timings."""
    root, rows = real_inventory
    result, report = prepare_libricss(root, duration_from_annotations=True, progress=False)
    assert len(result[""]["cuts"]) == 60 and not report.annotations_without_audio
    assert len(result["dev"]["cuts"]) == 6 and len(result["eval"]["cuts"]) == 54
    kaldi = {r["folder_id"]: r for r in rows}
    for cut in result[""]["cuts"]:
        assert cut.custom["condition"] in STATS_OVERLAP_PCT
    for cond, expected in STATS_OVERLAP_PCT.items():
        cuts = result[""]["cuts"].filter(lambda c: c.custom["condition"] == cond).to_eager()
        assert len(cuts) == 10
        assert {f"session{c.custom['session']}_CH0_{cond}" for c in cuts} == {
            r["kaldi_id"] for r in kaldi.values() if r["subset"] == cond
        }
        st = summarize(cutset_stats(cuts))
        assert st["speakers_per_recording"]["max"] == 8
        assert 100 * st["overlap_ratio"] == pytest.approx(expected, abs=0.1)
        assert 100 * st["overlap_ratio"] == pytest.approx(expected, abs=0.01)
