"""Label matrices: rounding vs pyannote.core, UEM, powerset, target, storage and alignment."""

import itertools
import subprocess
import sys

import numpy as np
import pytest
from lhotse import AudioSource, CutSet, Recording, SupervisionSegment
from lhotse.cut import MonoCut
from pyannote.core import Annotation, Segment, SlidingWindow

from recipes.labels import (
    IGNORE,
    POWERSET_IGNORE,
    activity_matrix,
    compute_labels,
    load_labels,
    powerset_classes,
    to_powerset,
)


def make_cut(turns, duration, cut_id="rec", uem=None):
    sups = [
        SupervisionSegment(id=f"{cut_id}-{i}", recording_id=cut_id, start=s, duration=e - s, speaker=spk)
        for i, (s, e, spk) in enumerate(turns)
    ]
    custom = {"uem": uem} if uem is not None else None
    rec = Recording(
        id=cut_id,
        sources=[AudioSource(type="file", channels=[0], source=f"{cut_id}.wav")],
        sampling_rate=16000,
        num_samples=int(duration * 16000),
        duration=duration,
    )
    return MonoCut(id=cut_id, start=0.0, duration=duration, channel=0, supervisions=sups, custom=custom, recording=rec)


def random_turns(rng, duration, speakers):
    turns = []
    for spk in speakers:
        t = rng.uniform(0, 2)
        while t < duration - 0.5:
            length = rng.uniform(0.05, 3.0)
            turns.append((round(t, 4), round(min(t + length, duration), 4), spk))
            t += length + rng.uniform(0.05, 2.0)
    return turns


@pytest.mark.parametrize("seed", range(5))
def test_binary_matrix_agrees_with_pyannote_discretize(seed):
    rng = np.random.default_rng(seed)
    duration = 30.0
    speakers = ["A", "B", "C"]
    turns = random_turns(rng, duration, speakers)
    cut = make_cut(turns, duration)
    ours = activity_matrix(cut, speakers)

    ann = Annotation()
    for i, (s, e, spk) in enumerate(turns):
        ann[Segment(s, e), i] = spk
    ref = ann.discretize(
        support=Segment(0, duration),
        resolution=SlidingWindow(start=0.0, duration=0.01, step=0.01),
        labels=speakers,
    ).data
    T = min(len(ref), len(ours))
    assert abs(len(ref) - len(ours)) <= 1
    # frames within one frame of a turn boundary may legitimately differ
    near = np.zeros(T, dtype=bool)
    for s, e, _ in turns:
        for b in (s, e):
            k = int(round(b / 0.01))
            near[max(k - 1, 0) : k + 2] = True
    diff = (ours[:T] != ref[:T].astype(np.uint8)).any(axis=1)
    assert not (diff & ~near).any(), np.flatnonzero(diff & ~near)[:10]
    assert ours.dtype == np.uint8 and ours.shape == (3000, 3)


def test_rounding_rule_on_frame_centres():
    # frame k is active iff start <= (k + 0.5) * 0.01 < end
    cut = make_cut([(0.015, 0.035, "A"), (0.1, 0.12, "B")], 0.2)
    m = activity_matrix(cut, ["A", "B"])
    assert m[:, 0].nonzero()[0].tolist() == [1, 2]  # centres 0.015, 0.025
    assert m[:, 1].nonzero()[0].tolist() == [10, 11]  # centres 0.105, 0.115


def test_turn_shorter_than_a_frame_keeps_one_frame_and_is_reported():
    from recipes.labels import LabelReport

    report = LabelReport()
    cut = make_cut([(0.101, 0.104, "A")], 0.3)
    m = activity_matrix(cut, ["A"], report=report)
    assert m[:, 0].nonzero()[0].tolist() == [10]
    assert report.short_turns == ["rec:rec-0"]


def test_frames_outside_uem_are_ignored_not_silence():
    cut = make_cut([(0.0, 1.0, "A")], 2.0, uem=[[0.5, 1.5]])
    m = activity_matrix(cut, ["A", "B"])
    assert (m[:50] == IGNORE).all() and (m[150:] == IGNORE).all()
    assert (m[50:100, 0] == 1).all() and (m[100:150, 0] == 0).all() and (m[50:150, 1] == 0).all()


def test_powerset_class_order_is_size_then_lexicographic():
    assert powerset_classes(3, 2) == [(), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]
    assert len(powerset_classes(4, 3)) == 1 + 4 + 6 + 4


