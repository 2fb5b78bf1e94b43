"""VoxCeleb 1 & 2 recipe on a miniature copy in the real layout (tests/fixtures/voxceleb.py).

VoxCeleb2 ``.m4a`` needs ffmpeg: the tests that decode real m4a files are
skipped without it; the missing-decoder error is tested with a PATH that lacks
ffmpeg (placeholder m4a files suffice, as the check runs before any decoding).

Lhotse comparison: ``lhotse.recipes.voxceleb.prepare_voxceleb`` downloads the
VoxCeleb1 trial list from openslr during preparation (into the current
directory), which cannot work offline, so that step
(``_prepare_voxceleb_trials``) is replaced by a no-op; recordings (ids,
durations), speakers and speech coverage (the whole file) are compared on
VoxCeleb1 (Lhotse ``train`` = our ``dev``) and VoxCeleb2 (Lhotse puts all of
it in ``train``). Lhotse needs every speaker in ``vox1_meta.csv``, so the
comparison uses the fixture without the unmatched speaker.
"""

import hashlib
import os
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner
from lhotse import CutSet

from recipes.cli_corpora import download_command as _download
from recipes.cli_corpora import prepare_command as _prepare
from recipes.corpora.voxceleb import (
    MissingDecoderError,
    download_voxceleb,
    prepare_voxceleb,
)
from recipes.download import DownloadError
from recipes.rttm import AnnotationError
from recipes.stats import cutset_stats, summarize
from tests.fixtures.voxceleb import VOX1, VOX2, build_voxceleb_fixture

REPO = Path(__file__).resolve().parents[1]
HAVE_FFMPEG = shutil.which("ffmpeg") is not None
needs_ffmpeg = pytest.mark.skipif(not HAVE_FFMPEG, reason="ffmpeg not installed: cannot write/decode m4a")

download_command, prepare_command = _download("voxceleb"), _prepare("voxceleb")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_voxceleb_fixture(tmp_path_factory.mktemp("voxceleb"), unmatched=True)


@pytest.fixture(scope="module")
def clean_corpus(tmp_path_factory):
    return build_voxceleb_fixture(tmp_path_factory.mktemp("voxceleb_clean"))


def rid(spk, video, utt):
    return f"{spk}-{video}-{utt}"


def check_single_speaker_cuts(cuts):
    for c in cuts:
        assert c.start == 0.0 and len(c.supervisions) == 1
        sup = c.supervisions[0]
        assert sup.start == 0.0 and sup.duration == pytest.approx(c.duration)
        assert sup.speaker == c.recording_id.split("-")[0] and sup.speaker.startswith("id")


def test_vox1_veri_split_speakers_and_report(corpus):
    result, report = prepare_voxceleb(corpus, version="1", progress=False)
    assert set(result) == {"", "dev", "test"}
    assert sorted(result["test"]["cuts"].ids) == sorted(rid(*x[:3]) for x in VOX1 if x[0] == "id10270")
    assert sorted(result["dev"]["cuts"].ids) == sorted(rid(*x[:3]) for x in VOX1 if x[0] in ("id10001", "id10002"))
    durations = {r.id: r.duration for r in result[""]["recordings"]}
    for spk, video, utt, sec, _ in VOX1:
        assert durations[rid(spk, video, utt)] == sec
    for split in ("dev", "test"):
        check_single_speaker_cuts(result[split]["cuts"])
    assert {s.speaker for s in result["test"]["supervisions"]} == {"id10270"}
    # the speaker missing from vox1_meta.csv is prepared but in no split, and said so
    assert report.unlisted == ["id10999-zzzzzzzzzzz-00001"]
    assert any("id10999 is not in vox1_meta.csv" in n for n in report.notes)
    st = summarize(cutset_stats(result["dev"]["cuts"]))
    assert st["speakers_per_recording"]["min"] == 1 and st["speakers_per_recording"]["max"] == 1
    assert st["speech_ratio"] == pytest.approx(1.0)


def test_vox1_split_from_trial_list_without_meta(clean_corpus, tmp_path):
    root = tmp_path / "v1"
    shutil.copytree(clean_corpus / "voxceleb1", root / "voxceleb1")
    (root / "voxceleb1" / "vox1_meta.csv").unlink()
    result, report = prepare_voxceleb(root, version="1", progress=False)
    assert {s.speaker for s in result["test"]["supervisions"]} == {"id10270"}
    assert {s.speaker for s in result["dev"]["supervisions"]} == {"id10001", "id10002"}
    assert any("veri_test2.txt" in n for n in report.notes)


