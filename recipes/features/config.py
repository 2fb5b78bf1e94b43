"""The feature standard: :class:`KnfFbankConfig`, whose defaults equal ``conf/fbank_8k.yaml``,
and :func:`load_fbank_config`. Times in seconds, frequencies in Hz."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np

Pathlike = Union[str, Path]

EPSILON = 1e-10  # == lhotse.utils.EPSILON (defined here so the config imports no Lhotse; a test checks)


DEFAULT_CONFIG_PATH: Path = Path(__file__).parents[2] / "conf" / "fbank_8k.yaml"

RESAMPLERS = ("soxr", "lhotse")
BACKENDS = ("numpy", "knf")
_WINDOW_TYPES = ("povey", "hamming", "hanning", "rectangular", "sine", "blackman")


@dataclass
class KnfFbankConfig:
    """Options of :class:`KaldiNativeFbank`; defaults == ``conf/fbank_8k.yaml``.

    Times are in seconds, frequencies in Hz.  ``high_freq <= 0`` is an offset
    from the Nyquist frequency.
    """

    sampling_rate: int = 8000
    frame_length: float = 0.025
    frame_shift: float = 0.01
    num_mel_bins: int = 23
    snip_edges: bool = False
    dither: float = 0.0
    low_freq: float = 20.0
    high_freq: float = -400.0
    preemph_coeff: float = 0.97
    remove_dc_offset: bool = True
    window_type: str = "povey"
    round_to_power_of_two: bool = True
    use_energy: bool = False
    energy_floor: float = EPSILON
    use_log_fbank: bool = True
    use_power: bool = True
    resampler: str = "soxr"

    def __post_init__(self) -> None:
        if self.sampling_rate <= 0:
            raise ValueError(f"sampling_rate must be positive, got {self.sampling_rate}")
        if self.frame_length <= 0 or self.frame_shift <= 0:
            raise ValueError(
                f"frame_length and frame_shift must be positive seconds, got {self.frame_length} and {self.frame_shift}"
            )
        hop = self.frame_shift * self.sampling_rate
        if abs(hop - round(hop)) > 1e-6:
            # Lhotse's compute_num_frames() rounds the hop to whole samples;
            # a fractional hop would make frame counts disagree with it.
            raise ValueError(
                f"frame_shift * sampling_rate must be a whole number of samples, "
                f"got {self.frame_shift} * {self.sampling_rate} = {hop}"
            )
        if self.num_mel_bins <= 0:
            raise ValueError(f"num_mel_bins must be positive, got {self.num_mel_bins}")
        if self.resampler not in RESAMPLERS:
            raise ValueError(f"resampler must be one of {RESAMPLERS}, got {self.resampler!r}")
        if self.window_type not in _WINDOW_TYPES:
            raise ValueError(f"window_type must be one of {_WINDOW_TYPES}, got {self.window_type!r}")

    # ----------------------------------------------------------------- I/O
    @classmethod
    def _from_mapping(cls, data: Any, source: str) -> "KnfFbankConfig":
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ValueError(f"{source}: expected a mapping of option names to values, got {type(data).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in data if k not in fields)
        if unknown:
            raise ValueError(
                f"{source}: unknown fbank option(s) {', '.join(map(repr, unknown))}; "
                f"valid keys are: {', '.join(fields)}"
            )
        kwargs = {}
        for key, value in data.items():
            kwargs[key] = _coerce(key, value, type(fields[key].default), source)
        return cls(**kwargs)

    @classmethod
    def from_yaml(cls, path: Pathlike) -> "KnfFbankConfig":
        """Read a config; unknown keys raise ``ValueError`` naming key and file."""
        import yaml

        path = Path(path)
        with path.open() as f:
            data = yaml.safe_load(f)
        return cls._from_mapping(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "KnfFbankConfig":
        """Used by Lhotse (``FeatureExtractor.from_dict``); strict like from_yaml."""
        return cls._from_mapping(dict(data), source="KnfFbankConfig.from_dict")

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _coerce(key: str, value: Any, kind: type, source: str) -> Any:
    """Check/convert one YAML value to the field's type (YAML ints for floats...)."""
    bad = ValueError(f"{source}: option {key!r} must be of type {kind.__name__}, got {value!r}")
    if kind is bool:
        if not isinstance(value, (bool, np.bool_)):
            raise bad
        return bool(value)
    if isinstance(value, (bool, np.bool_)):  # bool is an int subclass: reject
        raise bad
    if kind is int:
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return int(value)
        raise bad
    if kind is float:
        if isinstance(value, (int, float, np.integer, np.floating)):
            return float(value)
        raise bad
    if kind is str:
        if isinstance(value, str):
            return value
        raise bad
    return value


def load_fbank_config(path: Optional[Pathlike] = None) -> KnfFbankConfig:
    """The config at ``path``; by default ``conf/fbank_8k.yaml`` if present,
    else the dataclass defaults (which equal that file)."""
    if path is not None:
        return KnfFbankConfig.from_yaml(path)
    if DEFAULT_CONFIG_PATH.is_file():
        return KnfFbankConfig.from_yaml(DEFAULT_CONFIG_PATH)
    return KnfFbankConfig()
