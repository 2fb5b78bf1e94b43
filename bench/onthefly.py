"""On-the-fly features in a torch DataLoader: cuts per second and real-time factor.

Builds a synthetic corpus (default 4 x 5 minutes at 16 kHz), chunks it into
EEND training chunks (500 subsampled frames = 50 s) and iterates
EENDDataset(feature_extractor=...) (kaldi-native-fbank, then the numpy backend) through a
DynamicBucketingSampler and a DataLoader with 0, 1 and 2 workers. No features
are stored: they are computed from the audio in the workers.

    python bench/onthefly.py [--files 4] [--minutes 5]
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from lhotse import SupervisionSegment
from lhotse.dataset import DynamicBucketingSampler
from lhotse.utils import fastcopy

sys.path.insert(0, str(Path(__file__).parent))
from fbank import make_audio  # noqa: E402

from recipes.dataset import EENDDataset, chunk_cuts  # noqa: E402
from recipes.features import KaldiNativeFbank, NumpyFbank, load_fbank_config  # noqa: E402
from recipes.labels import compute_labels  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cuts = make_audio(tmp, args.files, 60 * args.minutes)
        cuts = cuts.map(lambda c: fastcopy(c, supervisions=[
            SupervisionSegment(f"{c.id}-{i}", c.recording_id, start=10.0 * i, duration=12.0, speaker=f"s{i % 3}")
            for i in range(int(c.duration // 10) - 1)]))
        labelled, _ = compute_labels(cuts, tmp / "labels.h5", progress=False)
        chunks = chunk_cuts(labelled, chunk_size=500).to_eager()
        total = sum(c.duration for c in chunks)
        print(f"{len(chunks)} chunks of up to 50 s, {total / 60:.0f} min of audio, features computed on the fly")
        extractors = {"kaldi-native-fbank": KaldiNativeFbank(), "numpy": NumpyFbank(load_fbank_config())}
        for name, extractor in extractors.items():
            for workers in (0, 1, 2):
                sampler = DynamicBucketingSampler(chunks, max_duration=200.0, num_buckets=2, shuffle=False)
                loader = torch.utils.data.DataLoader(
                    EENDDataset(feature_extractor=extractor, chunk_size=500), sampler=sampler,
                    batch_size=None, num_workers=workers)
                t0 = time.perf_counter()
                n = sum(len(batch["cut_ids"]) for batch in loader)
                t = time.perf_counter() - t0
                print(f"{name:18s} {workers} worker(s): {n / t:7.1f} cuts/s  RTF {total / t:7.0f}x  "
                      f"({t:.2f} s, {n} cuts)")


if __name__ == "__main__":
    main()
