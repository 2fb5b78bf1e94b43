"""Per-core speed of stage 2 against the stock Lhotse pipeline, measured in one run.

Input: synthetic 16 kHz WAV (default 2 files x 10 minutes, like meeting
recordings), written to a temporary directory. All pipelines run on one core
(one job, one torch thread):

- stock:     cuts.resample(8000) + compute_and_store_features(lhotse.Fbank(
             FbankConfig(sampling_rate=8000, num_mel_bins=23)), LilcomChunkyWriter)
- diar knf:  recipes.features.compute_fbank(backend="knf")   (soxr + kaldi-native-fbank)
- diar:      recipes.features.compute_fbank(backend="numpy") (soxr + numpy fbank), the default

Each pipeline is timed `--repeat` times back to back (its steady state) and in
interleaved rounds (every pipeline once per round, so a slow phase of the
machine hits all of them alike).

Prints each real-time factor (audio seconds per wall second), the ratios to
stock, and the largest difference of the numpy backend from kaldi-native-fbank
on the same 8 kHz samples before storage.

    python bench/fbank.py [--minutes 10] [--files 2] [--repeat 5]
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


def timings(repeat, fns, interleave: bool):
    """Wall times ``{name: [seconds, ...]}`` of ``repeat`` runs of every pipeline: back to
    back per pipeline (its steady state), or in interleaved rounds (each round runs every
    pipeline once, so slow phases of the machine hit all of them alike)."""
    times = {name: [] for name in fns}
    order = [n for _ in range(repeat) for n in fns] if interleave else [n for n in fns for _ in range(repeat)]
    for name in order:
        t0 = time.perf_counter()
        fns[name]()
        times[name].append(time.perf_counter() - t0)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes per file")
    parser.add_argument("--files", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each pipeline per mode")
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
                stock_fbank, tmp / "stock", storage_type=LilcomChunkyWriter, progress_bar=False
            )

        def ours(backend):
            return lambda: compute_fbank(cuts, tmp / f"ours-{backend}", cfg, backend=backend, progress=False)

        fns = {"stock": stock, "knf": ours("knf"), "numpy": ours("numpy")}
        for fn in fns.values():  # warm-up: imports, resampler/FFT plans
            fn()
        runs = {
            mode: timings(args.repeat, fns, interleave=(mode == "interleaved"))
            for mode in ("back to back", "interleaved")
        }
        samples = load_audio_for_features(cuts[0], cfg)
        diff = np.abs(NumpyFbank(cfg)(samples) - KaldiNativeFbank(cfg).extract(samples, 8000)).max()
    print(
        f"audio: {args.files} x {args.minutes:g} min of 16 kHz WAV ({total / 60:.0f} min); one job, "
        f"one torch thread; best of {args.repeat} runs, back to back per pipeline, then interleaved"
    )
    labels = {
        "stock": "stock Lhotse (Lhotse resample + torch Fbank + lilcom)",
        "knf": "diar fbank --backend knf (soxr + kaldi-native-fbank)",
        "numpy": "diar fbank (soxr + numpy fbank, default)",
    }
    for mode, times in runs.items():
        best = {name: min(t) for name, t in times.items()}
        print(f"{mode}:")
        for name, label in labels.items():
            ratio = "" if name == "stock" else f"  ({best['stock'] / best[name]:.2f}x stock)"
            print(f"  {label + ':':55s} {best[name]:6.2f} s  RTF {total / best[name]:7.0f}x{ratio}")
    rounds = runs["interleaved"]
    per_round = sorted(s / n for s, n in zip(rounds["stock"], rounds["numpy"]))
    print(
        f"stock / diar fbank per interleaved round: min {per_round[0]:.2f}x, "
        f"median {per_round[len(per_round) // 2]:.2f}x, max {per_round[-1]:.2f}x"
    )
    print(f"numpy vs kaldi-native-fbank on the same samples, before storage: max |diff| = {diff:.2e}")


if __name__ == "__main__":
    main()
