"""DIHARD III recipe on a miniature LDC release (tests/fixtures/dihard3.py).

No download test against ``http_server``: DIHARD III is LDC-licensed and has
no download URL; ``diar download dihard3`` only links a local copy (tested), and
refuses without ``--corpus-dir`` with a message naming the LDC catalogue.

Lhotse comparison: ``lhotse.recipes.dihard3.prepare_dihard3`` reads the same
fixture (per-file ``data/uem/<id>.uem`` and the 9-column recordings.tbl it needs
are in the fixture); it fails on a FLAC without RTTM, so it gets the fixture
without the unmatched files. Recordings (ids, durations) and speech coverage
(union of turns per recording) are compared; Lhotse's speaker ids are the
local ``speakerN`` labels.

Real data: no DIHARD III reference is public. The realdata tests build a
stand-in release from the real id lists (254 dev / 259 eval) and read the real
DIHARD II dev UEM (192 files, multi-interval) through the recipe's UEM path.
"""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner
from lhotse import CutSet

from recipes.cli import cli
from recipes.corpora.dihard3 import download_dihard3, find_releases, prepare_dihard3, read_recordings_table
from recipes.labels import IGNORE, activity_matrix
from recipes.rttm import AnnotationError
from tests.fixtures.dihard3 import RECORDINGS, build_dihard3_fixture, release_dir
from tests.fixtures.expect import union_length

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_dihard3_fixture(tmp_path_factory.mktemp("dihard3"), unmatched=True)


@pytest.fixture(scope="module")
def clean_corpus(tmp_path_factory):
    return build_dihard3_fixture(tmp_path_factory.mktemp("dihard3_clean"))


def turns_of(parts, rec=None):
    return sorted(
        (s.recording_id, round(s.start, 6), round(s.end, 6), s.speaker)
        for s in parts["supervisions"]
        if rec is None or s.recording_id == rec
    )


def test_full_partition_recordings_turns_speakers_uem_domain(corpus):
    result, report = prepare_dihard3(corpus, progress=False)
    assert set(result) == {"", "dev", "eval"}
    assert sorted(result["dev"]["cuts"].ids) == ["DH_DEV_0001", "DH_DEV_0002", "DH_DEV_0003"]
    assert sorted(result["eval"]["cuts"].ids) == ["DH_EVAL_0001", "DH_EVAL_0002"]
    recs = {r.id: r for r in result[""]["recordings"]}
    assert {i: r.duration for i, r in recs.items()} == {i: v[4] for i, v in RECORDINGS.items()}
    assert all(r.sampling_rate == 16000 and r.num_channels == 1 for r in recs.values())
    assert all(r.sources[0].source.endswith(".flac") for r in recs.values())
    # file lines come out sorted, speaker labels become global <id>_speakerN
    assert turns_of(result["dev"], "DH_DEV_0002") == [
        ("DH_DEV_0002", 0.3, 1.3, "DH_DEV_0002_speaker1"),
        ("DH_DEV_0002", 1.45, 1.95, "DH_DEV_0002_speaker1"),
        ("DH_DEV_0002", 1.5, 1.9, "DH_DEV_0002_speaker2"),
        ("DH_DEV_0002", 2.6, 3.8, "DH_DEV_0002_speaker2"),
    ]
    speakers = {s.speaker for s in result[""]["supervisions"]}
    assert "DH_DEV_0001_speaker1" in speakers and "DH_EVAL_0001_speaker1" in speakers and "speaker1" not in speakers
    # the multi-interval UEM (PII gap) is on the cut; the turns in the gap stay in the supervisions
    cuts = {c.id: c for c in result[""]["cuts"]}
    assert cuts["DH_DEV_0002"].custom["uem"] == [[0.0, 1.4], [2.0, 4.0]]
    assert result["dev"]["uem"]["DH_DEV_0002"] == [(0.0, 1.4), (2.0, 4.0)]
    assert cuts["DH_DEV_0001"].custom["uem"] == [[0.0, 3.0]]
    # domain metadata from recordings.tbl on every cut
    for rec_id, (_, core, domain, source, *_rest) in RECORDINGS.items():
        assert cuts[rec_id].custom["domain"] == domain
        assert cuts[rec_id].custom["source"] == source
        assert cuts[rec_id].custom["in_core"] is core
    assert "dev (full): 3 recordings by domain: audiobooks 1, clinical 1, cts 1" in report.text()
    # nothing dropped silently
    assert report.annotations_without_audio == ["DH_DEV_0009"]
    assert report.audio_without_annotations == ["DH_EVAL_0009"]


