"""AVA-AVD recipe on a miniature copy in the real layout (tests/fixtures/ava_avd.py).

Lhotse has no AVA-AVD recipe (lhotse 1.33 ``lhotse/recipes`` has none), so
there is no Lhotse comparison here. Most tests prepare from already-extracted
clip WAVs (``dataset/waves``) and need no ffmpeg; the real extraction test is
skipped when ffmpeg is not installed, and the missing-ffmpeg error is tested
with a PATH that has no ffmpeg.
"""

import hashlib
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner
from lhotse import CutSet

from recipes.cli import cli
from recipes.corpora.ava_avd import download_ava_avd, prepare_ava_avd, read_offsets, video_of
from recipes.download import DownloadError
from recipes.rttm import AnnotationError
from tests.fixtures.ava_avd import build_ava_avd_fixture

REPO = Path(__file__).resolve().parents[1]
HAS_FFMPEG = shutil.which("ffmpeg") is not None


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_ava_avd_fixture(tmp_path_factory.mktemp("ava"), unmatched=True)


def sups(parts, clip):
    return sorted(
        (round(s.start, 6), round(s.end, 6), s.speaker) for s in parts["supervisions"] if s.recording_id == clip
    )


def test_prepare_from_extracted_waves(corpus):
    result, report = prepare_ava_avd(corpus, progress=False)
    assert sorted(c.id for c in result["train"]["cuts"]) == ["-FaXLcSFjUI_c_01", "-FaXLcSFjUI_c_02", "-FaXLcSFjUI_c_03"]
    assert sorted(c.id for c in result["val"]["cuts"]) == ["0f39OWEqJ24_c_01", "0f39OWEqJ24_c_02", "0f39OWEqJ24_c_03"]
    assert sorted(c.id for c in result["test"]["cuts"]) == ["20TAGRElvfE_c_01", "20TAGRElvfE_c_02", "20TAGRElvfE_c_03"]
    # clip length = last turn end - first turn start; WAVs at 16 kHz mono
    for rec in result[""]["recordings"]:
        assert rec.sampling_rate == 16000 and rec.num_channels == 1
        assert rec.duration == {"01": 2.5, "02": 3.0, "03": 3.0}[rec.id[-2:]]
    # movie time 900.06 + x -> clip time x; unsorted lines sorted; labels made global
    assert sups(result["train"], "-FaXLcSFjUI_c_01") == [
        (0.0, 1.2, "-FaXLcSFjUI_c_01_spk01"),
        (1.0, 2.5, "-FaXLcSFjUI_c_01_spk02"),
    ]
    assert sups(result["test"], "20TAGRElvfE_c_03") == [
        (0.0, 2.5, "20TAGRElvfE_c_03_spk02"),
        (0.6, 1.1, "20TAGRElvfE_c_03_spk01"),
        (2.6, 3.0, "20TAGRElvfE_c_03_spk03"),
    ]
    # spk01 of two clips of the same movie are two speakers (labels are per clip)
    speakers = {s.speaker for s in result[""]["supervisions"]}
    assert {"-FaXLcSFjUI_c_01_spk01", "-FaXLcSFjUI_c_02_spk01"} <= speakers
    for cut in result[""]["cuts"]:
        assert cut.custom["uem"] == [[0.0, cut.duration]]
    # nothing silently dropped
    assert report.annotations_without_audio == ["1j20qq1JyX4_c_01"]
    assert report.audio_without_annotations == ["2XeFK-DTSZk_c_01"]
    text = report.text()
    assert "test: 1 listed clip(s) not prepared (no RTTM or no audio): 1j20qq1JyX4_c_01" in text
    assert "clip offsets: 3 from offsets.txt, 7 = first turn start" in text


def test_offsets_txt_sets_the_clip_start(corpus, tmp_path):
    root = tmp_path / "c"
    shutil.copytree(corpus, root)
    # 0f39OWEqJ24_c_02 starts 0.5 s before its first turn (movie time 904.06 per the fixture)
    (root / "dataset" / "split" / "offsets.txt").write_text(
        "0f39OWEqJ24_c_01 900.12\n0f39OWEqJ24_c_02 903.62\n0f39OWEqJ24_c_03 908.12"
    )
    result, _ = prepare_ava_avd(root, duration_from_annotations=True, progress=False)
    assert {r.id: r.duration for r in result["val"]["recordings"]}["0f39OWEqJ24_c_02"] == pytest.approx(3.5)
    assert sups(result["val"], "0f39OWEqJ24_c_02") == [
        (0.5, 1.8, "0f39OWEqJ24_c_02_spk03"),
        (1.9, 3.5, "0f39OWEqJ24_c_02_spk01"),
    ]
    assert read_offsets(root / "dataset" / "split" / "offsets.txt")["0f39OWEqJ24_c_03"] == 908.12


