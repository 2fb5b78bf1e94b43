"""VoxConverse recipe on a miniature copy in the real layout (tests/fixtures/voxconverse.py).

Lhotse comparison: ``lhotse.recipes.voxconverse.prepare_voxconverse`` expects
the layout its own downloader makes (``dev/<id>.wav`` next to ``dev/<id>.rttm``,
same for ``test/``), not the layout the archives extract to; the test builds
that layout from the same fixture files with symlinks and compares recordings
(ids, durations) and speech coverage (union of turns) per recording. Lhotse's
speaker ids (``spk00``) are local and its same-speaker overlapping turns are
kept as two supervisions, which the comparison shows too.
"""

import hashlib
import os
import random
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner
from lhotse import CutSet

from recipes.cli import cli
from recipes.corpora.voxconverse import download_voxconverse, prepare_voxconverse, split_dev_recordings
from recipes.download import DownloadError
from recipes.rttm import AnnotationError
from tests.fixtures.expect import union_length
from tests.fixtures.voxconverse import LABEL_DIR, build_voxconverse_fixture

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_voxconverse_fixture(tmp_path_factory.mktemp("voxconverse"), unmatched=True)


def turns_of(parts):
    return sorted((s.recording_id, round(s.start, 6), round(s.end, 6), s.speaker) for s in parts["supervisions"])


def test_prepare_fixture_splits_turns_speakers_uem_and_report(corpus):
    result, report = prepare_voxconverse(corpus, progress=False)
    assert set(result) == {"", "dev", "test"}
    assert sorted(c.id for c in result["dev"]["cuts"]) == ["abjxc", "bvqnu", "cqfmj", "dzsef"]
    assert sorted(c.id for c in result["test"]["cuts"]) == ["optsn", "utial"]
    durations = {r.id: r.duration for r in result[""]["recordings"]}
    assert durations == {"abjxc": 4.0, "bvqnu": 3.0, "cqfmj": 3.0, "dzsef": 3.0, "optsn": 3.0, "utial": 4.0}
    assert all(r.sampling_rate == 16000 and r.num_channels == 1 for r in result[""]["recordings"])
    # unsorted file lines come out sorted; labels become global <id>_spkNN
    assert turns_of(result["dev"])[:3] == [
        ("abjxc", 0.5, 2.0, "abjxc_spk00"),
        ("abjxc", 1.8, 3.5, "abjxc_spk01"),
        ("abjxc", 3.6, 3.9, "abjxc_spk00"),
    ]
    # same-speaker overlaps merged: utial 1.0-1.6 lies inside 0.5-3.2; optsn 0.4-1.2 + 1.19-2.0
    assert turns_of(result["test"]) == [
        ("optsn", 0.4, 2.0, "optsn_spk01"),
        ("optsn", 2.1, 2.9, "optsn_spk00"),
        ("utial", 0.5, 3.2, "utial_spk00"),
        ("utial", 3.0, 3.8, "utial_spk01"),
    ]
    # the spk00 of two recordings are two speakers
    speakers = {s.speaker for s in result[""]["supervisions"]}
    assert "abjxc_spk00" in speakers and "bvqnu_spk00" in speakers and "spk00" not in speakers
    # whole-recording UEM on every cut
    for cut in result[""]["cuts"]:
        assert cut.custom["uem"] == [[0.0, durations[cut.id]]]
    assert result["test"]["uem"] == {"optsn": [(0.0, 3.0)], "utial": [(0.0, 4.0)]}
    # nothing dropped silently
    assert report.annotations_without_audio == ["xnoau"]
    assert report.audio_without_annotations == ["yorph"]
    assert "test: 2 same-speaker overlapping turn(s) merged" in report.text()
    assert "dev: 0 same-speaker" in report.text()


def test_dev_turn_count_is_the_number_of_rttm_lines(corpus):
    result, _ = prepare_voxconverse(corpus, progress=False)
    lines = sum(
        len(p.read_text().splitlines()) for p in (corpus / LABEL_DIR / "dev").glob("*.rttm") if p.stem != "xnoau"
    )
    assert lines == 9
    assert len(result["dev"]["supervisions"]) == lines


def test_duration_from_annotations_uses_last_turn_end(corpus):
    result, _ = prepare_voxconverse(corpus, duration_from_annotations=True, progress=False)
    durations = {r.id: r.duration for r in result[""]["recordings"]}
    assert durations == {"abjxc": 3.9, "bvqnu": 2.8, "cqfmj": 2.9, "dzsef": 2.9, "optsn": 2.9, "utial": 3.8}


