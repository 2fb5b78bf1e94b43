"""TED-LIUM recipe on miniature copies of releases 2 and 3 in the real layout (tests/fixtures/tedlium.py).

The fixture writes real NIST SPHERE files (PCM). This machine has no
``sph2pipe``, the only way Lhotse decodes ``.sph``; the tests check (1) the
clear error of ``--sph-decoder sph2pipe`` with a PATH lacking it, (2) the
``soundfile`` decoder (libsndfile reads PCM SPHERE) end to end, and (3)
Lhotse's own sph2pipe route with a stand-in ``sph2pipe`` script on PATH
(written here in Python: ``-f wav -p -t START:END FILE`` -> WAV on stdout),
which is also what lets ``lhotse.recipes.tedlium.prepare_tedlium`` run for the
comparison of recordings (ids, durations) and speech coverage per talk. The
Lhotse comparison runs on the fixture without unmatched files, because
Lhotse asserts that every STM has a SPHERE file.
"""

import hashlib
import os
import shutil
import sys
import tarfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner
from lhotse import CutSet

from recipes.cli_corpora import download_command as _download
from recipes.cli_corpora import prepare_command as _prepare
from recipes.corpora.tedlium import download_tedlium, prepare_tedlium
from recipes.download import DownloadError
from recipes.rttm import AnnotationError
from recipes.stats import cutset_stats, summarize
from tests.fixtures.expect import union_length
from tests.fixtures.tedlium import TALKS, build_tedlium_fixture

REPO = Path(__file__).resolve().parents[1]

download_command, prepare_command = _download("tedlium"), _prepare("tedlium")


@pytest.fixture(scope="module")
def v3(tmp_path_factory):
    return build_tedlium_fixture(tmp_path_factory.mktemp("tedlium3"), unmatched=True)


@pytest.fixture(scope="module")
def v2(tmp_path_factory):
    return build_tedlium_fixture(tmp_path_factory.mktemp("tedlium2"), release="v2")


@pytest.fixture(scope="module")
def fake_sph2pipe(tmp_path_factory):
    """A folder with an executable ``sph2pipe`` stand-in (Python + soundfile)."""
    d = tmp_path_factory.mktemp("bin")
    script = d / "sph2pipe"
    script.write_text(
        f"#!{sys.executable}\n"
        + textwrap.dedent("""\
        import io, sys
        import soundfile
        args = sys.argv[1:]
        span = args[args.index("-t") + 1] if "-t" in args else "0:"
        data, sr = soundfile.read(args[-1], dtype="int16")
        a, _, b = span.partition(":")
        a = int(round(float(a) * sr)); b = int(round(float(b) * sr)) if b else None
        buf = io.BytesIO()
        soundfile.write(buf, data[a:b], sr, format="WAV", subtype="PCM_16")
        sys.stdout.buffer.write(buf.getvalue())
        """)
    )
    script.chmod(0o755)
    return d


def expected_segments(split_index=0):
    """(talk, start, end) of every scored STM line of the fixture, per legacy split."""
    out = {}
    for talk, spec in TALKS.items():
        for s, e, words in spec[4]:
            if words is not None:
                out.setdefault(spec[split_index], []).append((talk, s, e))
    return {k: sorted(v) for k, v in out.items()}


def test_prepare_v3_legacy_utterance_cuts_one_speaker_each(v3):
    result, report = prepare_tedlium(v3, sph_decoder="soundfile", progress=False)
    assert set(result) == {"", "train", "dev", "test"}
    exp = expected_segments()
    for split in ("train", "dev", "test"):
        cuts = result[split]["cuts"]
        got = sorted((c.recording_id, round(c.start, 6), round(c.end, 6)) for c in cuts)
        assert got == exp[split]
        for c in cuts:
            assert len(c.supervisions) == 1
            sup = c.supervisions[0]
            assert (sup.start, sup.duration) == (0.0, pytest.approx(c.duration))
            assert sup.speaker == c.recording_id  # the STM speaker field = the talk
            assert c.custom["uem"] == [[round(c.start, 6), round(c.end, 6)]]
    # per-talk recordings with the SPHERE header duration
    assert {r.id: r.duration for r in result[""]["recordings"]} == {t: spec[2] for t, spec in TALKS.items()}
    assert report.annotations_without_audio == ["NoAudio_2011"]
    assert report.audio_without_annotations == ["NoStm_2012"]
    # 5 segments of the two talks + 1 of NoAudio_2011 (read, then reported without audio)
    assert "train: 3 STM files, 6 segments, 2 ignore_time_segment_in_scoring lines excluded" in report.text()
    # recipes.stats: one speaker per utterance cut, no overlap
    st = summarize(cutset_stats(result["train"]["cuts"]))
    assert st["speakers_per_recording"]["max"] == 1 and st["speakers_per_recording"]["min"] == 1
    assert st["overlap_ratio"] == 0.0


