"""On-the-fly features with Lhotse's OnTheFlyFeatures in a DataLoader with workers.

Expectation computed independently: kaldi-native-fbank called directly (options
written out in tests/test_features.py) on the cut's audio resampled by one
``soxr.resample`` call.
"""

import numpy as np
import pytest
import soundfile
import soxr
import torch
from lhotse import CutSet, Recording, RecordingSet
from lhotse.dataset import OnTheFlyFeatures, SimpleCutSampler
from lhotse.utils import compute_num_frames

from recipes.features import KaldiNativeFbank, KnfFbankConfig, NumpyKaldiFbank
from tests.test_features import direct_knf


class FeaturesOnly(torch.utils.data.Dataset):
    """The smallest Lhotse-style dataset: a CutSet in, collated on-the-fly features out."""

    def __init__(self, extractor):
        self.inputs = OnTheFlyFeatures(extractor)

    def __getitem__(self, cuts: CutSet):
        feats, lens = self.inputs(cuts)
        return {"cut_ids": [c.id for c in cuts], "features": feats, "lens": lens}


@pytest.fixture
def cuts_16k(tmp_path):
    rng = np.random.default_rng(3)
    recs = []
    for i, seconds in enumerate([6.0, 4.37, 9.1]):
        t = np.arange(int(seconds * 16000)) / 16000
        x = 0.05 * sum(np.sin(2 * np.pi * h * (130 + 30 * i) * t) / h for h in range(1, 12))
        x = (x * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t)) + 0.004 * rng.standard_normal(len(t))).astype(np.float32)
        path = tmp_path / f"r{i}.wav"
        soundfile.write(path, x, 16000, subtype="PCM_16")
        recs.append(Recording.from_file(path))
    whole = CutSet.from_manifests(recordings=RecordingSet.from_recordings(recs)).to_eager()
    windows = whole.cut_into_windows(2.5).to_eager()  # MonoCuts that are windows of longer recordings
    a, b = list(whole)[:2]
    mixed = a.truncate(duration=4.0).mix(b.truncate(duration=4.0), offset_other_by=1.5, snr=5)  # a MixedCut
    return CutSet.from_cuts(list(windows) + [mixed.with_id("mix")])


def expected(cut) -> np.ndarray:
    audio = cut.load_audio()[0]
    return direct_knf(soxr.resample(audio, cut.sampling_rate, 8000, quality="HQ"))


@pytest.mark.parametrize("extractor_type", [KaldiNativeFbank, NumpyKaldiFbank], ids=["knf", "numpy"])
def test_on_the_fly_features_in_dataloader_workers(cuts_16k, extractor_type):
    extractor = extractor_type()
    sampler = SimpleCutSampler(cuts_16k, max_duration=6.0, shuffle=True, seed=1)
    loader = torch.utils.data.DataLoader(FeaturesOnly(extractor), sampler=sampler, batch_size=None, num_workers=2)
    seen = {}
    for batch in loader:
        for cid, feats, n in zip(batch["cut_ids"], batch["features"], batch["lens"]):
            seen[cid] = feats[:n].numpy()
    by_id = {c.id: c for c in cuts_16k}
    assert sorted(seen) == sorted(by_id)  # nothing dropped, nothing repeated
    for cid, feats in seen.items():
        cut = by_id[cid]
        assert cut.sampling_rate == 16000  # fed at 16 kHz, resampled inside the extractor
        ref = expected(cut)
        assert feats.shape == ref.shape == (compute_num_frames(cut.duration, 0.01, 8000), 23)
        assert np.abs(feats - ref).max() < 1e-3, cid


def test_extractors_round_trip_through_lhotse_serialisation():
    from lhotse.features.base import create_default_feature_extractor, get_extractor_type

    for extractor in (KaldiNativeFbank(), NumpyKaldiFbank(KnfFbankConfig(num_mel_bins=40))):
        again = get_extractor_type(extractor.name).from_dict(extractor.to_dict())
        assert type(again) is type(extractor) and again.config == extractor.config
    assert create_default_feature_extractor("numpy-kaldi-fbank") is not None


def test_numpy_extractor_rejects_options_it_does_not_implement():
    with pytest.raises(ValueError, match="dither 0 only"):
        NumpyKaldiFbank(KnfFbankConfig(dither=1.0))
