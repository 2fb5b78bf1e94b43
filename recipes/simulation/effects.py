"""Noise (MUSAN through Lhotse) and reverberation: optional extra tracks and per-speaker transforms."""

import json
from typing import Any, Dict, List, Optional

import numpy as np

from recipes.simulation.sources import _opener

NOISE_MODES = ("loop", "stitch")
SNR_REFERENCES = ("mixture", "first_track")
EEND_SNRS = (5.0, 10.0, 15.0, 20.0)  # dB, EEND's random_mixture.py


class _Noise:
    """Noise cuts and how to lay them under a mixture (``noise:`` of a preset).

    - ``mode: loop`` (default, EEND): one noise recording per mixture, repeated from
      offset 0 until the mixture is covered (the last copy truncated);
      ``mode: stitch``: consecutive copies of different noise cuts (the old behaviour).
    - ``snrs: [5, 10, 15, 20]`` (default, EEND): the SNR is one of these (dB), uniformly;
      ``snr: [lo, hi]``: uniform in the range.
    - ``reference: mixture`` (default, EEND): the SNR is relative to the whole speech
      mixture (its mean power over the mixture's length, silences included), from the
      sources' ``energy`` (mean square of each source cut, written by ``diar
      simulate-sources``) as ``sum_i energy_i duration_i / duration`` (different
      speakers' signals are uncorrelated); Lhotse measures a track's SNR against the
      first track, so each noise track's SNR is shifted by ``10 log10(E_first / E_mix)``.
      ``reference: first_track``: Lhotse's rule as it is (the old behaviour).
    - ``probability``: of a mixture getting noise (default 1).
    """

    def __init__(self, dicts: List[dict], spec: Dict[str, Any]):
        self.dicts = dicts
        unknown = sorted(set(spec) - {"cuts", "snr", "snrs", "probability", "mode", "reference"})
        if unknown:
            raise ValueError(
                f"noise: unknown key(s) {unknown}; expected cuts, snrs | snr, probability, mode, reference"
            )
        if "snr" in spec and "snrs" in spec:
            raise ValueError("noise: give snrs (a set of values) or snr ([lo, hi]), not both")
        self.snr = None
        self.snrs = [float(x) for x in spec.get("snrs", EEND_SNRS)]
        if "snr" in spec:
            lo, hi = (float(x) for x in spec["snr"])
            self.snr = (lo, hi)
        self.probability = float(spec.get("probability", 1.0))
        self.mode = spec.get("mode", "loop")
        self.reference = spec.get("reference", "mixture")
        if self.mode not in NOISE_MODES:
            raise ValueError(f"noise: mode {self.mode!r}; expected one of {NOISE_MODES}")
        if self.reference not in SNR_REFERENCES:
            raise ValueError(f"noise: reference {self.reference!r}; expected one of {SNR_REFERENCES}")

    def draw_snr(self, rng) -> float:
        if self.snr is not None:
            return float(rng.uniform(*self.snr))
        return self.snrs[int(rng.integers(len(self.snrs)))]

    def tracks(self, rng, duration: float, shift_db: float = 0.0) -> List[str]:
        """Noise tracks under a mixture of ``duration`` s; ``shift_db`` is added to the drawn SNR
        (``10 log10(E_first / E_mix)`` for ``reference: mixture``)."""
        if rng.random() >= self.probability:
            return []
        dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        snr = round(self.draw_snr(rng) + shift_db, 2)
        out, t = [], 0.0
        one = int(rng.integers(len(self.dicts)))
        while duration - t > 1e-3:
            d = dict(self.dicts[one if self.mode == "loop" else int(rng.integers(len(self.dicts)))])
            d["duration"] = round(min(float(d["duration"]), duration - t), 3)
            out.append(
                '{"cut":' + dumps(d) + ',"type":"MonoCut","offset":' + repr(round(t, 3)) + ',"snr":' + repr(snr) + "}"
            )
            t = round(t + d["duration"], 3)
        return out


def load_noise(spec: Dict[str, Any]) -> _Noise:
    """Noise MonoCuts (e.g. ``lhotse prepare musan`` -> ``lhotse cut simple``) of at least 0.5 s."""
    if not spec.get("cuts"):
        raise ValueError("noise: no cuts given (the preset's noise: {cuts: ...}, or --noise-cuts)")
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
    return _Noise(dicts, spec)


class _Reverb:
    """Per-speaker Lhotse ``ReverbWithImpulseResponse`` transforms (JSON) for one mixture.

    ``per: speaker`` (default, EEND): each speaker is reverberant with probability
    ``probability`` (default 0.5), independently; ``per: mixture`` (the old behaviour): with
    probability ``probability`` every speaker of the mixture is. RIRs from a RecordingSet
    manifest are resampled (lazily, by Lhotse) to the sources' rate; ``rirs: fast``
    (Lhotse's fast random RIR generator) needs torchaudio and is refused without it.
    """

    def __init__(self, spec: Dict[str, Any], sampling_rate: int):
        unknown = sorted(set(spec) - {"rirs", "probability", "per"})
        if unknown:
            raise ValueError(f"reverb: unknown key(s) {unknown}; expected rirs, probability, per")
        self.probability = float(spec.get("probability", 0.5))
        self.per = spec.get("per", "speaker")
        if self.per not in ("speaker", "mixture"):
            raise ValueError(f"reverb: per {self.per!r}; expected speaker or mixture")
        self.sampling_rate = sampling_rate
        rirs = spec.get("rirs", "fast")
        self.rirs = None
        if rirs == "fast":
            import importlib.util

            if importlib.util.find_spec("torchaudio") is None:
                raise ValueError(
                    "reverb: {rirs: fast} (Lhotse's random RIR generator) needs torchaudio: "
                    "pip install 'diar-recipes[torchaudio]' (or give a RecordingSet of RIRs)"
                )
        else:
            with _opener(rirs) as f:
                self.rirs = [self._at_rate(json.loads(line), rirs) for line in f if line.strip()]
            if not self.rirs:
                raise ValueError(f"reverb: no RIR recordings in {rirs}")

    def _at_rate(self, rec: dict, path) -> dict:
        sr = rec.get("sampling_rate")
        if not sr:
            raise ValueError(f"reverb: {path}: RIR {rec.get('id')} has no sampling_rate")
        if int(sr) == int(self.sampling_rate):
            return rec
        from lhotse import Recording

        return Recording.from_dict(rec).resample(int(self.sampling_rate)).to_dict()

    def transforms(self, rng, speakers: np.ndarray) -> Optional[Dict[int, str]]:
        if self.per == "mixture" and rng.random() >= self.probability:
            return None
        dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        room = int(rng.integers(1 << 62))
        out = {}
        for spk in sorted(set(int(x) for x in speakers)):
            if self.per == "speaker" and rng.random() >= self.probability:
                continue
            kwargs = {
                "rir": None,
                "normalize_output": True,
                "early_only": False,
                "rir_channels": [0],
                "rir_generator": None,
            }
            if self.rirs is None:
                kwargs["rir_generator"] = {
                    "sr": self.sampling_rate,
                    "direct_range": [-6, 50],
                    "max_T60": 0.8,
                    "alpha": 0.25,
                    "a": -2.0,
                    "b": 2.0,
                    "tau": 0.2,
                    "room_seed": room,
                    "source_seed": int(rng.integers(1 << 62)),
                }
            else:
                kwargs["rir"] = self.rirs[int(rng.integers(len(self.rirs)))]
            out[spk] = dumps({"name": "ReverbWithImpulseResponse", "kwargs": kwargs})
        return out or None
