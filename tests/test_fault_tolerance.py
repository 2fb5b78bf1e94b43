"""Fault tolerance of the long `diar` commands (fbank, labels, simulate).

1. Killed with SIGKILL in the middle, then rerun: the output of an
   uninterrupted run; what the killed run left is never taken as finished.
2. A full disk or a read-only output: one clear line naming the directory,
   exit status 1, no partial file left behind, and (read-only) before any work.

Each command runs in a subprocess through a small shim that wraps one of its
per-item write functions: after the N-th item it touches a marker file and
sleeps, so the test kills it at a known point in the middle of the work (some
archives or shards complete, the next one partial). The shim changes nothing
else; the reference run goes through the same shim without stopping.
"""

import errno
import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from lhotse import CutSet, Recording, RecordingSet, SupervisionSegment
from lhotse.utils import fastcopy

REPO = Path(__file__).resolve().parents[1]

SHIM = r"""
import functools, sys, time
from pathlib import Path
marker, stop_after, target = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
count = 0

def pausing(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        global count
        out = fn(*args, **kwargs)
        count += 1
        if count == stop_after:
            marker.touch()
            time.sleep(600)  # the test kills the process here
        return out
    return wrapper

if target == "fbank":
    import recipes.features as features
    from recipes.lilcom_writer import FastLilcomChunkyWriter
    FastLilcomChunkyWriter.write = pausing(FastLilcomChunkyWriter.write)
    features.compute_fbank = functools.partial(features.compute_fbank, cuts_per_archive=2)
elif target == "labels":
    import recipes.labels as labels
    from lhotse import NumpyHdf5Writer
    NumpyHdf5Writer.store_array = pausing(NumpyHdf5Writer.store_array)
    labels.compute_labels = functools.partial(labels.compute_labels, cuts_per_archive=2)
elif target == "shards":
    import recipes.simulation.shards as shards
    shards._write_shard = pausing(shards._write_shard)
elif target == "materialize":
    import soundfile
    soundfile.write = pausing(soundfile.write)
from recipes.cli import cli
cli.main(args=sys.argv[4:], prog_name="diar")
"""


def shim_command(marker: Path, stop_after: int, target: str, args) -> list:
    return [sys.executable, "-c", SHIM, str(marker), str(stop_after), target, *map(str, args)]


