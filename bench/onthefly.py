"""On-the-fly features in a torch DataLoader: cuts per second and real-time factor.

Builds a synthetic corpus (default 4 x 30 minutes at 16 kHz) and chunks it into
EEND training chunks (500 subsampled frames = 50 s). No features are stored:
they are computed from the audio in the DataLoader's workers (0, 1, 2).

1. Lhotse's ``OnTheFlyFeatures`` input strategy in a minimal dataset, through a
   SimpleCutSampler: the reference is stock Lhotse (``cuts.resample(8000)`` +
   ``lhotse.Fbank(FbankConfig(sampling_rate=8000, num_mel_bins=23))``); ours are
   ``KaldiNativeFbank()`` and ``NumpyKaldiFbank()`` fed the 16 kHz cuts (soxr inside).
2. ``EENDDataset(feature_extractor=...)`` (features, 345-dim splicing, labels)
   through a DynamicBucketingSampler.

    python bench/onthefly.py [--files 4] [--minutes 30]
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from lhotse import CutSet, Fbank, FbankConfig, SupervisionSegment
from lhotse.dataset import DynamicBucketingSampler, OnTheFlyFeatures, SimpleCutSampler
from lhotse.utils import fastcopy

sys.path.insert(0, str(Path(__file__).parent))
from fbank import make_audio  # noqa: E402

from recipes.dataset import EENDDataset, chunk_cuts  # noqa: E402
from recipes.features import KaldiNativeFbank, NumpyFbank, NumpyKaldiFbank, load_fbank_config  # noqa: E402
from recipes.labels import compute_labels  # noqa: E402


class FeaturesOnly(torch.utils.data.Dataset):
    """A CutSet in, Lhotse's OnTheFlyFeatures out (features, lengths)."""

    def __init__(self, extractor):
        self.inputs = OnTheFlyFeatures(extractor)

    def __getitem__(self, cuts):
        feats, lens = self.inputs(cuts)
        return {"cut_ids": [c.id for c in cuts], "features": feats, "lens": lens}


def rate(loader, total):
    t0 = time.perf_counter()
    n = sum(len(batch["cut_ids"]) for batch in loader)
    t = time.perf_counter() - t0
    return n / t, total / t, t, n


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=30.0, help="minutes per file (enough work that worker start-up does not dominate)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cuts = make_audio(tmp, args.files, 60 * args.minutes)
        cuts = CutSet.from_cuts(fastcopy(c, supervisions=[
            SupervisionSegment(f"{c.id}-{i}", c.recording_id, start=10.0 * i, duration=12.0, speaker=f"s{i % 3}")
            for i in range(int(c.duration // 10) - 1)]) for c in cuts)
        labelled, _ = compute_labels(cuts, tmp / "labels.h5", progress=False)
        chunks = chunk_cuts(labelled, chunk_size=500).to_eager()
        total = sum(c.duration for c in chunks)
        print(f"{len(chunks)} chunks of up to 50 s, {total / 60:.0f} min of audio, features computed on the fly")
        print("1. Lhotse OnTheFlyFeatures (SimpleCutSampler, max_duration 200 s):")
        setups = {"stock Lhotse (resample + Fbank)": (chunks.resample(8000), Fbank(FbankConfig(
                      sampling_rate=8000, num_mel_bins=23))),
                  "KaldiNativeFbank (16 kHz in, soxr)": (chunks, KaldiNativeFbank()),
                  "NumpyKaldiFbank (16 kHz in, soxr)": (chunks, NumpyKaldiFbank())}
        for workers in (0, 2):
            stock_rate = None
            for name, (source, extractor) in setups.items():
                loader = torch.utils.data.DataLoader(
                    FeaturesOnly(extractor), sampler=SimpleCutSampler(source, max_duration=200.0),
                    batch_size=None, num_workers=workers)
                cps, rtf, t, n = rate(loader, total)
                stock_rate = stock_rate or cps
                print(f"  {name:36s} {workers} worker(s): {cps:7.1f} cuts/s  RTF {rtf:7.0f}x  "
                      f"({t:.2f} s, {n} cuts; {cps / stock_rate:.2f}x stock)")
        print("2. EENDDataset (features, splicing, labels; DynamicBucketingSampler):")
        extractors = {"kaldi-native-fbank": KaldiNativeFbank(), "numpy": NumpyFbank(load_fbank_config())}
        for name, extractor in extractors.items():
            for workers in (0, 1, 2):
                sampler = DynamicBucketingSampler(chunks, max_duration=200.0, num_buckets=2, shuffle=False)
                loader = torch.utils.data.DataLoader(
                    EENDDataset(feature_extractor=extractor, chunk_size=500), sampler=sampler,
                    batch_size=None, num_workers=workers)
                cps, rtf, t, n = rate(loader, total)
                print(f"  {name:18s} {workers} worker(s): {cps:7.1f} cuts/s  RTF {rtf:7.0f}x  ({t:.2f} s, {n} cuts)")


if __name__ == "__main__":
    main()