def test_uem_gap_frames_are_ignored_by_labels(corpus):
    result, _ = prepare_dihard3(corpus, progress=False)
    cut = next(c for c in result[""]["cuts"] if c.id == "DH_DEV_0002")
    labels = activity_matrix(cut, ["DH_DEV_0002_speaker1", "DH_DEV_0002_speaker2"])
    assert labels.shape == (400, 2)
    assert (labels[141:199] == IGNORE).all()  # frames centred in 1.4-2.0 s
    assert (labels[:140] != IGNORE).all() and (labels[201:] != IGNORE).all()
    assert labels[50, 0] == 1 and labels[300, 1] == 1 and labels[300, 0] == 0


def test_core_partition_keeps_in_core_recordings_and_core_uem(corpus):
    result, report = prepare_dihard3(corpus, partition="core", progress=False)
    assert sorted(result["dev"]["cuts"].ids) == ["DH_DEV_0001", "DH_DEV_0002"]
    assert sorted(result["eval"]["cuts"].ids) == ["DH_EVAL_0001"]
    expected_core = sorted(i for i, v in RECORDINGS.items() if v[1])
    assert sorted(result[""]["cuts"].ids) == expected_core
    assert all(c.custom["in_core"] for c in result[""]["cuts"])
    assert "1 recording(s) outside the core partition" in report.text() and "DH_DEV_0003" in report.text()


def test_recordings_table_by_header_names(tmp_path):
    tbl = tmp_path / "recordings.tbl"
    tbl.write_text(
        "file_id\tdomain\tlanguage\tin_core\nDH_DEV_0007\tmaptask\teng\tFalse\nDH_DEV_0008\tcourt\teng\tTrue\n"
    )
    assert read_recordings_table(tbl) == {
        "DH_DEV_0007": {"in_core": False, "lang": "eng", "domain": "maptask", "source": None},
        "DH_DEV_0008": {"in_core": True, "lang": "eng", "domain": "court", "source": None},
    }
    tbl.write_text("uri\tin_core\tdomain\nDH_DEV_0007\tyes\tcourt\n")
    with pytest.raises(AnnotationError, match=r"recordings.tbl:2: in_core 'yes'; expected True or False"):
        read_recordings_table(tbl)
    tbl.write_text("uri\tlang\nDH_DEV_0007\teng\n")
    with pytest.raises(AnnotationError, match=r"recordings.tbl:1: .* no uri/domain column"):
        read_recordings_table(tbl)


def test_core_partition_from_core_uem_when_table_has_no_flag(corpus, tmp_path):
    copy = tmp_path / "dh"
    shutil.copytree(corpus, copy)
    for split in ("dev", "eval"):
        tbl = release_dir(copy, split) / "docs" / "recordings.tbl"
        rows = [line.split("\t") for line in tbl.read_text().splitlines()]
        tbl.write_text("".join("\t".join(r[:1] + r[2:]) + "\n" for r in rows))  # drop in_core
    result, _ = prepare_dihard3(copy, partition="core", progress=False)
    assert sorted(result[""]["cuts"].ids) == sorted(i for i, v in RECORDINGS.items() if v[1])


def test_duration_from_annotations_uses_uem_end(corpus, tmp_path):
    copy = tmp_path / "dh"
    shutil.copytree(corpus, copy)
    full = release_dir(copy, "dev") / "data" / "uem_scoring" / "full" / "all.uem"
    full.write_text(full.read_text().replace("DH_DEV_0001 1 0.000 3.000", "DH_DEV_0001 1 0.000 2.800"))
    result, _ = prepare_dihard3(copy, duration_from_annotations=True, progress=False)
    durations = {r.id: r.duration for r in result[""]["recordings"]}
    assert durations["DH_DEV_0001"] == 2.8 and durations["DH_DEV_0002"] == 4.0


def test_malformed_annotations_name_file_and_line(corpus, tmp_path):
    bad = tmp_path / "dh"
    shutil.copytree(corpus, bad)
    rttm = release_dir(bad, "eval") / "data" / "rttm" / "DH_EVAL_0001.rttm"
    rttm.write_text(rttm.read_text() + "SPEAKER DH_EVAL_0001 1 2.0 abc <NA> <NA> speaker1 <NA> <NA>\n")
    with pytest.raises(AnnotationError) as e:
        prepare_dihard3(bad, progress=False)
    assert str(e.value).startswith(f"{rttm}:4: ")
    rttm.write_text("")
    tbl = release_dir(bad, "dev") / "docs" / "recordings.tbl"
    good = tbl.read_text()
    tbl.write_text(good + "DH_DEV_0004\tTrue\teng\n")
    with pytest.raises(AnnotationError) as e:
        prepare_dihard3(bad, progress=False)
    assert str(e.value).startswith(f"{tbl}:5: 3 fields")
    tbl.write_text(good)
    uem = release_dir(bad, "dev") / "data" / "uem_scoring" / "full" / "all.uem"
    uem.write_text(uem.read_text() + "DH_DEV_0004 1 3.0\n")
    with pytest.raises(AnnotationError) as e:
        prepare_dihard3(bad, progress=False)
    assert str(e.value).startswith(f"{uem}:")


