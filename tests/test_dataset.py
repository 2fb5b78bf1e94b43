"""EENDDataset: EEND frame alignment, chunking, padding, samplers and workers."""

import numpy as np
import pytest
import torch
from lhotse import CutSet, SupervisionSegment
from lhotse.dataset import DynamicBucketingSampler
from lhotse.utils import fastcopy

from recipes.corpora.demo import synthesize_demo
from recipes.corpora.generic import prepare_rttm
from recipes.dataset import EENDDataset, chunk_cuts
from recipes.features import KaldiNativeFbank, compute_fbank, splice
from recipes.labels import compute_labels


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("eend")
    synthesize_demo(root / "demo", num_recordings=3, duration=20.0, seed=1)
    result, _ = prepare_rttm(
        root / "demo" / "audio", root / "demo" / "rttm", uem=root / "demo" / "all.uem", progress=False
    )
    cuts = compute_fbank(result[""]["cuts"], root / "fbank")
    binary, _ = compute_labels(cuts, root / "binary.h5", progress=False)
    power, _ = compute_labels(cuts, root / "power.h5", label_type="powerset", progress=False)
    target, _ = compute_labels(cuts, root / "target.h5", label_type="target", progress=False)
    return {"root": root, "cuts": cuts, "binary": binary, "powerset": power, "target": target}


def active_at(cut, speaker, t):
    """Independent expectation: is ``speaker`` talking at time ``t`` (seconds in the cut)?"""
    return any(s.speaker == speaker and s.start <= t < s.end for s in cut.supervisions)