def test_speaker_adaptation_all_and_split_option(v3):
    result, _ = prepare_tedlium(v3, distribution="speaker-adaptation", sph_decoder="soundfile", progress=False)
    exp = expected_segments(split_index=1)
    for split in ("train", "dev", "test"):
        assert sorted((c.recording_id, round(c.start, 6), round(c.end, 6)) for c in result[split]["cuts"]) == exp[split]
    result, _ = prepare_tedlium(v3, distribution="all", sph_decoder="soundfile", progress=False)
    assert set(result) == {"", "all"} and len(result["all"]["cuts"]) == 9
    result, _ = prepare_tedlium(v3, splits=["test"], sph_decoder="soundfile", progress=False)
    assert set(result) == {"", "test"}
    with pytest.raises(ValueError, match="v3"):
        prepare_tedlium(v3, release="v2", distribution="all")


def test_prepare_v2_layout(v2):
    result, report = prepare_tedlium(v2, release="v2", sph_decoder="soundfile", progress=False)
    exp = expected_segments()
    for split in ("train", "dev", "test"):
        assert sorted((c.recording_id, round(c.start, 6), round(c.end, 6)) for c in result[split]["cuts"]) == exp[split]
    assert not report.annotations_without_audio and not report.audio_without_annotations


def test_soundfile_decoder_loads_the_sphere_samples(v3):
    result, _ = prepare_tedlium(v3, sph_decoder="soundfile", progress=False)
    cut = next(c for c in result["dev"]["cuts"] if c.start == pytest.approx(1.5))
    audio = cut.load_audio()
    sph = v3 / "TEDLIUM_release-3" / "legacy" / "dev" / "sph" / "BillGates_2010.sph"
    assert sph.read_bytes()[:8] == b"NIST_1A\n"
    ref, sr = soundfile.read(sph, dtype="float32")
    np.testing.assert_allclose(audio[0], ref[int(1.5 * sr) : int(2.9 * sr)], atol=1e-4)


def test_sph2pipe_missing_is_a_clear_error_and_found_is_used(v3, fake_sph2pipe, monkeypatch):
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))  # no sph2pipe there
    with pytest.raises(RuntimeError, match="lhotse install-sph2pipe"):
        prepare_tedlium(v3, sph_decoder="sph2pipe", progress=False)
    monkeypatch.setenv("PATH", f"{fake_sph2pipe}:{os.path.dirname(sys.executable)}:/usr/bin:/bin")
    result, _ = prepare_tedlium(v3, progress=False)  # auto -> sph2pipe, Lhotse's native reader
    rec = result[""]["recordings"][0]
    assert rec.sources[0].type == "file" and rec.sources[0].source.endswith(".sph")
    cut = result["test"]["cuts"][0]
    ref, sr = soundfile.read(
        v3 / "TEDLIUM_release-3" / "legacy" / "test" / "sph" / "AimeeMullins_2009P.sph", dtype="float32"
    )
    np.testing.assert_allclose(
        cut.load_audio()[0], ref[int(round(cut.start * sr)) : int(round(cut.end * sr))], atol=1e-4
    )


def test_duration_from_annotations_uses_last_stm_end(v3):
    result, _ = prepare_tedlium(v3, sph_decoder="soundfile", duration_from_annotations=True, progress=False)
    assert {r.id: r.duration for r in result[""]["recordings"]} == {
        "AaronHuey_2010X": 3.9,
        "AlGore_2009": 3.4,
        "BillGates_2010": 2.9,
        "AimeeMullins_2009P": 2.8,
    }


def test_malformed_stm_is_reported_with_file_and_line(v3, tmp_path):
    bad = tmp_path / "t"
    shutil.copytree(v3, bad)
    path = bad / "TEDLIUM_release-3" / "legacy" / "dev" / "stm" / "BillGates_2010.stm"
    path.write_text(path.read_text() + "BillGates_2010 1 BillGates_2010 2.95 x <o,f0,male> oops\n")
    with pytest.raises(AnnotationError) as e:
        prepare_tedlium(bad, sph_decoder="soundfile", progress=False)
    assert str(e.value).startswith(f"{path}:3: ")
    path.write_text("BillGates_2010 1 BillGates_2010 0.3\n")
    with pytest.raises(AnnotationError, match=":1: 4 field"):
        prepare_tedlium(bad, sph_decoder="soundfile", progress=False)