def run_to_completion(target, args, cwd):
    res = subprocess.run(
        shim_command(cwd / "never", 0, target, args), cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr[-3000:]


def run_and_kill(target, args, cwd, stop_after):
    marker = cwd / f"{target}.paused"
    log = cwd / f"{target}.stderr"  # a file, not a pipe: a full pipe would block the command
    with open(log, "w") as err:
        proc = subprocess.Popen(
            shim_command(marker, stop_after, target, args),
            cwd=cwd,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    deadline = time.time() + 240
    while not marker.exists():
        assert proc.poll() is None, log.read_text()[-3000:]  # it must not finish or fail first
        assert time.time() < deadline, "the command never reached the pause point"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    marker.unlink()


def snapshot(directory: Path) -> dict:
    """Every file's content: gzip decompressed (headers hold a time), HDF5 as its arrays
    (HDF5 object headers hold times), FLAC as samples; everything else as bytes."""
    import h5py

    out = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = str(path.relative_to(directory))
        if ".partial" in path.name:  # what a killed run left: its content is not readable in general
            out[rel] = None
        elif path.suffix == ".gz":
            out[rel] = gzip.decompress(path.read_bytes())
        elif path.suffix == ".h5":
            with h5py.File(path, "r") as f:
                out[rel] = {k: f[k][()].tobytes() for k in sorted(f.keys())}
        elif path.suffix == ".flac":
            out[rel] = soundfile.read(path, dtype="int16")[0].tobytes()
        else:
            out[rel] = path.read_bytes()
    return out


def assert_rerun_equals_reference(
    target, args, cwd, out_dir, stop_after, partial_expected, finished_glob=None, partial_glob=None
):
    run_to_completion(target, args, cwd)
    reference = snapshot(out_dir)
    import shutil

    shutil.rmtree(out_dir)
    run_and_kill(target, args, cwd, stop_after)
    left = [p for p in out_dir.rglob("*") if p.is_file()]
    assert any(".partial" in p.name for p in left) == partial_expected, left
    if partial_glob:  # the only partial files are these
        assert {p for p in left if ".partial" in p.name} == set(out_dir.rglob(partial_glob)), left
    if finished_glob:  # some of the work was complete when it was killed
        assert [p for p in out_dir.rglob(finished_glob) if ".partial" not in p.name], left
    assert snapshot(out_dir) != reference  # killed in the middle: the output is not complete
    run_to_completion(target, args, cwd)
    assert snapshot(out_dir) == reference
    assert not [p for p in out_dir.rglob("*") if ".partial" in p.name]


@pytest.fixture
def corpus(tmp_path):
    """6 recordings of 16 kHz WAV with speaker turns (cuts in cuts.jsonl.gz)."""
    rng = np.random.default_rng(0)
    recs, cuts = [], []
    (tmp_path / "audio").mkdir()
    for i in range(6):
        t = np.arange(int(5.0 * 16000)) / 16000
        x = 0.05 * np.sin(2 * np.pi * (150 + 20 * i) * t) + 0.005 * rng.standard_normal(len(t))
        path = tmp_path / "audio" / f"r{i}.wav"
        soundfile.write(path, x.astype(np.float32), 16000, subtype="PCM_16")
        recs.append(Recording.from_file(path))
    for rec in recs:
        sups = [
            SupervisionSegment(f"{rec.id}-{k}", rec.id, start=1.0 * k, duration=1.5, channel=0, speaker=f"spk{k % 3}")
            for k in range(4)
        ]
        cuts.append(
            fastcopy(CutSet.from_manifests(recordings=RecordingSet.from_recordings([rec]))[0], supervisions=sups)
        )
    CutSet.from_cuts(cuts).to_file(tmp_path / "cuts.jsonl.gz")
    return tmp_path


def test_fbank_killed_mid_stage_then_rerun(corpus):
    # 6 cuts, 2 per archive: killed after the 3rd cut (archive 0 complete, archive 1 partial)
    out = corpus / "out"
    args = ["fbank", "cuts.jsonl.gz", "out/cuts_fbank.jsonl.gz", "--storage-path", "out/fbank"]
    assert_rerun_equals_reference(
        "fbank", args, corpus, out, stop_after=3, partial_expected=True, finished_glob="*.lca"
    )


def test_labels_killed_mid_stage_then_rerun(corpus):
    run_to_completion("fbank", ["fbank", "cuts.jsonl.gz", "feats.jsonl.gz", "--storage-path", "fbank"], corpus)
    out = corpus / "out"
    args = ["labels", "feats.jsonl.gz", "out/cuts_binary.jsonl.gz", "--storage-path", "out/labels"]
    # killed after the 3rd cut: archive 0 complete, archive 1 still in memory (written whole when closed);
    # the output manifest, streamed as archives complete, is left under its partial name only
    assert_rerun_equals_reference(
        "labels",
        args,
        corpus,
        out,
        stop_after=3,
        partial_expected=True,
        finished_glob="*.h5",
        partial_glob="*.partial.jsonl.gz",
    )


@pytest.fixture
def sources(tmp_path):
    from recipes.simulation import prepare_sources
    from tests.fixtures.sources import audio_sources

    raw = audio_sources(tmp_path / "wav", per_speaker=3, seed=0)
    CutSet.from_cuts(list(prepare_sources(raw, progress=False))).to_file(tmp_path / "src.jsonl.gz")
    (tmp_path / "small_shards.yaml").write_text("shard_size: 2\nspeakers: {2: 1.0}\nutterances_per_speaker: [1, 2]\n")
    return tmp_path


@pytest.mark.parametrize("phase,stop_after", [("shards", 2), ("materialize", 3)])
def test_simulate_killed_mid_stage_then_rerun(sources, phase, stop_after):
    # 7 mixtures in shards of 2: killed after the 2nd shard, or after the 3rd FLAC of --materialize
    out = sources / "out"
    args = [
        "simulate",
        "src.jsonl.gz",
        "out/mix.jsonl.gz",
        "--config",
        "small_shards.yaml",
        "--num-mixtures",
        "7",
        "--seed",
        "3",
        "--materialize",
        "out/mat",
    ]
    # shards are written whole and renamed (nothing partial at the pause); a FLAC is renamed right after writing
    assert_rerun_equals_reference(
        phase,
        args,
        sources,
        out,
        stop_after,
        partial_expected=(phase == "materialize"),
        finished_glob="mix.0*.jsonl.gz",
    )


# ---------------------------------------------------------------------------
# full disk, read-only output


def diar(*args, cwd):
    res = subprocess.run(
        [sys.executable, "-m", "recipes.cli", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    return res.returncode, res.stderr


def error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


def no_partials(directory: Path) -> bool:
    return not [p for p in directory.rglob("*") if ".partial" in p.name]


@pytest.fixture
def labelled_corpus(corpus):
    code, err = diar("fbank", "cuts.jsonl.gz", "feats.jsonl.gz", "--storage-path", "fbank", cwd=corpus)
    assert code == 0, err
    return corpus


def test_labels_on_a_full_disk(labelled_corpus, mount_point):
    small = mount_point("size=4k")  # the labels of 6 x 5 s (3 speakers) need ~20 kB
    code, err = diar(
        "labels", "feats.jsonl.gz", "out.jsonl.gz", "--storage-path", small / "labels", cwd=labelled_corpus
    )
    assert code == 1, err  # (HDF5 itself would crash the process with SIGSEGV here)
    assert error_line(err) == f"Error: disk full while writing labels to {small / 'labels'}"
    assert no_partials(small) and not list(small.rglob("*.h5"))


def test_labels_read_only_output_fails_before_any_work(labelled_corpus, mount_point):
    ro = mount_point("ro,size=1m")
    code, err = diar("labels", "feats.jsonl.gz", ro / "out.jsonl.gz", "--storage-path", "labels", cwd=labelled_corpus)
    assert code == 1 and error_line(err) == f"Error: output directory {ro} is not writable"
    assert not (labelled_corpus / "labels").exists()  # nothing computed
    code, err = diar("labels", "feats.jsonl.gz", "out.jsonl.gz", "--storage-path", ro / "labels", cwd=labelled_corpus)
    assert code == 1 and error_line(err).startswith(f"Error: cannot create output directory {ro / 'labels'}")


def test_fbank_read_only_output_fails_before_any_work(corpus, mount_point):
    ro = mount_point("ro,size=1m")
    code, err = diar("fbank", "cuts.jsonl.gz", ro / "feats.jsonl.gz", "--storage-path", "fbank", cwd=corpus)
    assert code == 1 and error_line(err) == f"Error: output directory {ro} is not writable"
    assert not (corpus / "fbank").exists()


@pytest.mark.parametrize("what", ["shards", "audio"])
def test_simulate_on_a_full_disk(sources, mount_point, what):
    small = mount_point("size=8k")
    out, mat = (
        (small / "mix.jsonl.gz", sources / "mat") if what == "shards" else (sources / "mix.jsonl.gz", small / "mat")
    )
    code, err = diar(
        "simulate", "src.jsonl.gz", out, "--num-mixtures", "300", "--seed", "3", "--materialize", mat, cwd=sources
    )
    assert code == 1, err
    if what == "shards":
        assert error_line(err) == f"Error: disk full while writing simulation shards to {small}"
    else:  # libsndfile says only "System error."
        line = error_line(err)
        assert line.startswith("Error: disk full while writing mix-") and line.endswith(f".flac to {mat / 'audio'}")
    assert no_partials(small)


def test_simulate_read_only_materialize_dir_fails_before_any_work(sources, mount_point):
    ro = mount_point("ro,size=1m")
    code, err = diar(
        "simulate", "src.jsonl.gz", "mix.jsonl.gz", "--num-mixtures", "3", "--materialize", ro / "mat", cwd=sources
    )
    assert code == 1 and error_line(err).startswith(f"Error: cannot create output directory {ro / 'mat'}")
    assert not (sources / "mix.jsonl.gz").exists()  # no shards simulated first


def test_flac_larger_than_the_low_space_mark_on_a_full_disk(tmp_path, mount_point):
    """libsndfile reports a full disk as "System error." only: the free space, read while
    the partial file still fills the disk, says what happened."""
    from recipes.fileio import LOW_SPACE, OutputError, atomic_path

    disk = mount_point("size=3m")
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, 400 * 16000).astype(np.float32)  # ~12 MB of FLAC
    with pytest.raises(OutputError) as info:
        with atomic_path(disk / "x.flac") as tmp:
            soundfile.write(str(tmp), noise, 16000, format="FLAC", subtype="PCM_16")
    assert str(info.value) == f"disk full while writing x.flac to {disk}" and info.value.errno == errno.ENOSPC
    assert 3 << 20 > LOW_SPACE and not list(disk.iterdir())


def test_a_failed_label_archive_writes_nothing_and_keeps_its_error(tmp_path):
    from recipes.labels import MemoryImageHdf5Writer

    with pytest.raises(ValueError, match="a bug"):
        with MemoryImageHdf5Writer(tmp_path / "a.h5") as writer:
            writer.write("k", np.zeros((10, 2), dtype=np.uint8))
            raise ValueError("a bug")
    assert not (tmp_path / "a.h5").exists()
    with MemoryImageHdf5Writer(tmp_path / "b.h5") as writer:
        writer.write("k", np.arange(20, dtype=np.uint8).reshape(10, 2))
    from lhotse.features.io import NumpyHdf5Reader

    np.testing.assert_array_equal(
        NumpyHdf5Reader(str(tmp_path / "b.h5")).read("k"), np.arange(20, dtype=np.uint8).reshape(10, 2)
    )


def test_an_unreadable_input_keeps_its_own_error(tmp_path):
    from recipes.fileio import atomic_path

    err = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "in" / "src.jsonl.gz"))
    with pytest.raises(PermissionError) as info:
        with atomic_path(tmp_path / "out" / "cuts.jsonl.gz"):
            raise err
    assert info.value is err  # not turned into "permission denied while writing cuts.jsonl.gz"
