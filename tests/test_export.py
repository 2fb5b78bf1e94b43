"""Exports: Kaldi data dir, pyannote.database protocol, Lhotse Shar."""

import os
import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner
from lhotse import CutSet

from recipes.cli import cli
from recipes.corpora.demo import synthesize_demo
from recipes.corpora.generic import prepare_rttm
from recipes.features import compute_fbank
from recipes.labels import compute_labels
from recipes.rttm import read_rttm, read_uem


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    synthesize_demo(root / "demo", num_recordings=3, duration=12.0, seed=2)
    (root / "train.list").write_text("demo00\ndemo01\n")
    (root / "dev.list").write_text("demo02\n")
    result, _ = prepare_rttm(
        root / "demo" / "audio",
        root / "demo" / "rttm",
        uem=root / "demo" / "all.uem",
        splits={"train": root / "train.list", "dev": root / "dev.list"},
        progress=False,
    )
    paths = {}
    for split in ("train", "dev"):
        cuts = compute_fbank(result[split]["cuts"], root / f"fbank_{split}")
        cuts, _ = compute_labels(cuts, root / f"labels_{split}.h5", progress=False)
        paths[split] = root / f"demo_cuts_{split}.jsonl.gz"
        cuts.to_file(paths[split])
    return root, paths


@pytest.fixture
def sox_on_path(tmp_path, monkeypatch):
    """``export kaldi`` refuses pipes when sox is not on PATH (issue 16): these tests check the
    pipe text, so where sox is absent a stand-in that cannot convert anything is put there."""
    if shutil.which("sox") is None:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        (bin_dir / "sox").write_text("#!/bin/sh\nexit 1\n")
        (bin_dir / "sox").chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
        return False
    return True


def supervision_turns(cuts):
    return sorted((c.recording_id, round(s.start, 3), round(s.end, 3), s.speaker) for c in cuts for s in c.supervisions)


def test_kaldi_data_dir(prepared, tmp_path, sox_on_path):
    root, paths = prepared
    out = tmp_path / "kaldi"
    res = CliRunner().invoke(cli, ["export", "kaldi", str(paths["train"]), str(out)])
    assert res.exit_code == 0, res.output
    cuts = CutSet.from_file(paths["train"])
    files = {
        name: (out / name).read_text().splitlines()
        for name in ("wav.scp", "segments", "utt2spk", "spk2utt", "reco2dur")
    }
    for name, lines in files.items():
        keys = [line.split()[0] for line in lines]
        assert keys == sorted(keys), f"{name} not sorted"
    n_sups = sum(len(c.supervisions) for c in cuts)
    assert len(files["segments"]) == len(files["utt2spk"]) == n_sups
    utt2spk = dict(line.split() for line in files["utt2spk"])
    for line in files["spk2utt"]:
        spk, *utts = line.split()
        assert all(utt2spk[u] == spk for u in utts)
    assert sum(len(line.split()) - 1 for line in files["spk2utt"]) == n_sups
    # 16 kHz audio -> sox pipe at 8 kHz
    assert all(line.endswith("|") and "-r 8000" in line for line in files["wav.scp"])
    assert {line.split()[0]: float(line.split()[1]) for line in files["reco2dur"]} == {
        c.recording_id: pytest.approx(c.duration) for c in cuts
    }
    turns, _ = read_rttm(out / "rttm", merge_self_overlaps=False)
    assert sorted((t.recording_id, round(t.start, 3), round(t.end, 3), t.speaker) for t in turns) == supervision_turns(
        cuts
    )
    for line in files["segments"]:
        utt, rec, start, end = line.split()
        assert float(end) > float(start) and rec in utt
    assert read_uem(out / "uem") == {c.recording_id: [(0.5, 11.5)] for c in cuts}
    if sox_on_path:
        cmd = files["wav.scp"][0].split(" ", 1)[1].rstrip("|")
        audio = subprocess.run(cmd, shell=True, capture_output=True, check=True).stdout
        import io

        import soundfile

        data, sr = soundfile.read(io.BytesIO(audio))
        assert sr == 8000 and abs(len(data) / sr - 12.0) < 0.01