def test_vox1_iden_split(corpus):
    result, report = prepare_voxceleb(corpus, version="1", split_by="iden", progress=False)
    assert sorted(result["train"]["cuts"].ids) == sorted(
        ["id10001-1zcIwhmdeo4-00001", "id10002-0_laIeN-Q44-00001", "id10270-5r0dWxy17C8-00001"]
    )
    assert sorted(result["dev"]["cuts"].ids) == ["id10001-7w0IBEWc9Qw-00001"]
    assert sorted(result["test"]["cuts"].ids) == ["id10001-1zcIwhmdeo4-00002", "id10270-x6uYqmx31kE-00001"]
    assert report.annotations_without_audio == ["id10002-0_laIeN-Q44-00099"]
    assert report.unlisted == ["id10999-zzzzzzzzzzz-00001"]


def test_malformed_lists_are_reported_with_file_and_line(clean_corpus, tmp_path):
    root = tmp_path / "v1"
    shutil.copytree(clean_corpus / "voxceleb1", root / "voxceleb1")
    iden = root / "voxceleb1" / "iden_split.txt"
    iden.write_text(iden.read_text() + "4 id10001/1zcIwhmdeo4/00001.wav\n")
    with pytest.raises(AnnotationError) as e:
        prepare_voxceleb(root, version="1", split_by="iden", progress=False)
    assert str(e.value).startswith(f"{iden}:7: ")
    meta = root / "voxceleb1" / "vox1_meta.csv"
    meta.write_text(meta.read_text() + "id10003\tX\tm\tUK\ttrain\n")
    with pytest.raises(AnnotationError, match="vox1_meta.csv:5: "):
        prepare_voxceleb(root, version="1", progress=False)


def test_cuts_load_audio(corpus):
    result, _ = prepare_voxceleb(corpus, version="1", progress=False)
    cut = next(c for c in result["test"]["cuts"] if c.id == "id10270-x6uYqmx31kE-00001")
    ref, _ = soundfile.read(corpus / "voxceleb1" / "wav" / "id10270" / "x6uYqmx31kE" / "00001.wav", dtype="float32")
    np.testing.assert_allclose(cut.load_audio()[0], ref, atol=1e-4)


def test_m4a_without_ffmpeg_is_a_clear_error(tmp_path, monkeypatch):
    root = build_voxceleb_fixture(tmp_path / "vc", vox2=True) if not HAVE_FFMPEG else tmp_path / "vc"
    if HAVE_FFMPEG:  # placeholders are enough: the check runs before decoding
        d = root / "voxceleb2" / "dev" / "aac" / "id00012" / "21Uxsk56VDQ"
        d.mkdir(parents=True)
        (d / "00001.m4a").write_bytes(b"placeholder")
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))  # no ffmpeg there
    with pytest.raises(MissingDecoderError, match="install ffmpeg"):
        prepare_voxceleb(root, version="2", progress=False)
    res = CliRunner().invoke(prepare_command, [str(root), str(tmp_path / "out"), "--version", "2"])
    assert res.exit_code != 0 and "install ffmpeg" in res.output


@needs_ffmpeg
def test_vox2_real_m4a_splits_and_audio(corpus):
    result, report = prepare_voxceleb(corpus, version="2", progress=False)
    assert sorted(result["dev"]["cuts"].ids) == sorted(rid(*x[1:4]) for x in VOX2 if x[0] == "dev")
    assert sorted(result["test"]["cuts"].ids) == sorted(rid(*x[1:4]) for x in VOX2 if x[0] == "test")
    durations = {r.id: r.duration for r in result[""]["recordings"]}
    for _, spk, video, utt, sec, _ in VOX2:  # AAC adds its encoder delay (about 1024 samples)
        assert sec <= durations[rid(spk, video, utt)] <= sec + 0.1
    check_single_speaker_cuts(result[""]["cuts"])
    cut = result["test"]["cuts"][0]
    audio = cut.load_audio()
    assert audio.shape == (1, cut.num_samples) and np.abs(audio).max() > 0.05
    assert not report.annotations_without_audio and not report.unlisted


