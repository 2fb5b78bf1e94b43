"""Per-core speed of stage 2 against the stock Lhotse pipeline, measured in one run.

Input: synthetic 16 kHz WAV (default 2 files x 10 minutes, like meeting
recordings), written to a temporary directory. All pipelines run on one core
(one job, one torch thread):

- stock:     cuts.resample(8000) + compute_and_store_features(lhotse.Fbank(
             FbankConfig(sampling_rate=8000, num_mel_bins=23)), LilcomChunkyWriter)
- diar knf:  recipes.features.compute_fbank(backend="knf")   (soxr + kaldi-native-fbank)
- diar:      recipes.features.compute_fbank(backend="numpy") (soxr + numpy fbank), the default

Prints each real-time factor (audio seconds per wall second), the ratios to
stock, and the largest difference of the numpy backend from kaldi-native-fbank
on the same 8 kHz samples before storage.

    python bench/fbank.py [--minutes 10] [--files 2] [--repeat 3]
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch
from lhotse import CutSet, Fbank, FbankConfig, LilcomChunkyWriter, Recording, RecordingSet

from recipes.features import KaldiNativeFbank, NumpyFbank, compute_fbank, load_audio_for_features, load_fbank_config


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
    return CutSet.from_manifests(recordings=RecordingSet.from_recordings(recs)).to_eager()


def best_of(repeat, fn):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes per file")
    parser.add_argument("--files", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = load_fbank_config()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cuts = make_audio(tmp, args.files, 60.0 * args.minutes)
        total = sum(c.duration for c in cuts)
        stock_fbank = Fbank(FbankConfig(sampling_rate=8000, num_mel_bins=23))

        def stock():
            cuts.resample(8000).compute_and_store_features(
                stock_fbank, tmp / "stock", storage_type=LilcomChunkyWriter, progress_bar=False)

        def ours(backend):
            return lambda: compute_fbank(cuts, tmp / f"ours-{backend}", cfg, backend=backend, progress=False)

        for fn in (stock, ours("knf"), ours("numpy")):  # warm-up: imports, resampler/FFT plans
            fn()
        t_stock = best_of(args.repeat, stock)
        t_knf = best_of(args.repeat, ours("knf"))
        t_np = best_of(args.repeat, ours("numpy"))
        samples = load_audio_for_features(cuts[0], cfg)
        diff = np.abs(NumpyFbank(cfg)(samples) - KaldiNativeFbank(cfg).extract(samples, 8000)).max()
    print(f"audio: {args.files} x {args.minutes:g} min of 16 kHz WAV ({total / 60:.0f} min); one job, "
          f"one torch thread; best of {args.repeat}")
    print(f"stock Lhotse (Lhotse resample + torch Fbank + lilcom): {t_stock:6.2f} s  RTF {total / t_stock:7.0f}x")
    print(f"diar fbank --backend knf (soxr + kaldi-native-fbank):  {t_knf:6.2f} s  RTF {total / t_knf:7.0f}x"
          f"  ({t_stock / t_knf:.2f}x stock)")
    print(f"diar fbank (soxr + numpy fbank, default):              {t_np:6.2f} s  RTF {total / t_np:7.0f}x"
          f"  ({t_stock / t_np:.2f}x stock)")
    print(f"numpy vs kaldi-native-fbank on the same samples, before storage: max |diff| = {diff:.2e}")


if __name__ == "__main__":
    main()