def test_powerset_mapping_and_over_capacity_frames():
    binary = np.array([[0, 0, 0], [1, 0, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [IGNORE] * 3, [0, 1, 1]], dtype=np.uint8)
    classes, over = to_powerset(binary, max_set_size=2)
    # (), (0,), (2,), (0,2), >K, ignored, (1,2)
    assert classes.tolist() == [0, 1, 3, 5, POWERSET_IGNORE, POWERSET_IGNORE, 6]
    assert over == 1
    # brute-force check on random matrices against an independent enumeration
    rng = np.random.default_rng(0)
    b = (rng.random((200, 4)) < 0.4).astype(np.uint8)
    classes, over = to_powerset(b, 2)
    order = [s for k in range(3) for s in itertools.combinations(range(4), k)]
    for t in range(200):
        active = tuple(np.flatnonzero(b[t]))
        expected = order.index(active) if len(active) <= 2 else POWERSET_IGNORE
        assert classes[t] == expected
    assert over == int((b.sum(1) > 2).sum())


@pytest.fixture
def two_cuts():
    rng = np.random.default_rng(3)
    c1 = make_cut(random_turns(rng, 20.0, ["x", "y"]), 20.0, "r1", uem=[[1.0, 19.0]])
    c2 = make_cut(random_turns(rng, 12.0, ["x", "y", "z"]), 12.0, "r2")
    return CutSet.from_cuts([c1, c2])


def test_binary_labels_stored_losslessly_and_speaker_order(tmp_path, two_cuts):
    out, report = compute_labels(two_cuts, tmp_path / "lab.h5", progress=False)
    for cut, orig in zip(out, two_cuts):
        assert cut.speakers == sorted({s.speaker for s in orig.supervisions})
        expected = activity_matrix(orig, cut.speakers)
        np.testing.assert_array_equal(cut.load_labels(), expected)
        np.testing.assert_array_equal(load_labels(cut), expected)
    assert report.frames == 2000 + 1200
    assert report.ignored_frames == 200  # 1 s at each end of r1
    # a fresh process that never imports recipes can read the labels
    path = tmp_path / "cuts.jsonl.gz"
    out.to_file(path)
    code = (
        "from lhotse import CutSet; c = next(iter(CutSet.from_file(%r))); "
        "a = c.load_labels(); print(a.shape, a.dtype)" % str(path)
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "(2000, 2) uint8"


def test_global_speaker_map(tmp_path, two_cuts):
    import json

    out, _ = compute_labels(two_cuts, tmp_path / "lab.h5", global_speaker_map=tmp_path / "map.json", progress=False)
    mapping = json.loads((tmp_path / "map.json").read_text())
    assert mapping == {"x": 0, "y": 1, "z": 2}
    by_id = {c.id: c for c in out}
    assert by_id["r1"].speaker_indices == [0, 1] and by_id["r2"].speaker_indices == [0, 1, 2]


def test_powerset_labels_report_over_capacity(tmp_path):
    cut = make_cut([(0, 3, "a"), (1, 3, "b"), (2, 3, "c")], 4.0)
    out, report = compute_labels(
        CutSet.from_cuts([cut]), tmp_path / "p.h5", label_type="powerset", max_set_size=2, progress=False
    )
    lab = next(iter(out)).load_labels()
    assert lab.dtype == np.int16 and lab.shape == (400,)
    assert report.over_max_set_size == {"rec": 100}
    assert (lab[200:300] == POWERSET_IGNORE).all()
    assert (lab[0:100] == 1).all() and (lab[100:200] == 4).all() and (lab[300:] == 0).all()


def test_target_cuts_share_features_and_hold_one_speaker(tmp_path, two_cuts):
    from lhotse.features import Features

    feats = Features(
        type="kaldi-native-fbank",
        num_frames=2000,
        num_features=23,
        frame_shift=0.01,
        sampling_rate=8000,
        start=0,
        duration=20.0,
        storage_type="lilcom_chunky",
        storage_path="feats.lca",
        storage_key="0,100",
        recording_id="r1",
        channels=0,
    )
    from lhotse.utils import fastcopy

    cuts = CutSet.from_cuts([fastcopy(next(iter(two_cuts)), features=feats)])
    out, _ = compute_labels(cuts, tmp_path / "t.h5", label_type="target", progress=False)
    out = list(out)
    orig = next(iter(cuts))
    full = activity_matrix(orig, ["x", "y"])
    assert [c.target_speaker for c in out] == ["x", "y"]
    for i, c in enumerate(out):
        assert c.features == orig.features
        assert c.features.storage_key == "0,100"
        np.testing.assert_array_equal(c.load_labels(), full[:, i])


def test_window_and_truncate_keep_labels_aligned(tmp_path):
    # A turn that starts before a window and ends after it is active in the whole window.
    cut = make_cut([(0.0, 25.0, "long"), (3.3, 4.7, "short"), (12.345, 18.0, "short")], 30.0)
    out, _ = compute_labels(CutSet.from_cuts([cut]), tmp_path / "w.h5", progress=False)
    full = next(iter(out)).load_labels()
    windows = out.cut_into_windows(duration=4.0)
    for w in windows:
        lab = load_labels(w)
        first = int(round(w.start / 0.01))
        np.testing.assert_array_equal(lab, full[first : first + lab.shape[0]])
        if w.end <= 25.0:
            assert (lab[:, 0] == 1).all()
    t = next(iter(out)).truncate(offset=12.34, duration=3.0)
    lab = load_labels(t)
    assert lab.shape[0] == 300
    np.testing.assert_array_equal(lab, full[1234:1534])
    sub = out.subset(first=1)
    np.testing.assert_array_equal(next(iter(sub)).load_labels(), full)


def test_unknown_speaker_is_an_error():
    cut = make_cut([(0, 1, "A")], 2.0)
    with pytest.raises(ValueError, match="speaker 'A'"):
        activity_matrix(cut, ["B"])


def test_labels_can_be_rewritten_while_a_reader_holds_the_old_archive(tmp_path, two_cuts):
    out, _ = compute_labels(two_cuts, tmp_path / "lab.h5", progress=False)
    old = next(iter(out)).load_labels()  # Lhotse keeps this HDF5 file open (cached handle)
    out2, _ = compute_labels(two_cuts, tmp_path / "lab.h5", label_type="powerset", progress=False)
    assert next(iter(out2)).load_labels().dtype == np.int16
    assert old.dtype == np.uint8


@pytest.mark.parametrize("kind", ["local", "dask"])
def test_parallel_labels_equal_single_job(tmp_path, two_cuts, kind):
    if kind == "dask":
        pytest.importorskip("distributed")
    one, rep1 = compute_labels(two_cuts, tmp_path / "one.h5", label_type="powerset", progress=False)
    many, rep2 = compute_labels(
        two_cuts,
        tmp_path / "many.h5",
        label_type="powerset",
        progress=False,
        num_jobs=2,
        executor_kind=kind,
        cuts_per_archive=1,
    )
    assert [c.id for c in many] == [c.id for c in one]
    for a, b in zip(one, many):
        np.testing.assert_array_equal(a.load_labels(), b.load_labels())
    assert sorted(p.name for p in tmp_path.glob("many-*.h5")) == ["many-00000.h5", "many-00001.h5"]
    assert (rep1.frames, rep1.ignored_frames) == (rep2.frames, rep2.ignored_frames)


def test_relabelling_with_fewer_archives_removes_the_old_ones(tmp_path, two_cuts):
    compute_labels(two_cuts, tmp_path / "l.h5", progress=False, num_jobs=1, cuts_per_archive=1)
    assert sorted(p.name for p in tmp_path.glob("*.h5")) == ["l-00000.h5", "l-00001.h5"]
    out, _ = compute_labels(two_cuts, tmp_path / "l.h5", progress=False)
    assert sorted(p.name for p in tmp_path.glob("*.h5")) == ["l.h5"]
    assert next(iter(out)).load_labels().shape[1] == 2


def test_label_archive_is_renamed_when_complete(tmp_path, two_cuts):
    out, _ = compute_labels(two_cuts, tmp_path / "lab.h5", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lab.h5"]
    assert all(c.custom["labels"].array.storage_path == str(tmp_path / "lab.h5") for c in out)


def test_labels_follow_the_features_frame_shift_and_refuse_another(tmp_path):
    """Features computed with a 20 ms shift (not the 10 ms standard): the labels take the frame
    shift from cut.features, one row per feature frame, and frame i is active when its centre
    (i + 0.5) * 20 ms lies in a turn; asking for 10 ms labels on these cuts is an error."""
    import soundfile
    from lhotse import Recording

    from recipes.features import KnfFbankConfig, compute_fbank

    sr, seconds = 16000, 6.0
    rng = np.random.default_rng(0)
    soundfile.write(
        tmp_path / "a.wav", (0.1 * rng.standard_normal(int(sr * seconds))).astype(np.float32), sr, subtype="PCM_16"
    )
    rec = Recording.from_file(tmp_path / "a.wav", recording_id="a")
    turns = [(0.5, 2.25, "x"), (1.9, 4.03, "y"), (5.0, 6.0, "x")]
    sups = [
        SupervisionSegment(id=f"a-{i}", recording_id="a", start=s, duration=e - s, speaker=spk)
        for i, (s, e, spk) in enumerate(turns)
    ]
    cuts = CutSet.from_cuts([MonoCut(id="a", start=0.0, duration=seconds, channel=0, recording=rec, supervisions=sups)])
    feats = compute_fbank(cuts, tmp_path / "fbank", config=KnfFbankConfig(frame_shift=0.02), progress=False)
    cut = next(iter(feats))
    assert cut.features.frame_shift == 0.02 and cut.num_frames == 300
    out, _ = compute_labels(feats, tmp_path / "lab.h5", progress=False)
    labelled = next(iter(out))
    lab = labelled.load_labels()
    centres = (np.arange(cut.num_frames) + 0.5) * 0.02
    expected = np.zeros((cut.num_frames, 2), dtype=np.uint8)
    for s, e, spk in turns:
        expected[(centres >= s) & (centres < e), ["x", "y"].index(spk)] = 1
    assert labelled.custom["labels"].frame_shift == 0.02
    np.testing.assert_array_equal(lab, expected)
    with pytest.raises(ValueError, match="frame shift of 0.01 s requested.*frame shift of 0.02 s"):
        compute_labels(feats, tmp_path / "lab10.h5", frame_shift=0.01, progress=False)


def test_streamed_labels_from_a_lazy_manifest_equal_the_eager_ones(tmp_path):
    # one recording cut in two: the first half has only speaker A, the second only B; with an
    # archive per cut the speaker order must still be the recording's [A, B] in both
    rec_cut = make_cut([(0.5, 4.0, "A"), (6.0, 9.5, "B")], 10.0, cut_id="rec")
    halves = [rec_cut.truncate(offset=0, duration=5.0), rec_cut.truncate(offset=5.0, duration=5.0)]
    halves = [h.with_id(f"rec-{i}") for i, h in enumerate(halves)]
    other = make_cut([(1.0, 3.0, "C"), (2.0, 7.0, "D")], 8.0, cut_id="other")
    eager_in = CutSet.from_cuts(halves + [other])
    eager_in.to_file(tmp_path / "in.jsonl.gz")
    lazy_in = CutSet.from_jsonl_lazy(tmp_path / "in.jsonl.gz")
    eager, rep1 = compute_labels(eager_in, tmp_path / "a" / "l.h5", progress=False)
    streamed, rep2 = compute_labels(
        lazy_in, tmp_path / "b" / "l.h5", progress=False, cuts_per_archive=1, output_path=tmp_path / "out.jsonl.gz"
    )
    assert streamed.is_lazy and (tmp_path / "out.jsonl.gz").exists()
    assert sorted(p.name for p in (tmp_path / "b").glob("*.h5")) == ["l-00000.h5", "l-00001.h5", "l-00002.h5"]
    assert [c.id for c in streamed] == ["rec-0", "rec-1", "other"]
    for a, b in zip(eager, streamed):
        assert a.custom["speakers"] == b.custom["speakers"]
        np.testing.assert_array_equal(a.load_labels(), b.load_labels())
    first, second = list(streamed)[:2]
    assert first.custom["speakers"] == second.custom["speakers"] == ["A", "B"]
    assert first.load_labels()[:, 1].max() == 0 and second.load_labels()[:, 0].max() == 0
    assert (rep1.cuts_in, rep1.frames) == (rep2.cuts_in, rep2.frames)
    assert rep2.cuts_in == 3


def test_map_tasks_reads_a_task_generator_lazily():
    from concurrent.futures import Future

    from recipes.parallel import _bounded

    pulled = []

    def tasks():
        for i in range(100):
            pulled.append(i)
            yield (i,)

    def submit(t):
        f = Future()
        f.set_result(t[0] * 2)
        return f

    results = _bounded(submit, tasks(), window=4)
    assert next(results) == 0
    assert len(pulled) == 4  # not the 100 tasks
    assert list(results) == [2 * i for i in range(1, 100)]
