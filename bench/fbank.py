"""Per-core speed of stage 2 against the stock Lhotse pipeline, measured in one run.

Input: synthetic 16 kHz WAV files (default 10 x 60 s = 10 minutes), written to
a temporary directory. Both pipelines run with one job:

- stock:  cuts.resample(8000) + compute_and_store_features(lhotse.Fbank(
          FbankConfig(sampling_rate=8000, num_mel_bins=23)), LilcomChunkyWriter)
- ours:   recipes.features.compute_fbank (kaldi-native-fbank, conf/fbank_8k.yaml)

Prints the real-time factor (audio seconds per wall second) of each, their
ratio, and the largest difference between the two feature sets.

    python bench/fbank.py [--minutes 10] [--files 10]
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch
from lhotse import CutSet, Fbank, FbankConfig, LilcomChunkyWriter, Recording, RecordingSet

from recipes.features import compute_fbank, load_fbank_config


def make_audio(directory: Path, files: int, seconds: float, sr: int = 16000) -> CutSet:
    rng = np.random.default_rng(0)
    recs = []
    for i in range(files):
        t = np.arange(int(seconds * sr)) / sr
        f0 = 100 + 20 * i
        sig = sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 20))
        sig = 0.1 * sig * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)) + 0.01 * rng.standard_normal(len(t))
        path = directory / f"rec{i:02d}.wav"
        soundfile.write(path, sig.astype(np.float32), sr, subtype="PCM_16")
        recs.append(Recording.from_file(path))
    return CutSet.from_manifests(recordings=RecordingSet.from_recordings(recs))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--files", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)  # per-core comparison
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cuts = make_audio(tmp, args.files, 60.0 * args.minutes / args.files)
        total = sum(c.duration for c in cuts)

        # warm-up both (resampler construction, imports)
        warm = cuts.subset(first=1).truncate(max_duration=5.0, offset_type="start")
        compute_fbank(warm, tmp / "warm_ours", num_jobs=1)
        warm.resample(8000).compute_and_store_features(
            Fbank(FbankConfig(sampling_rate=8000, num_mel_bins=23)), tmp / "warm_stock",
            storage_type=LilcomChunkyWriter)

        t0 = time.perf_counter()
        stock = cuts.resample(8000).compute_and_store_features(
            Fbank(FbankConfig(sampling_rate=8000, num_mel_bins=23)), tmp / "stock",
            storage_type=LilcomChunkyWriter, progress_bar=False)
        t_stock = time.perf_counter() - t0

        t0 = time.perf_counter()
        ours = compute_fbank(cuts, tmp / "ours", load_fbank_config(), num_jobs=1)
        t_ours = time.perf_counter() - t0

        diff = max(
            float(np.abs(a.load_features() - b.load_features()).max())
            for a, b in zip(sorted(stock, key=lambda c: c.id), sorted(ours, key=lambda c: c.id))
        )
    print(f"audio: {total / 60:.1f} min of 16 kHz WAV in {args.files} files; one job, torch threads = 1")
    print(f"stock Lhotse (resample + Fbank + lilcom): {t_stock:7.2f} s  RTF {total / t_stock:8.0f}x")
    print(f"diar fbank (kaldi-native-fbank):          {t_ours:7.2f} s  RTF {total / t_ours:8.0f}x")
    print(f"speed ratio diar / stock: {t_stock / t_ours:.2f}x")
    print(f"max |stock - ours| after lilcom storage: {diff:.4f}")


if __name__ == "__main__":
    main()