def test_same_recordings_and_speech_coverage_as_lhotse(tmp_path, fake_sph2pipe, monkeypatch):
    from lhotse.recipes.tedlium import prepare_tedlium as lhotse_prepare

    corpus = build_tedlium_fixture(tmp_path / "t3")
    monkeypatch.setenv("PATH", f"{fake_sph2pipe}:{os.environ['PATH']}")
    theirs = lhotse_prepare(corpus / "TEDLIUM_release-3")
    ours, _ = prepare_tedlium(corpus, progress=False)
    for split in ("train", "dev", "test"):
        their_recs = {r.id: r.duration for r in theirs[split]["recordings"]}
        assert {r.id: r.duration for r in ours[split]["recordings"]} == their_recs
        for rec_id in their_recs:
            a = union_length([(s.start, s.end) for s in ours[split]["supervisions"] if s.recording_id == rec_id])
            b = union_length([(s.start, s.end) for s in theirs[split]["supervisions"] if s.recording_id == rec_id])
            assert a == pytest.approx(b, abs=1e-6)
        assert {(s.recording_id, s.speaker) for s in ours[split]["supervisions"]} == {
            (s.recording_id, s.speaker) for s in theirs[split]["supervisions"]
        }
        assert len(ours[split]["cuts"]) == len(theirs[split]["supervisions"])


def test_download_resumes_verifies_and_prepares(v2, tmp_path, http_server):
    serve = tmp_path / "serve"
    serve.mkdir()
    with tarfile.open(serve / "TEDLIUM_release2.tar.gz", "w:gz") as tar:
        tar.add(v2 / "TEDLIUM_release2", arcname="TEDLIUM_release2")
    data = (serve / "TEDLIUM_release2.tar.gz").read_bytes()
    url, log = http_server(serve)
    target = tmp_path / "dl"
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        download_tedlium(target, release="v2", base_url=url, sha256="0" * 64, progress=False)
    assert not (target / "downloads" / "TEDLIUM_release2.tar.gz").exists()
    (target / "downloads" / "TEDLIUM_release2.tar.gz.part").write_bytes(data[:1500])
    download_tedlium(target, release="v2", base_url=url, sha256=hashlib.sha256(data).hexdigest(), progress=False)
    assert ("/TEDLIUM_release2.tar.gz", "bytes=1500-") in log
    assert (target / "downloads" / "TEDLIUM_release2.tar.gz").read_bytes() == data
    assert not list(target.rglob("*.part"))
    result, _ = prepare_tedlium(target, release="v2", sph_decoder="soundfile", progress=False)
    assert len(result[""]["cuts"]) == 9


def test_cli_download_link_and_prepare(v3, tmp_path):
    runner = CliRunner()
    res = runner.invoke(download_command, [str(tmp_path / "link"), "--corpus-dir", str(v3)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "out"
    res = runner.invoke(prepare_command, [str(tmp_path / "link"), str(out), "--sph-decoder", "soundfile"])
    assert res.exit_code == 0, res.output
    for split in ("train", "dev", "test"):
        assert (out / f"tedlium-v3_cuts_{split}.jsonl.gz").is_file()
        assert (out / f"tedlium-v3_{split}.uem").is_file()
    cuts = CutSet.from_file(out / "tedlium-v3_cuts_test.jsonl.gz")
    assert len(cuts) == 2 and all(len(c.supervisions) == 1 for c in cuts)
    assert "NoAudio_2011" in (out / "tedlium-v3_prepare_report.txt").read_text()
    res = runner.invoke(
        prepare_command, [str(v3), str(out), "--distribution", "speaker-adaptation", "--sph-decoder", "soundfile"]
    )
    assert res.exit_code == 0, res.output
    assert (out / "tedlium-v3-sa_cuts_dev.jsonl.gz").is_file()
    res = runner.invoke(prepare_command, [str(v3), str(out), "--split", "nope", "--sph-decoder", "soundfile"])
    assert res.exit_code != 0 and "not found" in res.output
    res = runner.invoke(prepare_command, ["--help"])
    assert "Default" in res.output and "seconds" in res.output and "--sph-decoder" in res.output