def test_release_split_detected_from_ids_not_walk_order(corpus, tmp_path):
    other = tmp_path / "LDC"
    other.mkdir()
    os.symlink(release_dir(corpus, "dev"), other / "LDC2022S12")  # folder name without 'dev'
    os.symlink(release_dir(corpus, "eval"), other / "LDC2022S14")
    assert find_releases(other) == {"dev": other / "LDC2022S12", "eval": other / "LDC2022S14"}
    a, _ = prepare_dihard3(other, progress=False)
    b, _ = prepare_dihard3(corpus, progress=False)
    assert turns_of(a[""]) == turns_of(b[""])


def test_same_recordings_and_speech_coverage_as_lhotse(clean_corpus):
    from lhotse.recipes.dihard3 import prepare_dihard3 as lhotse_prepare

    ours, _ = prepare_dihard3(clean_corpus, progress=False)
    theirs = lhotse_prepare(release_dir(clean_corpus, "dev"), release_dir(clean_corpus, "eval"))
    for split in ("dev", "eval"):
        our_recs = {r.id: r.duration for r in ours[split]["recordings"]}
        their_recs = {r.id: r.duration for r in theirs[split]["recordings"]}
        assert our_recs == their_recs
        for rec_id in our_recs:
            cov = [
                union_length([(s.start, s.end) for s in m[split]["supervisions"] if s.recording_id == rec_id])
                for m in (ours, theirs)
            ]
            assert cov[0] == pytest.approx(cov[1], abs=1e-6)
        # Lhotse's UEM segments = our cut UEMs
        their_uem = sorted((s.recording_id, round(s.start, 3), round(s.end, 3)) for s in theirs[split]["uem"])
        our_uem = sorted((c.id, round(a, 3), round(b, 3)) for c in ours[split]["cuts"] for a, b in c.custom["uem"])
        assert our_uem == their_uem
    assert {s.speaker for s in theirs["dev"]["supervisions"]} == {"speaker1", "speaker2"}  # local labels