def test_split_dev_ratio_is_deterministic_disjoint_and_covers_dev(corpus):
    ids = [f"r{i:03d}" for i in range(40)]
    train, dev = split_dev_recordings(ids, 0.25, seed=3)
    shuffled = ids[:]
    random.Random(1).shuffle(shuffled)
    assert split_dev_recordings(shuffled, 0.25, seed=3) == (train, dev)  # order-independent
    assert len(dev) == 10 and not set(train) & set(dev) and sorted(train + dev) == ids
    assert split_dev_recordings(ids, 0.25, seed=4) != (train, dev)  # the seed matters
    with pytest.raises(ValueError):
        split_dev_recordings(ids, 1.0)

    result, report = prepare_voxconverse(corpus, split_dev_ratio=0.5, progress=False)
    train_ids = {c.id for c in result["train"]["cuts"]}
    dev_ids = {c.id for c in result["dev"]["cuts"]}
    assert not train_ids & dev_ids
    assert train_ids | dev_ids == {"abjxc", "bvqnu", "cqfmj", "dzsef"}  # 'xnoau' has no audio
    assert {c.id for c in result["test"]["cuts"]} == {"optsn", "utial"}
    assert any("split into train" in n for n in report.notes)


def test_dev_list_holds_out_exactly_the_listed_recordings(corpus, tmp_path):
    (tmp_path / "held.list").write_text("dzsef\nbvqnu")
    result, _ = prepare_voxconverse(corpus, dev_list=tmp_path / "held.list", progress=False)
    assert sorted(c.id for c in result["dev"]["cuts"]) == ["bvqnu", "dzsef"]
    assert sorted(c.id for c in result["train"]["cuts"]) == ["abjxc", "cqfmj"]
    (tmp_path / "bad.list").write_text("utial\n")  # a test recording
    with pytest.raises(ValueError, match="not VoxConverse dev"):
        prepare_voxconverse(corpus, dev_list=tmp_path / "bad.list", progress=False)


def test_malformed_rttm_is_reported_with_file_and_line(corpus, tmp_path):
    bad = tmp_path / "vc"
    shutil.copytree(corpus, bad)
    path = bad / LABEL_DIR / "test" / "utial.rttm"
    path.write_text(path.read_text() + "SPEAKER utial 1 4.0 x.5 <NA> <NA> spk00 <NA> <NA>\n")
    with pytest.raises(AnnotationError) as e:
        prepare_voxconverse(bad, progress=False)
    assert str(e.value).startswith(f"{path}:4: ")


def lhotse_layout(corpus, dest):
    """Lhotse's downloader layout: dev/<id>.{wav,rttm}, test/<id>.{wav,rttm} (symlinks to the fixture)."""
    for split, audio_dir in (("dev", "audio"), ("test", "voxconverse_test_wav")):
        (dest / split).mkdir(parents=True)
        for rttm in (corpus / LABEL_DIR / split).glob("*.rttm"):
            wav = corpus / audio_dir / f"{rttm.stem}.wav"
            if wav.exists():
                os.symlink(rttm, dest / split / rttm.name)
                os.symlink(wav, dest / split / wav.name)
    return dest


def test_same_recordings_and_speech_coverage_as_lhotse(corpus, tmp_path):
    from lhotse.recipes.voxconverse import prepare_voxconverse as lhotse_prepare

    ours, _ = prepare_voxconverse(corpus, progress=False)
    theirs = lhotse_prepare(lhotse_layout(corpus, tmp_path / "lhotse"))
    for split in ("dev", "test"):
        our_recs = {r.id: r.duration for r in ours[split]["recordings"]}
        their_recs = {r.id: r.duration for r in theirs[split]["recordings"]}
        assert our_recs == their_recs
        for rec_id in our_recs:
            ours_cov = union_length([(s.start, s.end) for s in ours[split]["supervisions"] if s.recording_id == rec_id])
            theirs_cov = union_length(
                [(s.start, s.end) for s in theirs[split]["supervisions"] if s.recording_id == rec_id]
            )
            assert ours_cov == pytest.approx(theirs_cov, abs=1e-6)
    # what Lhotse does differently: local speaker ids and unmerged same-speaker overlaps
    assert {s.speaker for s in theirs["test"]["supervisions"]} == {"spk00", "spk01"}
    assert len(theirs["test"]["supervisions"]) == len(ours["test"]["supervisions"]) + 2


def make_archives(corpus, serve_dir):
    """The three archives with the real names and internal layout."""
    serve_dir.mkdir()
    with zipfile.ZipFile(serve_dir / "voxconverse_dev_wav.zip", "w") as z:
        for p in sorted((corpus / "audio").glob("*.wav")):
            z.write(p, f"audio/{p.name}")
    with zipfile.ZipFile(serve_dir / "voxconverse_test_wav.zip", "w") as z:
        for p in sorted((corpus / "voxconverse_test_wav").glob("*.wav")):
            z.write(p, f"voxconverse_test_wav/{p.name}")
    commit = LABEL_DIR.split("-", 1)[1]
    with zipfile.ZipFile(serve_dir / f"{commit}.zip", "w") as z:
        for p in sorted((corpus / LABEL_DIR).rglob("*.rttm")):
            z.write(p, str(p.relative_to(corpus)))
    return commit


