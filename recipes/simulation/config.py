"""Simulation presets (``conf/simulation/*.yaml``): :class:`SimulationConfig` and :func:`load_config`."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

METHODS = ("eend", "conversation", "target-overlap")
SUPERVISION_MODES = ("speech", "utterance")
PILOT_MIXTURES = 2000  # mixtures used to turn --hours into a number of mixtures
VAD_FRAME = 0.025  # seconds
VAD_SHIFT = 0.010  # seconds
VAD_FLOOR_PERCENTILE = 5.0  # the noise floor: this percentile of the frame energies
VAD_MARGIN_DB = 12.0  # speech = frames at least this many dB above the floor (at most half the floor..peak range)
VAD_MIN_SPEECH = 0.05  # seconds: shorter speech runs are dropped
MIN_PAUSE = 0.3  # seconds: sources are split into speech segments at pauses this long
SEGMENT_MARGIN = 0.1  # seconds of audio kept beyond a segment's speech (at most half the pause)
TURN_MAX_PAUSE = 1.0  # seconds: consecutive segments of a source utterance this close may form one turn
TURN_MAX_SEGMENTS = 64  # segments per turn at most
VAD_COLLAR = 0.05  # seconds added on both sides of the detected speech
MAX_SPEAKERS = 32  # speakers per mixture
HIST_BINS = 20  # per-mixture overlap ratio histogram: bins of 0.05 over [0, 1]


# ---------------------------------------------------------------------------
# configuration


@dataclass
class SimulationConfig:
    """A simulation preset (``conf/simulation/*.yaml``); every field has a default.

    - ``method``: ``eend`` | ``conversation`` | ``target-overlap``.
    - ``speakers``: speaker count (1..MAX_SPEAKERS) -> probability (normalised); for
      ``target-overlap`` a share of *hours* (mixture counts are set to give those hours).
    - ``utterances_per_speaker``: ``[lo, hi]`` inclusive.
    - ``beta``: silence scale in seconds, one value or speaker count -> value.
    - ``target_overlap``: overlap levels for ``target-overlap``: one value, a
      list (each mixture draws a level uniformly) or speaker count -> either.
    - ``calibration_mixtures``: pilot size per (speaker count, level).
    - ``conversation_stats``: RTTM file/dir or CutSet manifest for ``conversation``.
    - ``outlier_cutoff``: pauses and overlaps of this many seconds or more are dropped from the
      measured statistics (7 s as BUT's EEND_dataprep; ``null`` keeps every value).
    - ``max_duration``: seconds; a mixture stops before a turn that would end after it
      (``conversation``, ``target-overlap``).
    - ``target_silence``: silence / duration, pooled per combination (``target-overlap``; default
      0.10: overlap and silence controlled together; ``null``: the old control, overlap only, by
      the EEND silence scale ``beta``).
    - ``supervision``: ``speech`` (the VAD-trimmed source supervision) or
      ``utterance`` (the whole utterance, silence included, as EEND labels).
    - ``hours``: default set size, one value or split name -> hours.
    - ``hours_per_combination``: instead of ``hours``: at least this many hours
      of every (speaker count, level) combination (consecutive blocks of mixture
      indices, one block per combination), one value or split -> hours.
    - ``dev_fraction``, ``split_seed``: the deterministic speaker split.
    - ``shard_size``: mixtures per shard.
    - ``noise``: ``{cuts: manifest, snr: [lo, hi], probability: p}`` (optional).
    - ``reverb``: ``{rirs: fast | RecordingSet manifest, probability: p}`` (optional):
      with probability ``p`` a mixture is reverberant, one impulse response per
      speaker (``fast``: Lhotse's fast random RIR generator, one room per
      mixture, one source position per speaker; else RIRs drawn from the manifest).
    """

    method: str = "eend"
    speakers: Dict[int, float] = field(default_factory=lambda: {2: 1.0})
    utterances_per_speaker: Tuple[int, int] = (10, 20)
    beta: Any = 2.0
    target_overlap: Any = None
    calibration_mixtures: int = 300
    conversation_stats: Optional[str] = None
    outlier_cutoff: Optional[float] = 7.0
    max_duration: Optional[float] = None
    target_silence: Optional[float] = 0.10
    supervision: str = "speech"
    hours: Any = None
    hours_per_combination: Any = None
    dev_fraction: float = 0.1
    split_seed: int = 0
    shard_size: int = 500
    noise: Optional[Dict[str, Any]] = None
    reverb: Optional[Dict[str, Any]] = None
    name: str = ""

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method {self.method!r}; expected one of {METHODS}")
        if self.supervision not in SUPERVISION_MODES:
            raise ValueError(f"supervision {self.supervision!r}; expected one of {SUPERVISION_MODES}")
        spk = {int(k): float(v) for k, v in dict(self.speakers).items() if float(v) > 0}
        if not spk or any(k < 1 or k > MAX_SPEAKERS for k in spk) or any(v < 0 for v in spk.values()):
            raise ValueError(
                f"speakers {self.speakers!r}: expected speaker counts 1..{MAX_SPEAKERS} -> probabilities > 0"
            )
        total = sum(spk.values())
        self.speakers = {k: v / total for k, v in sorted(spk.items())}
        lo, hi = (int(x) for x in self.utterances_per_speaker)
        if not 1 <= lo <= hi:
            raise ValueError(f"utterances_per_speaker {self.utterances_per_speaker!r}: expected 1 <= lo <= hi")
        self.utterances_per_speaker = (lo, hi)
        for k in self.speakers:
            if self.beta_for(k) <= 0:
                raise ValueError(f"beta for {k} speakers must be > 0")
        if self.method == "target-overlap":
            if self.target_overlap is None:
                raise ValueError("method target-overlap needs target_overlap")
            for k in self.speakers:
                for level in self.levels_for(k):
                    if level is not None and not 0.0 < level < 1.0:
                        raise ValueError(f"target_overlap {level!r} for {k} speakers: expected 0 < level < 1")
        if self.method == "conversation" and not self.conversation_stats:
            raise ValueError("method conversation needs conversation_stats (an RTTM or a CutSet of real turns)")
        if self.max_duration is not None and float(self.max_duration) <= 0:
            raise ValueError("max_duration must be > 0 seconds")
        if self.target_silence is not None and not 0.0 <= float(self.target_silence) < 1.0:
            raise ValueError(f"target_silence {self.target_silence!r}: expected 0 <= target_silence < 1")
        if self.shard_size < 1:
            raise ValueError("shard_size must be >= 1")
        if not 0.0 <= self.dev_fraction <= 1.0:
            raise ValueError("dev_fraction must be in [0, 1]")

    def beta_for(self, num_speakers: int) -> float:
        if isinstance(self.beta, dict):
            table = {int(k): float(v) for k, v in self.beta.items()}
            if num_speakers not in table:
                raise ValueError(f"beta has no value for {num_speakers} speakers")
            return table[num_speakers]
        return float(self.beta)

    def levels_for(self, num_speakers: int) -> List[Optional[float]]:
        """Overlap levels of ``target-overlap`` for a speaker count (``[None]``: no target)."""
        if self.method != "target-overlap" or num_speakers < 2:
            return [None]
        t = self.target_overlap
        if isinstance(t, dict):
            t = {int(k): v for k, v in t.items()}.get(num_speakers)
            if t is None:
                raise ValueError(f"target_overlap has no value for {num_speakers} speakers")
        values = t if isinstance(t, (list, tuple)) else [t]
        return [float(v) for v in values]

    def combinations(self) -> List[Tuple[int, Optional[float], float]]:
        """``(speaker count, level, probability)`` for every combination a mixture may draw."""
        out = []
        for k, p in self.speakers.items():
            levels = self.levels_for(k)
            out += [(k, lv, p / len(levels)) for lv in levels]
        return out

    def hours_for(self, split: Optional[str], per_combination: bool = False) -> Optional[float]:
        hours = self.hours_per_combination if per_combination else self.hours
        if hours is None:
            return None
        if isinstance(hours, dict):
            if split is None or split not in hours:
                return None
            return float(hours[split])
        return float(hours)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["utterances_per_speaker"] = list(self.utterances_per_speaker)
        return d


def load_config(path=None, **overrides) -> SimulationConfig:
    """Read a YAML preset (unknown keys are an error); ``overrides`` replace its values."""
    data: Dict[str, Any] = {}
    if path is not None:
        import yaml

        with open(path) as f:
            data = yaml.safe_load(f) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of simulation options")
        data.setdefault("name", Path(path).stem)
    data.update({k: v for k, v in overrides.items() if v is not None})
    known = set(SimulationConfig.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown option(s) {unknown}; expected some of {sorted(known)}")
    return SimulationConfig(**data)