def test_pyannote_protocol_loads_back_equal(prepared, tmp_path):
    pytest.importorskip("pyannote.database")
    from pyannote.database import registry

    root, paths = prepared
    out = tmp_path / "pyannote"
    res = CliRunner().invoke(
        cli, ["export", "pyannote", str(paths["train"]), str(paths["dev"]), str(out), "--name", "Demo"]
    )
    assert res.exit_code == 0, res.output
    registry.load_database(out / "database.yml")
    protocol = registry.get_protocol("Demo.SpeakerDiarization.default")
    for subset, split in (("train", "train"), ("development", "dev")):
        cuts = {c.recording_id: c for c in CutSet.from_file(paths[split])}
        files = list(getattr(protocol, subset)())
        assert sorted(f["uri"] for f in files) == sorted(cuts)
        for f in files:
            cut = cuts[f["uri"]]
            got = sorted(
                (round(seg.start, 3), round(seg.end, 3), label)
                for seg, _, label in f["annotation"].itertracks(yield_label=True)
            )
            assert got == sorted((round(s.start, 3), round(s.end, 3), s.speaker) for s in cut.supervisions)
            assert [(seg.start, seg.end) for seg in f["annotated"]] == [tuple(x) for x in cut.custom["uem"]]
            assert (out / "audio" / f"{f['uri']}.wav").resolve() == (
                root / "demo" / "audio" / f"{f['uri']}.wav"
            ).resolve()


@pytest.mark.parametrize("fmt,tolerance", [("numpy", 0.0), ("lilcom", 2**-5)])
def test_shar_round_trip_keeps_features_and_labels(prepared, tmp_path, fmt, tolerance):
    _, paths = prepared
    out = tmp_path / "shar"
    res = CliRunner().invoke(
        cli, ["export", "shar", str(paths["train"]), str(out), "--shard-size", "1", "--features-format", fmt]
    )
    assert res.exit_code == 0, res.output
    orig = {c.id: c for c in CutSet.from_file(paths["train"])}
    back = CutSet.from_shar(in_dir=out)
    seen = 0
    for cut in back:
        o = orig[cut.id]
        diff = np.abs(cut.load_features() - o.load_features()).max()
        assert diff <= tolerance
        np.testing.assert_array_equal(cut.load_labels(), o.load_labels())
        assert cut.custom["speakers"] == o.custom["speakers"]
        seen += 1
    assert seen == len(orig)


def test_pyannote_export_rejects_unknown_split(prepared, tmp_path):
    _, paths = prepared
    bad = tmp_path / "demo_cuts_weird.jsonl.gz"
    shutil.copy(paths["dev"], bad)
    res = CliRunner().invoke(cli, ["export", "pyannote", str(bad), str(tmp_path / "o"), "--name", "X"])
    assert res.exit_code == 1 and "weird" in res.stderr


def test_exports_resolve_relative_audio_paths(prepared, tmp_path, monkeypatch, sox_on_path):
    root, paths = prepared
    import os

    from lhotse.utils import fastcopy

    # the manifest with audio paths relative to `root`, exported from `root` and from elsewhere
    rel = CutSet.from_file(paths["train"])

    relative = [
        fastcopy(
            c,
            recording=fastcopy(
                c.recording,
                sources=[fastcopy(c.recording.sources[0], source=os.path.relpath(c.recording.sources[0].source, root))],
            ),
        )
        for c in rel
    ]
    monkeypatch.chdir(root)
    from recipes.export import export_kaldi

    export_kaldi(CutSet.from_cuts(relative), tmp_path / "k")
    for line in (tmp_path / "k" / "wav.scp").read_text().splitlines():
        path = line.split()[2]  # "<rec> sox <path> ..."
        assert os.path.isabs(path.strip("'")) and os.path.isfile(path.strip("'"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="recipe directory"):
        export_kaldi(CutSet.from_cuts(relative), tmp_path / "k2")
