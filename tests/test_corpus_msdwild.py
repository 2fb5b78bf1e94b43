"""MSDWild recipe: the miniature corpus (tests/fixtures/msdwild.py) in the GitHub release layout
and in the realdata snapshot layout, the real RTTMs, download, CLI and run.sh.

Lhotse has no MSDWild recipe, so there is no Lhotse comparison.
"""

import hashlib
import io
import os
import shutil
import zipfile
from pathlib import Path

import pytest
import soundfile
from click.testing import CliRunner
from lhotse import CutSet

from recipes.cli import cli
from recipes.corpora.msdwild import download_msdwild, prepare_msdwild
from recipes.download import DownloadError
from recipes.rttm import AnnotationError
from recipes.stats import cutset_stats, summarize
from tests.fixtures.msdwild import CLIPS, build_msdwild_fixture

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", params=["release", "snapshot"])
def corpus(request, tmp_path_factory):
    return build_msdwild_fixture(tmp_path_factory.mktemp(request.param), layout=request.param)


def test_recordings_turns_speakers_uem_and_splits(corpus):
    result, report = prepare_msdwild(corpus, progress=False)
    complete = [c for c in CLIPS if c.audio and c.labels]
    assert sorted(r.id for r in result[""]["recordings"]) == sorted(c.id for c in complete)
    for split in ("few.train", "few.val", "many.val"):
        assert sorted(c.id for c in result[split]["cuts"]) == sorted(c.id for c in complete if c.split == split)
    for clip in complete:
        (cut,) = [c for c in result[clip.split]["cuts"] if c.id == clip.id]
        assert cut.channel == 0 and cut.duration == pytest.approx(clip.duration)
        assert cut.custom["uem"] == [[0.0, clip.duration]]
        expected = sorted(
            (round(s, 6), round(min(e, clip.duration), 6), f"{clip.id}_{label}")
            for label, spans in clip.turns.items()
            for s, e in spans
        )
        assert sorted((s.start, round(s.end, 6), s.speaker) for s in cut.supervisions) == expected
    speakers = {s.speaker for s in result[""]["supervisions"]}
    assert {"00001_0", "00002_0", "00002_h0", "01935_h", "00004_h0"} <= speakers  # label 0 in two clips: two ids
    assert report.annotations_without_audio == ["00005"]
    assert report.audio_without_annotations == ["00006"]
    assert report.clipped and report.clipped[0].startswith("01935")
    snapshot = not (corpus / "rttms" / "all.rttm").exists()
    assert any("few.train.rttm absent" in n for n in report.notes) == snapshot


def test_split_file_that_disagrees_with_all_rttm_is_noted(tmp_path):
    corpus = build_msdwild_fixture(tmp_path / "c", layout="release")
    path = corpus / "rttms" / "few.val.rttm"
    path.write_text(path.read_text().replace("0.324000", "0.325000"))
    result, report = prepare_msdwild(corpus, progress=False)
    assert any("01935 has other turns in few.val.rttm than in all.rttm" in n for n in report.notes)
    (cut,) = result["few.val"]["cuts"]
    assert 0.324 in [s.start for s in cut.supervisions]  # all.rttm is the source


def test_malformed_rttm_line_names_file_and_line(tmp_path):
    corpus = build_msdwild_fixture(tmp_path / "c", layout="release")
    path = corpus / "rttms" / "all.rttm"
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("0 1.300000", "0 1,3")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(AnnotationError, match=rf"{path}:3: onset \(field 4\) '1,3' is not a number"):
        prepare_msdwild(corpus, progress=False)


def test_duration_from_annotations_and_split_subset(tmp_path):
    corpus = build_msdwild_fixture(tmp_path / "c", layout="release")
    result, _ = prepare_msdwild(corpus, splits=["many.val"], duration_from_annotations=True, progress=False)
    assert list(result) == ["", "many.val"]
    (cut,) = result["many.val"]["cuts"]
    assert cut.duration == pytest.approx(3.9)  # last turn end of clip 00004