def union_cov(sups):
    return {s.recording_id: (round(s.start, 6), round(s.duration, 3)) for s in sups}


@pytest.mark.parametrize("version", ["1", pytest.param("2", marks=needs_ffmpeg)])
def test_same_recordings_speakers_and_coverage_as_lhotse(clean_corpus, version, monkeypatch, tmp_path):
    import lhotse.recipes.voxceleb as lhotse_vox

    monkeypatch.setattr(lhotse_vox, "_prepare_voxceleb_trials", lambda manifests: {})
    monkeypatch.chdir(tmp_path)
    ours, _ = prepare_voxceleb(clean_corpus, version=version, progress=False)
    if version == "1":
        theirs = lhotse_vox.prepare_voxceleb(voxceleb1_root=clean_corpus / "voxceleb1")
        pairs = [("dev", "train"), ("test", "test")]
    else:
        theirs = lhotse_vox.prepare_voxceleb(voxceleb2_root=clean_corpus / "voxceleb2")
        pairs = [("", "train")]
    for our_split, their_split in pairs:
        assert {r.id: r.duration for r in ours[our_split]["recordings"]} == {
            r.id: r.duration for r in theirs[their_split]["recordings"]
        }
        assert {(s.recording_id, s.speaker) for s in ours[our_split]["supervisions"]} == {
            (s.recording_id, s.speaker) for s in theirs[their_split]["supervisions"]
        }
        assert union_cov(ours[our_split]["supervisions"]) == union_cov(theirs[their_split]["supervisions"])


def split_zip(zip_path: Path, parts: int):
    data = zip_path.read_bytes()
    step = len(data) // parts + 1
    names = []
    for i in range(parts):
        name = zip_path.name.replace("_wav.zip", f"_wav_parta{'abcd'[i]}")
        (zip_path.parent / name).write_bytes(data[i * step : (i + 1) * step])
        names.append(name)
    zip_path.unlink()
    return names


def test_download_parts_resume_verify_join_and_prepare(clean_corpus, tmp_path, http_server):
    serve = tmp_path / "serve"
    serve.mkdir()
    v1 = clean_corpus / "voxceleb1"
    wavs = sorted((v1 / "wav").rglob("*.wav"))
    with zipfile.ZipFile(serve / "vox1_dev_wav.zip", "w") as z:
        for p in wavs:
            if not p.relative_to(v1 / "wav").parts[0] == "id10270":
                z.write(p, str(p.relative_to(v1)))
    with zipfile.ZipFile(serve / "vox1_test_wav.zip", "w") as z:
        for p in wavs:
            if p.relative_to(v1 / "wav").parts[0] == "id10270":
                z.write(p, str(p.relative_to(v1)))
    split_zip(serve / "vox1_dev_wav.zip", 4)
    for f in ("vox1_meta.csv", "iden_split.txt", "veri_test2.txt"):
        shutil.copy(v1 / f, serve / f)
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in serve.iterdir()}
    url, log = http_server(serve)
    target = tmp_path / "dl"
    # without our digests the published ones (conf/corpora/voxceleb.yaml) reject the stand-in parts
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        download_voxceleb(target, versions=["1"], base_url=url, progress=False)
    assert not (target / "downloads" / "vox1_dev_wav_partaa").exists()
    part_b = (serve / "vox1_dev_wav_partab").read_bytes()
    (target / "downloads" / "vox1_dev_wav_partab.part").write_bytes(part_b[:100])
    download_voxceleb(target, versions=["1"], base_url=url, sha256=digests, progress=False)
    assert ("/vox1_dev_wav_partab", "bytes=100-") in log
    assert not list(target.rglob("*.part")) and not list(target.rglob("*.joining"))
    assert zipfile.is_zipfile(target / "downloads" / "vox1_dev_wav.zip")
    result, _ = prepare_voxceleb(target, version="1", progress=False)
    assert sorted(result[""]["cuts"].ids) == sorted(rid(*x[:3]) for x in VOX1)
    assert len(result["test"]["cuts"]) == 2


