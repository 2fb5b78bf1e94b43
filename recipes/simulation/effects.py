"""Noise (MUSAN through Lhotse) and reverberation: optional extra tracks and per-speaker transforms."""
import json
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from recipes.simulation.sources import _opener


class _Noise:
    """Noise cuts and how to lay them under a mixture: consecutive copies from
    offset 0 until the mixture is covered (the last one truncated), each with an
    SNR drawn uniformly in ``snr`` (dB, relative to the mixture's first track:
    Lhotse's rule for MixedCut tracks)."""

    def __init__(self, dicts: List[dict], snr: Sequence[float], probability: float):
        self.dicts = dicts
        self.snr = (float(snr[0]), float(snr[1]))
        self.probability = float(probability)

    def tracks(self, rng, duration: float) -> List[str]:
        if rng.random() >= self.probability:
            return []
        dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        snr = round(float(rng.uniform(*self.snr)), 2)
        out, t = [], 0.0
        while duration - t > 1e-3:
            d = dict(self.dicts[int(rng.integers(len(self.dicts)))])
            d["duration"] = round(min(float(d["duration"]), duration - t), 3)
            out.append('{"cut":' + dumps(d) + ',"type":"MonoCut","offset":' + repr(round(t, 3))
                       + ',"snr":' + repr(snr) + "}")
            t = round(t + d["duration"], 3)
        return out


def load_noise(spec: Dict[str, Any]) -> _Noise:
    """Noise MonoCuts (e.g. ``lhotse prepare musan`` -> ``lhotse cut simple``) of at least 0.5 s."""
    dicts = []
    with _opener(spec["cuts"]) as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                if d.get("type", "MonoCut") != "MonoCut" or float(d["duration"]) < 0.5:
                    continue
                d["supervisions"] = []
                d.pop("custom", None)
                dicts.append(d)
    if not dicts:
        raise ValueError(f"no noise cuts in {spec['cuts']}")
    return _Noise(dicts, spec.get("snr", [10, 20]), spec.get("probability", 1.0))


class _Reverb:
    """Per-speaker Lhotse ``ReverbWithImpulseResponse`` transforms (JSON) for one mixture."""

    def __init__(self, spec: Dict[str, Any], sampling_rate: int):
        self.probability = float(spec.get("probability", 1.0))
        self.sampling_rate = sampling_rate
        rirs = spec.get("rirs", "fast")
        self.rirs = None
        if rirs != "fast":
            with _opener(rirs) as f:
                self.rirs = [json.loads(line) for line in f if line.strip()]
            if not self.rirs:
                raise ValueError(f"reverb: no RIR recordings in {rirs}")

    def transforms(self, rng, speakers: np.ndarray) -> Optional[Dict[int, str]]:
        if rng.random() >= self.probability:
            return None
        dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        room = int(rng.integers(1 << 62))
        out = {}
        for spk in sorted(set(int(x) for x in speakers)):
            kwargs = {"rir": None, "normalize_output": True, "early_only": False, "rir_channels": [0],
                      "rir_generator": None}
            if self.rirs is None:
                kwargs["rir_generator"] = {"sr": self.sampling_rate, "direct_range": [-6, 50], "max_T60": 0.8,
                                           "alpha": 0.25, "a": -2.0, "b": 2.0, "tau": 0.2, "room_seed": room,
                                           "source_seed": int(rng.integers(1 << 62))}
            else:
                kwargs["rir"] = self.rirs[int(rng.integers(len(self.rirs)))]
            out[spk] = dumps({"name": "ReverbWithImpulseResponse", "kwargs": kwargs})
        return out