def test_label_frame_k_aligns_with_feature_frame_10k(corpus):
    ds = EENDDataset(label_type="binary", chunk_size=70, mean_norm="none")
    chunks = chunk_cuts(corpus["binary"], chunk_size=70)
    for chunk in list(chunks)[:4]:
        batch = ds[CutSet.from_cuts([chunk])]
        feats = chunk.load_features()
        n = batch["lengths"][0].item()
        assert n == -(-feats.shape[0] // 10)
        spliced = splice(feats, 7)
        np.testing.assert_allclose(batch["features"][0, :n].numpy(), spliced[::10], atol=1e-6)
        uem = chunk.custom["uem"][0]
        for k in range(n):
            t = (10 * k + 0.5) * 0.01  # centre of feature frame 10k, cut time
            for j, spk in enumerate(batch["speakers"][0]):
                if not (uem[0] <= chunk.start + t < uem[1]):
                    assert batch["labels"][0, k, j] == -1
                elif min(abs(t - b) for s in chunk.supervisions for b in (s.start, s.end)) > 0.006:
                    assert batch["labels"][0, k, j] == int(active_at(chunk, spk, t)), (chunk.id, k, spk)


def test_last_partial_chunk_is_kept(corpus):
    cut = next(iter(corpus["binary"]))
    chunks = list(chunk_cuts(CutSet.from_cuts([cut]), chunk_size=70))  # 7 s chunks of a 20 s recording
    assert [round(c.duration, 3) for c in chunks] == [7.0, 7.0, 6.0]
    batch = EENDDataset(chunk_size=70)[CutSet.from_cuts(chunks)]
    assert batch["lengths"].tolist() == [70, 70, 60]
    assert batch["features"].shape == (3, 70, 345)


def test_turn_spanning_a_whole_chunk_is_labelled(corpus, tmp_path):
    cut = next(iter(corpus["cuts"]))
    long_turn = SupervisionSegment(
        id="long", recording_id=cut.recording_id, start=0.0, duration=cut.duration, speaker="narrator"
    )
    cut = fastcopy(cut, supervisions=[long_turn], custom={"uem": [[0.0, cut.duration]]})
    labelled, _ = compute_labels(CutSet.from_cuts([cut]), tmp_path / "l.h5", progress=False)
    chunks = chunk_cuts(labelled, chunk_size=50)  # 5 s chunks, all inside the turn
    batch = EENDDataset(chunk_size=50)[chunks]
    assert (batch["labels"] == 1).all()


def test_speaker_dimension_pads_across_cuts(corpus):
    by_count = sorted(corpus["binary"], key=lambda c: len(c.speakers))
    small, large = by_count[0], by_count[-1]
    assert len(small.speakers) < len(large.speakers)
    chunks = [next(iter(chunk_cuts(CutSet.from_cuts([c]), chunk_size=40))) for c in (small, large)]
    batch = EENDDataset(chunk_size=40)[CutSet.from_cuts(chunks)]
    S = len(large.speakers)
    assert batch["labels"].shape == (2, 40, S)
    assert batch["speakers"] == [small.speakers, large.speakers]
    n_small = len(small.speakers)
    valid = batch["labels"][0, :, 0] != -1
    # absent speakers are silent on scored frames, not padding
    assert (batch["labels"][0][valid][:, n_small:] == 0).all()
    # max_speakers pads further
    batch = EENDDataset(chunk_size=40, max_speakers=S + 2)[CutSet.from_cuts(chunks)]
    assert batch["labels"].shape[2] == S + 2


def test_padding_of_time_uses_minus_one(corpus):
    cut = next(iter(corpus["binary"]))
    chunks = list(chunk_cuts(CutSet.from_cuts([cut]), chunk_size=70))
    batch = EENDDataset(chunk_size=70)[CutSet.from_cuts([chunks[-1], chunks[0]])]
    assert batch["lengths"].tolist() == [60, 70]
    assert (batch["labels"][0, 60:] == -1).all() and (batch["features"][0, 60:] == 0).all()


def test_powerset_and_target_shapes(corpus):
    p = EENDDataset(label_type="powerset", chunk_size=100)[chunk_cuts(corpus["powerset"], 100).subset(first=2)]
    assert p["labels"].shape == p["features"].shape[:2] and p["labels"].dtype == torch.int64
    t_cuts = chunk_cuts(corpus["target"], 100).subset(first=3)
    t = EENDDataset(label_type="target", chunk_size=100)[t_cuts]
    assert t["labels"].shape == t["features"].shape[:2]
    assert [s[0] for s in t["speakers"]] == [c.custom["target_speaker"] for c in t_cuts]


def test_recording_mean_norm_differs_from_chunk_mean_norm(corpus):
    chunk = next(iter(chunk_cuts(corpus["binary"], chunk_size=50)))
    cut = next(c for c in corpus["binary"] if c.id == chunk.recording_id)
    rec = EENDDataset(chunk_size=50, mean_norm="recording")[CutSet.from_cuts([chunk])]["features"][0]
    raw = chunk.load_features() - cut.load_features().mean(axis=0)
    np.testing.assert_allclose(rec.numpy(), splice(raw, 7)[::10], atol=1e-5)


def test_on_the_fly_features_match_stored(corpus):
    chunk = next(iter(chunk_cuts(corpus["binary"], chunk_size=50)))
    stored = EENDDataset(chunk_size=50, mean_norm="none")[CutSet.from_cuts([chunk])]
    no_feats = fastcopy(chunk, features=None)
    otf = EENDDataset(chunk_size=50, mean_norm="none", feature_extractor=KaldiNativeFbank())[
        CutSet.from_cuts([no_feats])
    ]
    assert otf["features"].shape == stored["features"].shape
    assert (otf["features"] - stored["features"]).abs().max() <= 2**-6 + 1e-3  # lilcom quantisation
    assert torch.equal(otf["labels"], stored["labels"])


def test_dynamic_bucketing_sampler_with_dataloader_workers(corpus):
    chunks = chunk_cuts(corpus["binary"], chunk_size=50).to_eager()
    sampler = DynamicBucketingSampler(chunks, max_duration=12.0, num_buckets=2, shuffle=True, seed=0)
    loader = torch.utils.data.DataLoader(EENDDataset(chunk_size=50), sampler=sampler, batch_size=None, num_workers=2)
    seen = []
    for batch in loader:
        assert batch["features"].shape[0] == batch["labels"].shape[0] == len(batch["cut_ids"])
        assert batch["features"].shape[2] == 345
        seen.extend(batch["cut_ids"])
    assert sorted(seen) == sorted(c.id for c in chunks)


def test_uncut_recordings_are_rejected(corpus):
    with pytest.raises(ValueError, match="chunk the cuts first"):
        EENDDataset(chunk_size=50)[corpus["binary"].subset(first=1)]


def test_chunk_mean_norm_subtracts_the_chunk_mean_before_splicing(corpus):
    chunk = list(chunk_cuts(corpus["binary"], chunk_size=50))[1]
    got = EENDDataset(chunk_size=50, mean_norm="chunk")[CutSet.from_cuts([chunk])]["features"][0]
    feats = chunk.load_features()
    np.testing.assert_allclose(got.numpy(), splice(feats - feats.mean(axis=0), 7)[::10], atol=1e-5)
    assert not np.allclose(got.numpy(), splice(feats, 7)[::10], atol=1e-2)


def test_numpy_backend_works_as_on_the_fly_extractor(corpus):
    from recipes.features import NumpyFbank, load_fbank_config

    chunk = next(iter(chunk_cuts(corpus["binary"], chunk_size=50)))
    no_feats = fastcopy(chunk, features=None)
    knf = EENDDataset(chunk_size=50, feature_extractor=KaldiNativeFbank())[CutSet.from_cuts([no_feats])]
    fast = EENDDataset(chunk_size=50, feature_extractor=NumpyFbank(load_fbank_config()))[CutSet.from_cuts([no_feats])]
    assert (knf["features"] - fast["features"]).abs().max() < 1e-3


def test_mismatched_label_type_and_recording_norm_without_features_are_clear_errors(corpus):
    chunk = next(iter(chunk_cuts(corpus["powerset"], chunk_size=50)))
    with pytest.raises(ValueError, match="carries powerset labels"):
        EENDDataset(label_type="binary", chunk_size=50)[CutSet.from_cuts([chunk])]
    bare = fastcopy(next(iter(chunk_cuts(corpus["binary"], chunk_size=50))), features=None)
    with pytest.raises(ValueError, match="needs stored features"):
        EENDDataset(chunk_size=50, mean_norm="recording", feature_extractor=KaldiNativeFbank())[
            CutSet.from_cuts([bare])
        ]