def test_download_needs_corpus_dir_and_links(corpus, tmp_path):
    with pytest.raises(RuntimeError, match="LDC"):
        download_dihard3(tmp_path / "dl")
    assert not (tmp_path / "dl").exists()
    runner = CliRunner()
    res = runner.invoke(cli, ["download", "dihard3", str(tmp_path / "dl")])
    assert res.exit_code != 0 and "LDC-licensed" in res.output and "--corpus-dir" in res.output
    res = runner.invoke(cli, ["download", "dihard3", str(tmp_path / "link"), "--corpus-dir", str(corpus)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "link").resolve() == corpus.resolve()


def test_cli_prepare_full_and_core(corpus, tmp_path):
    runner = CliRunner()
    out = tmp_path / "out"
    res = runner.invoke(cli, ["prepare", "dihard3", str(corpus), str(out)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["prepare", "dihard3", str(corpus), str(out), "--partition", "core"])
    assert res.exit_code == 0, res.output
    for name in ("dihard3", "dihard3-core"):
        for split in ("dev", "eval"):
            for kind in ("recordings", "supervisions", "cuts"):
                assert (out / f"{name}_{kind}_{split}.jsonl.gz").is_file()
            assert (out / f"{name}_{split}.uem").is_file()
    assert sorted(CutSet.from_file(out / "dihard3-core_cuts_dev.jsonl.gz").ids) == ["DH_DEV_0001", "DH_DEV_0002"]
    cut = CutSet.from_file(out / "dihard3_cuts_dev.jsonl.gz").to_eager()["DH_DEV_0002"]
    assert cut.custom["domain"] == "clinical" and cut.custom["uem"] == [[0.0, 1.4], [2.0, 4.0]]
    assert "DH_DEV_0002 1 2.000 4.000" in (out / "dihard3_dev.uem").read_text()
    report = (out / "dihard3_prepare_report.txt").read_text()
    assert "DH_DEV_0009" in report and "DH_EVAL_0009" in report
    res = runner.invoke(cli, ["prepare", "dihard3", "--help"])
    assert "--partition" in res.output and "seconds" in res.output and "Default" in res.output


# ---------------------------------------------------------------------------
# real id lists / real UEM with stand-in RTTMs and 0.1 s FLACs


def stand_in_release(root: Path, split: str, ids, uem_file=None) -> Path:
    rel = release_dir(root, split)
    for sub in ("flac", "rttm"):
        (rel / "data" / sub).mkdir(parents=True)
    silence = np.zeros(1600, dtype=np.int16)
    for n, rec in enumerate(ids):
        soundfile.write(rel / "data" / "flac" / f"{rec}.flac", silence, 16000, format="FLAC")
        (rel / "data" / "rttm" / f"{rec}.rttm").write_text(
            f"SPEAKER {rec} 1 1.000 {1 + n % 7}.500 <NA> <NA> speaker1 <NA> <NA>\n"
            f"SPEAKER {rec} 1 2.000 3.000 <NA> <NA> speaker2 <NA> <NA>\n"
        )
    if uem_file is not None:
        (rel / "data" / "uem_scoring" / "full").mkdir(parents=True)
        shutil.copy(uem_file, rel / "data" / "uem_scoring" / "full" / "all.uem")
    return rel


@pytest.mark.realdata
def test_real_id_lists_give_254_dev_and_259_eval(realdata, tmp_path):
    from recipes.corpora.common import read_id_list

    dev_ids = read_id_list(realdata / "dihard3" / "dev_file_ids.txt")
    eval_ids = read_id_list(realdata / "dihard3" / "eval_file_ids.txt")
    stand_in_release(tmp_path, "dev", dev_ids)
    stand_in_release(tmp_path, "eval", eval_ids)
    result, report = prepare_dihard3(tmp_path, duration_from_annotations=True, progress=False)
    assert len(result["dev"]["cuts"]) == 254 and len(result["eval"]["cuts"]) == 259
    assert sorted(result["dev"]["cuts"].ids) == sorted(dev_ids)
    assert not report.annotations_without_audio and not report.audio_without_annotations
    # speaker ids are per recording: 2 per file, all distinct
    assert len({s.speaker for s in result[""]["supervisions"]}) == 2 * (254 + 259)


@pytest.mark.realdata
def test_real_multi_interval_uem_survives_into_cuts(realdata, tmp_path):
    from recipes.stats import cutset_stats, summarize

    uem_file = realdata / "dihard3" / "dihard2_dev_all.uem"
    ids = sorted({line.split()[0] for line in uem_file.read_text().splitlines() if line.strip()})
    assert len(ids) == 192
    stand_in_release(tmp_path, "dev", ids, uem_file=uem_file)  # DIHARD II naming: split from the folder name
    result, report = prepare_dihard3(tmp_path, duration_from_annotations=True, progress=False)
    cuts = result["dev"]["cuts"]
    assert len(cuts) == 192
    total = sum(b - a for c in cuts for a, b in c.custom["uem"])
    assert total / 3600 == pytest.approx(23.79, abs=0.005)
    # independent sum straight from the file's lines (the file has no overlapping intervals)
    raw = sum(float(f[3]) - float(f[2]) for f in map(str.split, uem_file.read_text().splitlines()) if f)
    assert total == pytest.approx(raw, abs=1e-6)
    multi = [c for c in cuts if len(c.custom["uem"]) > 1]
    assert multi, "the real UEM has files with several scoring regions"
    assert not report.uem_notes
    assert summarize(cutset_stats(cuts))["duration_hours"] == pytest.approx(23.79, abs=0.005)


def test_eval_without_keys_is_a_recordings_only_split(tmp_path):
    corpus = build_dihard3_fixture(tmp_path / "c", eval_keys=False)
    assert not (release_dir(corpus, "eval") / "data" / "rttm").exists()
    result, report = prepare_dihard3(corpus, progress=False)
    evals = sorted(i for i, v in RECORDINGS.items() if v[0] == "eval")
    assert sorted(result["eval"]["cuts"].ids) == evals  # every eval recording, for inference
    assert len(result["eval"]["supervisions"]) == 0
    assert all(c.custom["uem"] for c in result["eval"]["cuts"])  # the scoring regions are kept
    assert len(result["dev"]["supervisions"]) > 0
    assert any("eval: no RTTM under" in n and "for inference only" in n for n in report.notes)
    assert not report.audio_without_annotations
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["prepare", "dihard3", str(corpus), str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "dihard3_cuts_eval.jsonl.gz").is_file()


def test_run_sh_processes_the_keyless_eval_split(tmp_path):
    import subprocess

    from tests.fixtures.sandbox import recipe_sandbox

    corpus = build_dihard3_fixture(tmp_path / "c", eval_keys=False)
    root, env = recipe_sandbox(tmp_path, "dihard3")
    recipe = root / "egs" / "dihard3"
    res = subprocess.run(
        ["bash", str(recipe / "run.sh"), "--corpus-dir", str(corpus), "--stop-stage", "1"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert sorted(p.name for p in (recipe / "data" / "manifests").glob("dihard3_cuts_*.jsonl.gz")) == [
        "dihard3_cuts_dev.jsonl.gz",
        "dihard3_cuts_eval.jsonl.gz",
    ]