def test_download_labels_and_audio_zip(tmp_path, http_server):
    src = build_msdwild_fixture(tmp_path / "src", layout="release")
    served = tmp_path / "served"
    shutil.copytree(src / "rttms", served / "rttms")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in sorted((src / "wav").glob("*.wav")):
            z.write(p, f"wav/{p.name}")
    (served / "msdwild_wavs.zip").write_bytes(buf.getvalue())
    md5 = hashlib.md5(buf.getvalue()).hexdigest()
    sums = {
        n: hashlib.sha256((served / "rttms" / n).read_bytes()).hexdigest()
        for n in ("all.rttm", "few.train.rttm", "few.val.rttm", "many.val.rttm")
    }
    url, log = http_server(served)
    target = tmp_path / "dl"
    (target).mkdir()
    data = buf.getvalue()
    (target / "msdwild_wavs.zip.part").write_bytes(data[:1000])
    download_msdwild(target, base_url=f"{url}/rttms", wav_url=f"{url}/msdwild_wavs.zip", wav_md5=md5, checksums=sums)
    assert ("/msdwild_wavs.zip", "bytes=1000-") in log
    assert (target / "msdwild_wavs.zip").read_bytes() == data and not list(target.rglob("*.part"))
    for n in sums:
        assert (target / "rttms" / n).read_bytes() == (served / "rttms" / n).read_bytes()
    result, _ = prepare_msdwild(target, progress=False)
    assert len(result[""]["recordings"]) == 4
    with pytest.raises(DownloadError, match="md5 mismatch"):
        download_msdwild(tmp_path / "bad", base_url=f"{url}/rttms", wav_url=f"{url}/msdwild_wavs.zip", wav_md5="0" * 32)
    assert not (tmp_path / "bad" / "msdwild_wavs.zip").exists()
    assert not (tmp_path / "bad" / "msdwild_wavs.zip.part").exists()


def test_cli_link_and_prepare(tmp_path):
    corpus = build_msdwild_fixture(tmp_path / "c", layout="snapshot")
    runner = CliRunner()
    res = runner.invoke(cli, ["download", "msdwild", str(tmp_path / "link"), "--corpus-dir", str(corpus)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "out"
    res = runner.invoke(cli, ["prepare", "msdwild", str(tmp_path / "link"), str(out)])
    assert res.exit_code == 0, res.output
    for split in ("few.train", "few.val", "many.val"):
        for kind in ("recordings", "supervisions", "cuts"):
            assert (out / f"msdwild_{kind}_{split}.jsonl.gz").is_file()
        assert (out / f"msdwild_{split}.uem").is_file()
    cuts = CutSet.from_file(out / "msdwild_cuts_few.val.jsonl.gz")
    assert [c.id for c in cuts] == ["01935"]
    assert "00006" in (out / "msdwild_prepare_report.txt").read_text()
    res = runner.invoke(cli, ["prepare", "msdwild", str(corpus), str(out), "--split", "dev"])
    assert res.exit_code != 0 and "dev" in res.output
    help_text = runner.invoke(cli, ["prepare", "msdwild", "--help"]).output
    assert "--duration-from-annotations" in help_text and "seconds" in help_text


# ---------------------------------------------------------------------------
# real annotations (snapshot layout) with 0.1 s stand-in audio


@pytest.mark.realdata
def test_realdata_splits_and_speakers(realdata, tmp_path):
    src = realdata / "msdwild"
    (tmp_path / "rttms").mkdir()
    for name in ("few.val.rttm", "many.val.rttm"):
        os.symlink(src / "rttms" / name, tmp_path / "rttms" / name)
    os.symlink(src / "rttm_per_file", tmp_path / "rttm_per_file")
    (tmp_path / "wav").mkdir()
    stand_in = tmp_path / "silence.wav"
    soundfile.write(stand_in, [0.0] * 1600, 16000)
    for p in (src / "rttm_per_file").glob("*.rttm"):
        os.symlink(stand_in, tmp_path / "wav" / f"{p.stem}.wav")
    result, report = prepare_msdwild(tmp_path, duration_from_annotations=True, progress=False)
    assert not report.annotations_without_audio and not report.audio_without_annotations and not report.unlisted
    expected = {  # STATS.md: recordings, speakers per recording min / mean / max
        "few.train": (2476, 2, 2.53, 4),
        "few.val": (490, 2, 2.60, 4),
        "many.val": (177, 3, 5.82, 10),
    }
    for split, (n, lo, mean, hi) in expected.items():
        stats = summarize(cutset_stats(result[split]["cuts"]))
        spk = stats["speakers_per_recording"]
        assert (stats["recordings"], spk["min"], round(spk["mean"], 2), spk["max"]) == (n, lo, mean, hi), split
    # STATS.md: few.train pooled ov/speech 11.13 %, many.val 17.16 %; labelled hours (last turn end)
    train = summarize(cutset_stats(result["few.train"]["cuts"]))
    assert train["overlap_ratio"] == pytest.approx(0.1113, abs=0.001)
    assert train["duration_hours"] == pytest.approx(65.91, abs=0.01)
    many = summarize(cutset_stats(result["many.val"]["cuts"]))
    assert many["overlap_ratio"] == pytest.approx(0.1716, abs=0.001)
    assert many["duration_hours"] == pytest.approx(4.07, abs=0.01)
    # global speaker ids: the bare off-screen label of clip 01935
    sups = result[""]["supervisions"]
    assert "01935_h" in {s.speaker for s in sups if s.recording_id == "01935"}
    assert len({s.speaker for s in sups}) == len({(s.recording_id, s.speaker) for s in sups})
