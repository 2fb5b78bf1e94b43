"""diar validate: real-time factor per core, against reading the same audio with soundfile.

Builds a synthetic corpus of conversations (default 4 x 15 minutes, 16 kHz PCM-16 mono,
plus one 8-channel file of 5 minutes): a minute of voiced turns with pauses, tiled, over
a -70 dBFS noise floor, with its turns. Then, on one core:

- reference: ``soundfile.read`` of every file (the I/O floor: decoding alone);
- ours: ``validate_cutsets`` (frame energies, audio facts, VAD, lag search, flags).

Printed: audio hours, wall seconds, real-time factor (audio seconds / wall seconds), and
ours / reference. The target is >= 1,000x real time per core.

    python bench/validate.py [--files 4] [--minutes 15] [--repeat 3]
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
from lhotse import CutSet, MonoCut, MultiCut, Recording, SupervisionSegment

from recipes.corpora.demo import SPEAKERS, conversation, voiced_signal
from recipes.validate import validate_cutsets

SR = 16000


def minute_of_speech(seed: int):
    rng = np.random.default_rng(seed)
    spk = sorted(rng.choice(sorted(SPEAKERS), size=3, replace=False).tolist())
    turns = conversation("x", spk, 60.0, rng)
    audio = np.zeros(60 * SR)
    for t in turns:
        seg = voiced_signal(t.speaker, t.end - t.start, rng, SR)
        a = int(round(t.start * SR))
        audio[a : a + len(seg)] += seg[: len(audio) - a]
    return audio, turns


def make_corpus(root: Path, files: int, minutes: float) -> CutSet:
    base, turns = minute_of_speech(0)
    rng = np.random.default_rng(1)
    reps = int(np.ceil(minutes))
    cuts = []

    def sups(rec_id, n, channel):
        return [
            SupervisionSegment(
                id=f"{rec_id}-{k}-{i}",
                recording_id=rec_id,
                start=60.0 * k + t.start,
                duration=t.end - t.start,
                channel=channel,
                speaker=t.speaker,
            )
            for k in range(n)
            for i, t in enumerate(turns)
            if 60.0 * k + t.end <= 60.0 * n
        ]

    for i in range(files):
        audio = np.tile(base, reps)[: int(minutes * 60 * SR)] + 10 ** (-70 / 20) * rng.standard_normal(
            int(minutes * 60 * SR)
        )
        path = root / f"rec{i:02d}.wav"
        soundfile.write(path, audio.astype(np.float32), SR, subtype="PCM_16")
        rec = Recording.from_file(path, recording_id=f"rec{i:02d}")
        cuts.append(
            MonoCut(
                id=rec.id,
                start=0,
                duration=rec.duration,
                channel=0,
                recording=rec,
                supervisions=sups(rec.id, int(minutes), 0),
            )
        )
    multi = np.stack(
        [np.tile(base, 5) * g + 10 ** (-70 / 20) * rng.standard_normal(5 * 60 * SR) for g in np.linspace(0.5, 1.0, 8)],
        axis=1,
    )
    soundfile.write(root / "multi.wav", multi.astype(np.float32), SR, subtype="PCM_16")
    rec = Recording.from_file(root / "multi.wav", recording_id="multi")
    cuts.append(
        MultiCut(
            id="multi",
            start=0,
            duration=rec.duration,
            channel=list(range(8)),
            recording=rec,
            supervisions=sups("multi", 5, list(range(8))),
        )
    )
    return CutSet.from_cuts(cuts)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cuts = make_corpus(Path(tmp), args.files, args.minutes)
        seconds = sum(c.duration * (len(c.channel) if isinstance(c.channel, list) else 1) for c in cuts)
        paths = [c.recording.sources[0].source for c in cuts]
        ref, ours = [], []
        for _ in range(args.repeat):  # interleaved rounds
            t0 = time.perf_counter()
            for p in paths:
                soundfile.read(p, dtype="float32")
            ref.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            report = validate_cutsets([("bench", cuts)], num_jobs=1, progress=False)
            ours.append(time.perf_counter() - t0)
        assert report["summary"]["flagged_channels"] == 0, report["summary"]
        r, o = min(ref), min(ours)
        print(
            f"audio: {seconds / 3600:.2f} h of channel audio ({len(cuts)} recordings), one core, best of {args.repeat}"
        )
        print(f"soundfile.read (reference): {r:.2f} s  {seconds / r:,.0f}x real time")
        print(f"validate_cutsets (ours):    {o:.2f} s  {seconds / o:,.0f}x real time  (target >= 1,000x)")
        print(f"ours / reference wall time: {o / r:.2f}")


if __name__ == "__main__":
    main()
