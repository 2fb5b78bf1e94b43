"""8 kHz log-mel filter-bank features (kaldi-native-fbank) for diarization.

The feature standard lives in ``conf/fbank_8k.yaml`` and is mirrored by the
defaults of :class:`KnfFbankConfig`.  :class:`KaldiNativeFbank` is a Lhotse
:class:`~lhotse.features.base.FeatureExtractor` registered under the name
``"kaldi-native-fbank"`` (importing this module registers it); features are
stored with Lhotse's built-in ``lilcom_chunky`` storage, so reading them back
(``cut.load_features()``) needs only Lhotse, not this package.

:func:`splice`, :func:`subsample` and :func:`eend_input` turn a ``(T, 23)``
feature matrix into the ``(ceil(T / 10), 345)`` input of an EEND model.

Traps handled here (see also the comments in ``conf/fbank_8k.yaml``):

* kaldi-native-fbank defaults to ``snip_edges=True`` and a non-zero dither;
  every option is set explicitly from the config.
* ``OnlineFbank.get_frame(i)`` returns a *view* of a buffer owned by the
  extractor (it changes after ``pop()`` and dangles once the extractor is
  freed), so frames are copied into a fresh array.
* ``CutSet.compute_and_store_features`` silently drops cuts whose audio fails
  to load, and with ``num_jobs > 1`` returns the cuts interleaved by worker;
  :func:`compute_fbank` raises on dropped cuts and restores the input order.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np
from lhotse import CutSet
from lhotse.features.base import FeatureExtractor, register_extractor
from lhotse.features.io import LilcomChunkyWriter
from lhotse.utils import EPSILON

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "KnfFbankConfig",
    "KaldiNativeFbank",
    "load_fbank_config",
    "compute_fbank",
    "splice",
    "subsample",
    "eend_input",
]

Pathlike = Union[str, Path]

DEFAULT_CONFIG_PATH: Path = Path(__file__).parents[1] / "conf" / "fbank_8k.yaml"

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

    def __post_init__(self) -> None:
        if self.sampling_rate <= 0:
            raise ValueError(f"sampling_rate must be positive, got {self.sampling_rate}")
        if self.frame_length <= 0 or self.frame_shift <= 0:
            raise ValueError(
                f"frame_length and frame_shift must be positive seconds, got "
                f"{self.frame_length} and {self.frame_shift}"
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
        if self.window_type not in _WINDOW_TYPES:
            raise ValueError(
                f"window_type must be one of {_WINDOW_TYPES}, got {self.window_type!r}"
            )

    # ----------------------------------------------------------------- I/O
    @classmethod
    def _from_mapping(cls, data: Any, source: str) -> "KnfFbankConfig":
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ValueError(
                f"{source}: expected a mapping of option names to values, "
                f"got {type(data).__name__}"
            )
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
    bad = ValueError(
        f"{source}: option {key!r} must be of type {kind.__name__}, got {value!r}"
    )
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


# ------------------------------------------------------------------ extractor
def _knf_options(config: KnfFbankConfig):
    import kaldi_native_fbank as knf

    opts = knf.FbankOptions()
    fo = opts.frame_opts
    fo.samp_freq = float(config.sampling_rate)
    fo.frame_length_ms = config.frame_length * 1000.0
    fo.frame_shift_ms = config.frame_shift * 1000.0
    fo.dither = config.dither
    fo.snip_edges = config.snip_edges
    fo.preemph_coeff = config.preemph_coeff
    fo.remove_dc_offset = config.remove_dc_offset
    fo.window_type = config.window_type
    fo.round_to_power_of_two = config.round_to_power_of_two
    mo = opts.mel_opts
    mo.num_bins = config.num_mel_bins
    mo.low_freq = config.low_freq
    mo.high_freq = config.high_freq
    opts.use_energy = config.use_energy
    opts.energy_floor = config.energy_floor
    opts.use_log_fbank = config.use_log_fbank
    opts.use_power = config.use_power
    # Guard against a binding that hands out copies of the nested option
    # structs (then the assignments above would be silently lost).
    if (
        opts.frame_opts.snip_edges != config.snip_edges
        or opts.frame_opts.dither != config.dither
        or opts.frame_opts.samp_freq != config.sampling_rate
        or opts.mel_opts.num_bins != config.num_mel_bins
        or opts.mel_opts.high_freq != config.high_freq
    ):
        raise RuntimeError(
            "kaldi_native_fbank ignored option assignments; got:\n" + str(opts)
        )
    return opts


@register_extractor
class KaldiNativeFbank(FeatureExtractor):
    """Kaldi-compatible log-mel fbank computed by kaldi-native-fbank (C++)."""

    name = "kaldi-native-fbank"
    config_type = KnfFbankConfig

    def __init__(self, config: Optional[KnfFbankConfig] = None):
        super().__init__(config=config)

    @property
    def frame_shift(self) -> float:
        return self.config.frame_shift

    def feature_dim(self, sampling_rate: int) -> int:
        return self.config.num_mel_bins + int(self.config.use_energy)

    def extract(self, samples, sampling_rate: int) -> np.ndarray:
        """``samples``: ``(N,)`` or ``(1, N)`` floats in [-1, 1] at
        ``config.sampling_rate``.  Returns ``(T, feature_dim)`` float32 with
        ``T == compute_num_frames(N / sr, frame_shift, sr)`` (snip_edges off)."""
        import kaldi_native_fbank as knf

        if sampling_rate != self.config.sampling_rate:
            raise ValueError(
                f"KaldiNativeFbank is configured for sampling_rate="
                f"{self.config.sampling_rate} Hz but got {sampling_rate} Hz; "
                f"resample first (e.g. CutSet.resample({self.config.sampling_rate}))."
            )
        if hasattr(samples, "detach"):  # torch.Tensor
            samples = samples.detach().cpu().numpy()
        samples = np.asarray(samples)
        if samples.ndim == 2:
            if samples.shape[0] != 1:
                raise ValueError(
                    f"KaldiNativeFbank expects mono audio, got shape {samples.shape}"
                )
            samples = samples[0]
        if samples.ndim != 1:
            raise ValueError(
                f"KaldiNativeFbank expects samples of shape (N,) or (1, N), "
                f"got {samples.shape}"
            )
        samples = np.ascontiguousarray(samples, dtype=np.float32)
        if not np.isfinite(samples).all():
            raise ValueError("audio samples contain NaN or Inf")

        fbank = knf.OnlineFbank(_knf_options(self.config))
        dim = self.feature_dim(sampling_rate)
        if samples.size:
            # accept_waveform takes the numpy array directly (converted in C++);
            # passing a Python list is only slower.
            fbank.accept_waveform(float(sampling_rate), samples)
        fbank.input_finished()
        num_frames = fbank.num_frames_ready
        feats = np.empty((num_frames, dim), dtype=np.float32)
        # No bulk getter exists in kaldi-native-fbank 1.23.  get_frame()
        # returns a view into the extractor's buffer: copy each row out.
        for i in range(num_frames):
            feats[i] = fbank.get_frame(i)
        return feats

    # Feature-domain mixing (for MixedCut with mix_eagerly=False); valid for
    # log power mel energies, i.e. the default config.
    @staticmethod
    def mix(
        features_a: np.ndarray, features_b: np.ndarray, energy_scaling_factor_b: float
    ) -> np.ndarray:
        return np.log(
            np.maximum(
                EPSILON, np.exp(features_a) + energy_scaling_factor_b * np.exp(features_b)
            )
        )

    @staticmethod
    def compute_energy(features: np.ndarray) -> float:
        return float(np.sum(np.exp(features)))


# ------------------------------------------------------------------- CutSets
def compute_fbank(
    cuts: CutSet,
    storage_path: Pathlike,
    config: Optional[KnfFbankConfig] = None,
    num_jobs: int = 1,
) -> CutSet:
    """Compute and store fbank features for ``cuts``; returns them in input order.

    The cuts are resampled lazily to ``config.sampling_rate`` (the audio files
    are never rewritten) and features are written with
    :class:`~lhotse.features.io.LilcomChunkyWriter` (``storage_path`` gets a
    ``.lca`` suffix; with ``num_jobs > 1`` it is a directory of
    ``feats-<i>.lca`` files).  ``config=None`` uses :func:`load_fbank_config`.

    Raises ``RuntimeError`` listing the cut ids whose features could not be
    computed (e.g. unreadable audio).
    """
    if config is None:
        config = load_fbank_config()
    if num_jobs < 1:
        raise ValueError(f"num_jobs must be >= 1, got {num_jobs}")
    extractor = KaldiNativeFbank(config)

    input_ids = [cut.id for cut in cuts]
    if len(set(input_ids)) != len(input_ids):
        seen, dups = set(), []
        for cid in input_ids:
            if cid in seen and cid not in dups:
                dups.append(cid)
            seen.add(cid)
        raise ValueError(f"duplicate cut ids in input: {_id_list(dups)}")

    if num_jobs == 1:
        Path(storage_path).parent.mkdir(parents=True, exist_ok=True)

    resampled = cuts.resample(config.sampling_rate)
    with_feats = resampled.compute_and_store_features(
        extractor=extractor,
        storage_path=storage_path,
        num_jobs=num_jobs,
        storage_type=LilcomChunkyWriter,
        progress_bar=True,
    )
    by_id = {cut.id: cut for cut in with_feats}

    # Work around Lhotse: compute_and_store_features() wraps each cut in
    # null_result_on_audio_loading_error(), so a cut whose audio cannot be
    # loaded is only logged as a warning and silently DROPPED from the result.
    # A training set must not shrink without notice, so fail loudly instead.
    missing = [cid for cid in input_ids if cid not in by_id]
    if missing:
        raise RuntimeError(
            f"fbank extraction failed for {len(missing)} of {len(input_ids)} cut(s) "
            f"(Lhotse dropped them, most likely unreadable audio): {_id_list(missing)}"
        )
    # With num_jobs > 1 Lhotse returns the cuts grouped by worker; restore order.
    return CutSet.from_cuts(by_id[cid] for cid in input_ids)


def _id_list(ids, limit: int = 10) -> str:
    shown = ", ".join(map(str, ids[:limit]))
    if len(ids) > limit:
        shown += f", ... ({len(ids) - limit} more, {len(ids)} in total)"
    return shown


# ------------------------------------------------------------- EEND helpers
def _check_feats(feats: np.ndarray) -> np.ndarray:
    feats = np.asarray(feats)
    if feats.ndim != 2:
        raise ValueError(f"expected a (T, D) feature matrix, got shape {feats.shape}")
    return feats


def _padded_windows(feats: np.ndarray, context: int) -> np.ndarray:
    """Read-only view ``(T, 2*context+1, D)``: window t = frames t-c..t+c,
    zeros outside [0, T)."""
    if context < 0:
        raise ValueError(f"context must be >= 0, got {context}")
    num_frames, dim = feats.shape
    padded = np.zeros((num_frames + 2 * context, dim), dtype=feats.dtype)
    padded[context : context + num_frames] = feats
    width = 2 * context + 1
    if num_frames == 0:
        return np.zeros((0, width, dim), dtype=feats.dtype)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (width, dim))
    return windows[:, 0]  # drop the singleton axis of the 2-D window


def splice(feats: np.ndarray, context: int = 7) -> np.ndarray:
    """``(T, D) -> (T, D * (2*context+1))``: row t is frames t-context .. t+context
    concatenated in that order; frames outside [0, T) are zeros (EEND)."""
    feats = _check_feats(feats)
    num_frames, dim = feats.shape
    windows = _padded_windows(feats, context)
    return windows.reshape(num_frames, dim * (2 * context + 1)).copy()


def subsample(feats: np.ndarray, factor: int = 10) -> np.ndarray:
    """Every ``factor``-th frame, starting with frame 0 (``feats[::factor]``)."""
    if factor < 1:
        raise ValueError(f"subsampling factor must be >= 1, got {factor}")
    return np.asarray(feats)[::factor]


def eend_input(feats: np.ndarray, context: int = 7, subsampling: int = 10) -> np.ndarray:
    """``subsample(splice(feats, context), subsampling)``:
    ``(T, 23) -> (ceil(T / subsampling), 345)`` for the defaults.

    Only the kept rows are materialised (same result, ~``subsampling`` x less
    memory than splicing every frame first)."""
    feats = _check_feats(feats)
    if subsampling < 1:
        raise ValueError(f"subsampling factor must be >= 1, got {subsampling}")
    num_frames, dim = feats.shape
    windows = _padded_windows(feats, context)[::subsampling]
    out_frames = math.ceil(num_frames / subsampling)
    assert windows.shape[0] == out_frames
    # reshape of the strided view may itself be a (read-only) view: copy.
    return windows.reshape(out_frames, dim * (2 * context + 1)).copy()
