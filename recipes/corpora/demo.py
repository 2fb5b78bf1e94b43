"""A small synthetic multi-speaker corpus for the offline demo and the tests.

Each speaker is a deterministic voiced signal: a harmonic series on its own
fundamental (pitch) with its own spectral envelope (timbre: formant-like
resonances), a slow vibrato and a syllable-rate (4-6 Hz) amplitude envelope.
Conversations alternate turns with pauses and real overlaps. Everything is
drawn from ``numpy.random.default_rng(seed)``, so the corpus is identical on
every machine.

Layout written by :func:`synthesize_demo`::

    TARGET_DIR/
      audio/<rec>.wav          16 kHz mono PCM-16
      rttm/<rec>.rttm          reference speaker turns
      all.uem                  scored region (skips the first and last 0.5 s)
      lists/{train,dev}.list   recording ids
"""

import logging
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import soundfile

from recipes.rttm import Turn, write_rttm, write_uem

logger = logging.getLogger(__name__)

SAMPLING_RATE = 16000

# (f0 in Hz, formant centres in Hz): distinct pitch and timbre per speaker
SPEAKERS: Dict[str, Tuple[float, Tuple[float, ...]]] = {
    "spk_alice": (210.0, (800.0, 1200.0, 2500.0)),
    "spk_bob": (110.0, (500.0, 1500.0, 2400.0)),
    "spk_carol": (250.0, (400.0, 2000.0, 2900.0)),
    "spk_dave": (130.0, (700.0, 1100.0, 3000.0)),
    "spk_erin": (175.0, (300.0, 2300.0, 3100.0)),
}


def voiced_signal(speaker: str, duration: float, rng: np.random.Generator, sr: int = SAMPLING_RATE) -> np.ndarray:
    """A deterministic voiced segment of ``duration`` seconds for ``speaker`` (float32, peak ~0.3)."""
    f0, formants = SPEAKERS[speaker]
    n = int(round(duration * sr))
    t = np.arange(n) / sr
    vibrato = 1.0 + 0.03 * np.sin(2 * np.pi * rng.uniform(4.0, 6.0) * t + rng.uniform(0, 2 * np.pi))
    phase = 2 * np.pi * np.cumsum(f0 * vibrato) / sr
    sig = np.zeros(n)
    for h in range(1, int(3800 // f0) + 1):
        freq = h * f0
        gain = sum(np.exp(-0.5 * ((freq - fc) / 120.0) ** 2) for fc in formants) + 0.05 / h
        sig += gain * np.sin(h * phase)
    syllables = 0.55 + 0.45 * np.sin(2 * np.pi * rng.uniform(4.0, 6.0) * t + rng.uniform(0, 2 * np.pi))
    ramp = np.minimum(1.0, np.minimum(t, duration - t) / 0.02)  # 20 ms fade in/out
    sig *= syllables * np.clip(ramp, 0.0, 1.0)
    peak = np.abs(sig).max() or 1.0
    return (0.3 * sig / peak).astype(np.float32)


def conversation(rec_id: str, speakers: List[str], duration: float, rng: np.random.Generator) -> List[Turn]:
    """Turns of a conversation filling ``duration`` seconds: pauses, turn changes and overlaps.

    Each new turn starts after a pause (0.1-1.0 s) or, with probability 0.3,
    inside the previous turn of another speaker (an overlap of 0.3-1.5 s). A
    speaker never overlaps itself.
    """
    turns: List[Turn] = []
    t = rng.uniform(0.3, 1.0)
    prev = None
    while True:
        spk = rng.choice([s for s in speakers if s != prev]) if prev else rng.choice(speakers)
        length = rng.uniform(1.0, 4.0)
        start = t
        if prev is not None and rng.random() < 0.3:
            last = turns[-1]
            start = max(last.start + 0.2, last.end - rng.uniform(0.3, 1.5))
            # the new speaker's own previous turn must have ended
            own_end = max((x.end for x in turns if x.speaker == spk), default=0.0)
            start = max(start, own_end + 0.05)
        end = start + length
        if end > duration - 0.3:
            break
        turns.append(Turn(rec_id, round(start, 3), round(end, 3), str(spk)))
        t = max(t, end) + rng.uniform(0.1, 1.0)
        prev = spk
    return turns


def synthesize_demo(
    target_dir,
    num_recordings: int = 6,
    duration: float = 40.0,
    seed: int = 0,
    sampling_rate: int = SAMPLING_RATE,
) -> Path:
    """Write the demo corpus (layout in the module docstring); returns ``target_dir``.

    Recordings have 2 to 4 speakers; the last third of them form the dev list.
    """
    target_dir = Path(target_dir)
    rng = np.random.default_rng(seed)
    names = sorted(SPEAKERS)
    all_turns: List[Turn] = []
    uem = {}
    ids = []
    for i in range(num_recordings):
        rec_id = f"demo{i:02d}"
        ids.append(rec_id)
        k = 2 + i % 3
        speakers = sorted(rng.choice(names, size=k, replace=False).tolist())
        turns = conversation(rec_id, speakers, duration, rng)
        audio = np.zeros(int(round(duration * sampling_rate)), dtype=np.float32)
        for turn in turns:
            a = int(round(turn.start * sampling_rate))
            seg = voiced_signal(turn.speaker, turn.end - turn.start, rng, sampling_rate)
            audio[a : a + len(seg)] += seg[: len(audio) - a]
        audio += 1e-3 * rng.standard_normal(len(audio)).astype(np.float32)  # room noise floor
        (target_dir / "audio").mkdir(parents=True, exist_ok=True)
        soundfile.write(target_dir / "audio" / f"{rec_id}.wav", audio, sampling_rate, subtype="PCM_16")
        write_rttm(turns, target_dir / "rttm" / f"{rec_id}.rttm")
        uem[rec_id] = [(0.5, duration - 0.5)]
        all_turns.extend(turns)
    write_uem(uem, target_dir / "all.uem")
    (target_dir / "lists").mkdir(parents=True, exist_ok=True)
    n_dev = max(1, num_recordings // 3)
    (target_dir / "lists" / "train.list").write_text("\n".join(ids[:-n_dev]) + "\n")
    (target_dir / "lists" / "dev.list").write_text("\n".join(ids[-n_dev:]) + "\n")
    logger.info(
        "demo corpus: %d recordings, %d turns, %.0f s each, in %s", num_recordings, len(all_turns), duration, target_dir
    )
    return target_dir