def test_cli_download_link_and_prepare(corpus, tmp_path):
    runner = CliRunner()
    res = runner.invoke(download_command, [str(tmp_path / "link"), "--corpus-dir", str(corpus)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "out"
    res = runner.invoke(prepare_command, [str(tmp_path / "link"), str(out), "--version", "1"])
    assert res.exit_code == 0, res.output
    for split in ("dev", "test"):
        assert (out / f"voxceleb1_cuts_{split}.jsonl.gz").is_file()
        assert (out / f"voxceleb1_{split}.uem").is_file()
    cuts = CutSet.from_file(out / "voxceleb1_cuts_test.jsonl.gz")
    assert {c.supervisions[0].speaker for c in cuts} == {"id10270"}
    res = runner.invoke(prepare_command, [str(corpus), str(out), "--version", "1", "--split-by", "iden"])
    assert res.exit_code == 0, res.output
    assert (out / "voxceleb1-iden_cuts_train.jsonl.gz").is_file()
    res = runner.invoke(prepare_command, [str(corpus), str(out), "--name", "x"])
    assert res.exit_code != 0 and "single --version" in res.output
    res = runner.invoke(prepare_command, ["--help"])
    assert "Default" in res.output and "seconds" in res.output and "--split-by" in res.output


def test_401_says_what_to_do_and_credentials_reach_a_mirror(clean_corpus, tmp_path, http_server):
    """The VGG URLs answer 401 now; a mirror behind HTTP Basic authentication is reached with
    --user/--password or a netrc file, and the published MD5s are checked (here: our stand-ins')."""
    serve = tmp_path / "serve"
    serve.mkdir()
    v1 = clean_corpus / "voxceleb1"
    with zipfile.ZipFile(serve / "vox1_dev_wav.zip", "w") as z:
        for p in sorted((v1 / "wav").rglob("*.wav")):
            z.write(p, str(p.relative_to(v1)))
    with zipfile.ZipFile(serve / "vox1_test_wav.zip", "w") as z:
        pass
    split_zip(serve / "vox1_dev_wav.zip", 4)
    for f in ("vox1_meta.csv", "iden_split.txt", "veri_test2.txt"):
        shutil.copy(v1 / f, serve / f)
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in serve.iterdir()}
    url, log = http_server(serve, auth=("vox", "s3cret"))
    target = tmp_path / "dl"
    with pytest.raises(DownloadError) as e:
        download_voxceleb(target, versions=["1"], base_url=url, md5=md5, progress=False)
    msg = str(e.value)
    assert "HTTP 401" in msg and "mm.kaist.ac.kr/datasets/voxceleb" in msg and "--netrc" in msg and "--user" in msg
    with pytest.raises(DownloadError, match="credentials refused"):
        download_voxceleb(target, versions=["1"], base_url=url, md5=md5, user="vox", password="wrong", progress=False)
    # a netrc file for the mirror's host
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login vox password s3cret\n")
    netrc.chmod(0o600)
    res = CliRunner().invoke(
        _download("voxceleb"), [str(target), "--version", "1", "--base-url", url, "--netrc", str(netrc)]
    )
    # the CLI uses the published MD5s, which the stand-in parts do not have: refused after the download
    assert res.exit_code != 0 and "mismatch" in res.output
    download_voxceleb(target, versions=["1"], base_url=url, md5=md5, netrc_file=netrc, progress=False)
    assert zipfile.is_zipfile(target / "downloads" / "vox1_dev_wav.zip")
    # a joined zip whose MD5 is not the published one is refused and removed
    (target / "downloads" / "vox1_dev_wav.zip").unlink()
    bad = dict(md5, **{"vox1_dev_wav.zip": "0" * 32})
    with pytest.raises(DownloadError, match="md5 of the joined parts"):
        download_voxceleb(target, versions=["1"], base_url=url, md5=bad, user="vox", password="s3cret", progress=False)
    assert not (target / "downloads" / "vox1_dev_wav.zip").exists()


def test_published_md5s_are_in_the_conf():
    from recipes.corpora.config import load_corpus_config

    conf = load_corpus_config("voxceleb")
    entries = [p for v in ("voxceleb1", "voxceleb2") for a in conf[v]["archives"] for p in [a] + a.get("parts", [])]
    assert len(entries) == 16 and all(len(e["md5"]) == 32 for e in entries)
    # voxceleb_trainer lists/fileparts.txt
    assert {e["file"]: e["md5"] for e in entries}["vox2_test_aac.zip"] == "0d2b3ea430a821c33263b5ea37ede312"