def test_malformed_offsets_and_rttm_name_file_and_line(corpus, tmp_path):
    root = tmp_path / "c"
    shutil.copytree(corpus, root)
    offsets = root / "dataset" / "split" / "offsets.txt"
    offsets.write_text("0f39OWEqJ24_c_01 900.12\n0f39OWEqJ24_c_02 nine\n")
    with pytest.raises(AnnotationError) as e:
        prepare_ava_avd(root, progress=False)
    assert str(e.value).startswith(f"{offsets}:2: ")
    offsets.write_text("")
    rttm = root / "dataset" / "rttms" / "-FaXLcSFjUI_c_02.rttm"
    rttm.write_text(rttm.read_text() + "SPEAKER -FaXLcSFjUI_c_02 1 905.0\n")
    with pytest.raises(AnnotationError) as e:
        prepare_ava_avd(root, progress=False)
    assert str(e.value).startswith(f"{rttm}:3: 4 fields")


def fake_movies(root):
    for name in ("-FaXLcSFjUI.mp4", "0f39OWEqJ24.mp4", "20TAGRElvfE.mkv"):
        (root / "dataset" / "videos").mkdir(parents=True, exist_ok=True)
        (root / "dataset" / "videos" / name).write_bytes(b"not a movie")


def test_missing_ffmpeg_is_a_clear_error(tmp_path, monkeypatch):
    root = build_ava_avd_fixture(tmp_path / "c", waves=False)
    fake_movies(root)
    (tmp_path / "emptybin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "emptybin"))
    assert shutil.which("ffmpeg") is None
    with pytest.raises(RuntimeError) as e:
        prepare_ava_avd(root, progress=False)
    msg = str(e.value)
    assert "ffmpeg not found" in msg and "9 clip(s)" in msg and "install ffmpeg" in msg and "--audio-dir" in msg
    res = CliRunner().invoke(cli, ["prepare", "ava_avd", str(root), str(tmp_path / "out")])
    assert res.exit_code == 1 and "Error: ffmpeg not found" in res.output
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.jsonl.gz"))
    # without extraction the clips are reported, not an error... but then nothing is left to prepare
    with pytest.raises(ValueError, match="no clip has both"):
        prepare_ava_avd(root, extract=False, progress=False)
    # already-extracted WAVs elsewhere need no ffmpeg
    waves = build_ava_avd_fixture(tmp_path / "w") / "dataset" / "waves"
    result, report = prepare_ava_avd(root, audio_dir=waves, progress=False)
    assert len(result[""]["cuts"]) == 9 and not report.annotations_without_audio


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_real_extraction_from_movies(tmp_path):
    root = build_ava_avd_fixture(tmp_path / "c", movie_start=20.0, waves=False, videos=True)
    reference = build_ava_avd_fixture(tmp_path / "ref", movie_start=20.0) / "dataset" / "waves"
    waves = root / "dataset" / "waves"
    waves.mkdir()
    (waves / "-FaXLcSFjUI_c_01.partial.wav").write_bytes(b"left by a killed run")
    result, report = prepare_ava_avd(root, progress=False)
    assert not report.annotations_without_audio and not report.audio_without_annotations
    assert not list(waves.glob("*.partial.wav"))
    names = sorted(p.name for p in waves.glob("*.wav"))
    assert names == sorted(p.name for p in reference.glob("*.wav")) and "-FaXLcSFjUI_c_01.wav" in names
    for path in sorted(waves.glob("*.wav")):
        got, sr = soundfile.read(path)
        want, _ = soundfile.read(reference / path.name)
        assert sr == 16000 and got.ndim == 1
        assert abs(len(got) - len(want)) <= 0.01 * sr  # clip length within 10 ms
        n = min(len(got), len(want))
        corr = np.corrcoef(got[:n], want[:n])[0, 1]
        assert corr > 0.99, (path.name, corr)  # cut at the right movie time (mp4: AAC, mkv: PCM)
    assert sorted(c.id for c in result["train"]["cuts"])[0] == "-FaXLcSFjUI_c_01"
    # a rerun reuses the complete WAVs
    before = {p: p.stat().st_mtime_ns for p in waves.glob("*.wav")}
    prepare_ava_avd(root, progress=False)
    assert {p: p.stat().st_mtime_ns for p in waves.glob("*.wav")} == before


def make_mirror(corpus, serve):
    (serve / "split").mkdir(parents=True)
    for p in (corpus / "dataset" / "split").iterdir():
        shutil.copy(p, serve / "split" / p.name)
    fake_movies(serve.parent / "movies")
    shutil.copytree(serve.parent / "movies" / "dataset" / "videos", serve / "videos")
    with tarfile.open(serve / "annotations.tar.gz", "w:gz") as tar:
        tar.add(corpus / "dataset" / "rttms", arcname="rttms")


def test_download_resumes_verifies_and_prepares(corpus, tmp_path, http_server):
    serve = tmp_path / "serve"
    make_mirror(corpus, serve)
    url, log = http_server(serve)
    target = tmp_path / "dl"
    data = (serve / "videos" / "20TAGRElvfE.mkv").read_bytes()
    (target / "dataset" / "videos").mkdir(parents=True)
    (target / "dataset" / "videos" / "20TAGRElvfE.mkv.part").write_bytes(data[:4])
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        download_ava_avd(target, base_url=url, sha256={"-FaXLcSFjUI.mp4": "0" * 64}, progress=False)
    assert not (target / "dataset" / "videos" / "-FaXLcSFjUI.mp4").exists()
    assert not (target / "dataset" / "videos" / "-FaXLcSFjUI.mp4.part").exists()
    digest = hashlib.sha256(data).hexdigest()
    download_ava_avd(target, base_url=url, sha256={"20TAGRElvfE.mkv": digest}, progress=False)
    assert ("/videos/20TAGRElvfE.mkv", "bytes=4-") in log
    assert (target / "dataset" / "videos" / "20TAGRElvfE.mkv").read_bytes() == data
    assert not list(target.rglob("*.part"))
    assert (target / "dataset" / "split" / "train.list").read_bytes() == (
        corpus / "dataset" / "split" / "train.list"
    ).read_bytes()
    assert (target / "dataset" / "rttms" / "-FaXLcSFjUI_c_01.rttm").is_file()
    result, _ = prepare_ava_avd(target, audio_dir=corpus / "dataset" / "waves", extract=False, progress=False)
    assert len(result["test"]["cuts"]) == 3


def test_cli_link_and_prepare(corpus, tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["download", "ava_avd", str(tmp_path / "link"), "--corpus-dir", str(corpus)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "out"
    res = runner.invoke(cli, ["prepare", "ava_avd", str(tmp_path / "link"), str(out)])
    assert res.exit_code == 0, res.output
    for split in ("train", "val", "test"):
        for kind in ("recordings", "supervisions", "cuts"):
            assert (out / f"ava_avd_{kind}_{split}.jsonl.gz").is_file()
        assert (out / f"ava_avd_{split}.uem").read_text().count("\n") == 3
    cuts = CutSet.from_file(out / "ava_avd_cuts_train.jsonl.gz")
    assert sorted(cuts.ids)[0] == "-FaXLcSFjUI_c_01"
    assert "-FaXLcSFjUI_c_01 1 0.000 2.500" in (out / "ava_avd_train.uem").read_text()
    report = (out / "ava_avd_prepare_report.txt").read_text()
    assert "1j20qq1JyX4_c_01" in report and "2XeFK-DTSZk_c_01" in report
    res = runner.invoke(cli, ["prepare", "ava_avd", "--help"])
    assert "--audio-dir" in res.output and "Default" in res.output and "seconds" in res.output


# ---------------------------------------------------------------------------
# real split lists with stand-in RTTMs and 0.1 s WAVs


@pytest.mark.realdata
def test_real_split_lists(realdata, tmp_path):
    real = realdata / "ava_avd" / "split"
    data = tmp_path / "AVA-AVD" / "dataset"
    shutil.copytree(real, data / "split")
    offsets = read_offsets(real / "offsets.txt")
    (data / "rttms").mkdir()
    (data / "waves").mkdir()
    silence = np.zeros(1600, dtype=np.int16)
    clips = [c for s in ("train", "val", "test") for c in (real / f"{s}.list").read_text().split()]
    for clip in clips:
        start = offsets.get(clip, 900.0 + 300.0 * (int(clip[-2:]) - 1))
        (data / "rttms" / f"{clip}.rttm").write_text(
            f"SPEAKER {clip} 1 {start:.3f} 10.000 <NA> <NA> spk01 <NA> <NA>\n"
            f"SPEAKER {clip} 1 {start + 5:.3f} 20.000 <NA> <NA> spk02 <NA> <NA>\n"
        )
        soundfile.write(data / "waves" / f"{clip}.wav", silence, 16000)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli, ["prepare", "ava_avd", str(tmp_path / "AVA-AVD"), str(out), "--duration-from-annotations", "--no-extract"]
    )
    assert res.exit_code == 0, res.output
    from recipes.stats import cutset_stats, summarize

    sizes = {s: len(CutSet.from_file(out / f"ava_avd_cuts_{s}.jsonl.gz")) for s in ("train", "val", "test")}
    assert sizes == {"train": 243, "val": 54, "test": 54}
    cuts = CutSet.from_file(out / "ava_avd_cuts.jsonl.gz")
    videos = {video_of(c.id) for c in cuts}
    assert len(videos) == 117
    assert videos == {Path(v).stem for v in (real / "video.list").read_text().split()}
    dash = sorted(c.id for c in cuts if c.id.startswith("-"))
    assert "-FaXLcSFjUI_c_01" in dash and "-IELREHX_js_c_03" in dash
    assert all(Path(c.recording.sources[0].source).name == f"{c.id}.wav" for c in cuts)
    summary = summarize(cutset_stats(cuts))
    assert summary["recordings"] == 351 and summary["turns"] == 702
    assert summary["duration_hours"] == pytest.approx(351 * 25 / 3600)  # each clip: offset .. offset + 25 s
    report = (out / "ava_avd_prepare_report.txt").read_text()
    assert "clip offsets: 3 from offsets.txt, 348 = first turn start" in report


def test_clip_offset_on_each_cut_and_movie_time_export(corpus, tmp_path):
    """The official references are in movie time: export --time-base movie gives back the release's RTTM times."""
    from recipes.export import export_kaldi, export_pyannote

    result, _ = prepare_ava_avd(corpus, progress=False)
    offsets = {c.id: c.custom["clip_offset"] for c in result[""]["cuts"]}
    assert offsets["0f39OWEqJ24_c_01"] > 899 and all(c.custom["movie"] == c.id[:11] for c in result[""]["cuts"])
    # the release's RTTM lines (movie time), independently read here
    release = set()
    for clip in result["val"]["cuts"].ids:
        for line in (corpus / "dataset" / "rttms" / f"{clip}.rttm").read_text().splitlines():
            f = line.split()
            release.add((f[1], round(float(f[3]), 2), round(float(f[3]) + float(f[4]), 2), f"{f[1]}_{f[7]}"))

    def rttm_set(path):
        out = set()
        for line in Path(path).read_text().splitlines():
            f = line.split()
            out.add((f[1], round(float(f[3]), 2), round(float(f[3]) + float(f[4]), 2), f[7]))
        return out

    export_pyannote({"val": result["val"]["cuts"]}, tmp_path / "pya", "AVA", time_base="movie")
    assert rttm_set(tmp_path / "pya" / "rttms" / "development.rttm") == release
    uem = (tmp_path / "pya" / "uems" / "development.uem").read_text().split()
    assert float(uem[2]) == pytest.approx(offsets[uem[0]])  # the UEM starts at the clip start in the movie
    export_pyannote({"val": result["val"]["cuts"]}, tmp_path / "clip", "AVA")
    assert min(t[1] for t in rttm_set(tmp_path / "clip" / "rttms" / "development.rttm")) == 0.0
    export_kaldi(result["val"]["cuts"], tmp_path / "kaldi", audio="wav", time_base="movie")
    assert rttm_set(tmp_path / "kaldi" / "rttm") == release
    segments = (tmp_path / "kaldi" / "segments").read_text().split("\n")[0].split()
    assert float(segments[2]) < 10  # segments stay in audio (clip) time
    with pytest.raises(ValueError, match="clip_offset"):
        export_kaldi(
            CutSet.from_cuts([result["val"]["cuts"][0].with_custom("clip_offset", None)]),
            tmp_path / "k2",
            audio="wav",
            time_base="movie",
        )