def test_download_resumes_verifies_and_prepares(corpus, tmp_path, http_server):
    serve = tmp_path / "serve"
    commit = make_archives(corpus, serve)
    url, log = http_server(serve)
    target = tmp_path / "dl"
    # a truncated .part from an interrupted run is resumed with a Range request
    data = (serve / "voxconverse_test_wav.zip").read_bytes()
    (target / "downloads").mkdir(parents=True)
    (target / "downloads" / "voxconverse_test_wav.zip.part").write_bytes(data[:1000])
    digest = hashlib.sha256(data).hexdigest()
    # a wrong checksum: no file under the final name, error names the digests
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        download_voxconverse(target, base_url=url, parts=["dev"], sha256={"dev": "0" * 64}, progress=False)
    assert not (target / "downloads" / "voxconverse_dev_wav.zip").exists()
    assert not (target / "downloads" / "voxconverse_dev_wav.zip.part").exists()
    download_voxconverse(target, base_url=url, sha256={"test": digest}, progress=False)
    assert ("/voxconverse_test_wav.zip", "bytes=1000-") in log
    assert (target / "downloads" / "voxconverse_test_wav.zip").read_bytes() == data
    assert not list(target.rglob("*.part"))
    assert (target / f"voxconverse-{commit}" / "test" / "utial.rttm").is_file()
    result, _ = prepare_voxconverse(target, progress=False)
    assert {c.id for c in result[""]["cuts"]} == {"abjxc", "bvqnu", "cqfmj", "dzsef", "optsn", "utial"}


def test_cli_download_link_and_prepare(corpus, tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["download", "voxconverse", str(tmp_path / "link"), "--corpus-dir", str(corpus)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "link").resolve() == corpus.resolve()
    out = tmp_path / "out"
    res = runner.invoke(cli, ["prepare", "voxconverse", str(tmp_path / "link"), str(out), "--split-dev-ratio", "0.25"])
    assert res.exit_code == 0, res.output
    for split in ("train", "dev", "test"):
        for kind in ("recordings", "supervisions", "cuts"):
            assert (out / f"voxconverse_{kind}_{split}.jsonl.gz").is_file()
        assert (out / f"voxconverse_{split}.uem").is_file()
    report = (out / "voxconverse_prepare_report.txt").read_text()
    assert "xnoau" in report and "yorph" in report and "test: 2 same-speaker" in report
    cuts = CutSet.from_file(out / "voxconverse_cuts_test.jsonl.gz")
    assert sorted(cuts.ids) == ["optsn", "utial"]
    # both split options at once is a usage error; --help states units/defaults
    (tmp_path / "l").write_text("abjxc\n")
    res = runner.invoke(
        cli,
        [
            "prepare",
            "voxconverse",
            str(corpus),
            str(out),
            "--split-dev-ratio",
            "0.5",
            "--dev-list",
            str(tmp_path / "l"),
        ],
    )
    assert res.exit_code != 0 and "not both" in res.output
    res = runner.invoke(cli, ["prepare", "voxconverse", "--help"])
    assert "--split-dev-ratio" in res.output and "Default" in res.output and "seconds" in res.output


# ---------------------------------------------------------------------------
# real labels (v0.3) with 0.1 s stand-in audio


@pytest.fixture(scope="module")
def real_corpus(realdata, tmp_path_factory):
    root = tmp_path_factory.mktemp("vc_real")
    silence = np.zeros(1600, dtype=np.int16)
    for split, audio_dir in (("dev", "audio"), ("test", "voxconverse_test_wav")):
        (root / audio_dir).mkdir()
        os.symlink(realdata / "voxconverse" / split, root / split)  # a label checkout under CORPUS_DIR
        for rttm in (realdata / "voxconverse" / split).glob("*.rttm"):
            soundfile.write(root / audio_dir / f"{rttm.stem}.wav", silence, 16000)
    return root


@pytest.mark.realdata
def test_real_labels_reproduce_stats(real_corpus, realdata):
    from recipes.stats import cutset_stats, summarize

    result, report = prepare_voxconverse(real_corpus, duration_from_annotations=True, progress=False)
    assert len(result["dev"]["cuts"]) == 216 and len(result["test"]["cuts"]) == 232
    assert not report.annotations_without_audio and not report.audio_without_annotations and not report.clipped
    dev = summarize(cutset_stats(result["dev"]["cuts"]))
    assert dev["turns"] == 8268
    assert round(100 * dev["overlap_ratio"], 2) == 3.74
    assert dev["speakers_per_recording"]["max"] == 20
    assert dev["duration_hours"] == pytest.approx(20.11, abs=0.005)
    test = summarize(cutset_stats(result["test"]["cuts"]))
    assert round(100 * test["overlap_ratio"], 2) == 3.05
    assert test["speakers_per_recording"]["max"] == 21
    test_lines = sum(len(p.read_text().split("\n")) - 1 for p in (realdata / "voxconverse" / "test").glob("*.rttm"))
    assert test["turns"] == test_lines - 2
    # the two same-speaker overlaps of v0.3 test (utial spk00, optsn spk01) were merged and counted
    assert "test: 2 same-speaker overlapping turn(s) merged" in report.text()
