"""egs/demo/run.sh end to end: outputs, idempotent reruns, a killed stage redone correctly."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from lhotse import CutSet

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    """A copy of egs/demo/run.sh next to the repository's local/ and conf/ (so the repo stays clean)."""
    root = tmp_path_factory.mktemp("repo")
    (root / "egs" / "demo").mkdir(parents=True)
    shutil.copy(REPO / "egs" / "demo" / "run.sh", root / "egs" / "demo" / "run.sh")
    os.symlink(REPO / "local", root / "local")
    os.symlink(REPO / "conf", root / "conf")
    return root / "egs" / "demo"


def run(recipe, *args, check=True):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    res = subprocess.run(
        ["bash", str(recipe / "run.sh"), "--num-recordings", "3", "--duration", "20", *args],
        cwd=recipe,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert res.returncode == 0, res.stderr[-3000:]
    return res


def snapshot(directory):
    return {p: p.stat().st_mtime_ns for p in sorted(Path(directory).rglob("*")) if p.is_file()}


def load_all_features(path):
    return {c.id: c.load_features() for c in CutSet.from_file(path)}


def test_demo_end_to_end_then_idempotent_then_killed_and_rerun(recipe, monkeypatch):
    monkeypatch.chdir(recipe)  # manifests hold paths relative to the recipe directory, as in icefall
    run(recipe)
    data = recipe / "data"
    for split in ("train", "dev"):
        cuts = CutSet.from_file(data / "cuts" / f"demo_cuts_{split}.jsonl.gz")
        for cut in cuts:
            assert cut.features.type == "kaldi-native-fbank" and cut.features.sampling_rate == 8000
            assert cut.load_features().shape == (cut.num_frames, 23)
        labelled = CutSet.from_file(data / "cuts" / f"demo_cuts_{split}_binary.jsonl.gz")
        for cut in labelled:
            assert cut.load_labels().shape == (cut.num_frames, len(cut.speakers))
    # lhotse cut describe succeeded on every CutSet the recipe wrote
    described = sorted(p.name for p in (data / "stats").glob("*.lhotse.txt"))
    assert described == sorted(p.name.replace(".jsonl.gz", ".lhotse.txt") for p in (data / "cuts").glob("*.jsonl.gz"))
    for p in (data / "stats").glob("*.lhotse.txt"):
        assert "Cuts count" in p.read_text()
    for name in ("demo_card.md", "demo_table.tex", "demo_stats.json", "demo.png"):
        assert (data / "stats" / name).stat().st_size > 100
    # stage 4 validated every recording against its audio: the 3 demo recordings run() makes, each clean
    checked = json.loads((data / "stats" / "demo_validate.json").read_text())
    assert sorted(e["id"] for e in checked["recordings"]) == [f"demo{i:02d}" for i in range(3)]
    assert all(e["flags"] == [] for e in checked["recordings"]), checked["summary"]
    assert "3 recordings (3 channels" in (data / "stats" / "demo_validate.md").read_text()
    assert "0 flagged" in (data / "stats" / "demo_validate.md").read_text()
    assert (data / "stats" / "demo_validate.png").stat().st_size > 100
    res = subprocess.run(
        [
            Path(sys.executable).parent / "lhotse",
            "validate",
            "--read-data",
            str(data / "cuts" / "demo_cuts_dev.jsonl.gz"),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr

    # Rerunning finished stages does nothing.
    before = snapshot(recipe)
    res = run(recipe)
    assert res.stderr.count("already done") == 5
    assert snapshot(recipe) == before
    res = run(recipe, "--stage", "2")
    assert res.stderr.count("already done") == 3 and snapshot(recipe) == before

    # Kill stage 2 in the middle (as soon as it starts writing archives), then rerun.
    reference = load_all_features(data / "cuts" / "demo_cuts_train.jsonl.gz")
    shutil.rmtree(data / "fbank")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    proc = subprocess.Popen(
        ["bash", str(recipe / "run.sh"), "--num-recordings", "3", "--duration", "20", "--stage", "2", "--force"],
        cwd=recipe,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while not (data / "fbank").exists() and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (data / ".done" / "stage_2.done").exists()
    res = run(recipe, "--stage", "2")
    assert "Stage 2: fbank (demo)\n" in res.stderr  # redone, not skipped
    again = load_all_features(data / "cuts" / "demo_cuts_train.jsonl.gz")
    assert again.keys() == reference.keys()
    for k in reference:
        np.testing.assert_array_equal(again[k], reference[k])
    assert not list(data.rglob("*.partial*"))
