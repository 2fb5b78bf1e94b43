"""The Lhotse feature extractors of the two fbank computations of
:mod:`recipes.features.compute`: :class:`KaldiNativeFbank` (kaldi-native-fbank, registered
with Lhotse as ``kaldi-native-fbank``) and :class:`NumpyKaldiFbank` (:class:`NumpyFbank`,
``numpy-kaldi-fbank``). Importing this module registers both with Lhotse.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from lhotse.features.base import FeatureExtractor, register_extractor

from recipes.features.audio import mono_samples_at_config_rate
from recipes.features.compute import (  # noqa: F401 - re-exported: the computations' old home
    MEL_GROUPS,
    NumpyFbank,
    _knf_options,
    kaldi_mel_banks,
    knf_features,
    one_blas_thread,
)
from recipes.features.config import EPSILON, KnfFbankConfig


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
        """``samples``: ``(N,)`` or ``(1, N)`` floats in [-1, 1] at ``sampling_rate``
        (resampled with soxr when it is not ``config.sampling_rate``, see
        :func:`mono_samples_at_config_rate`). Returns ``(T, feature_dim)`` float32 with
        ``T == compute_num_frames(N' / sr, frame_shift, sr)`` for the ``N'`` samples at
        ``sr = config.sampling_rate`` (snip_edges off)."""
        samples = mono_samples_at_config_rate(samples, sampling_rate, self.config, type(self).__name__)
        return knf_features(samples, self.config)

    # Feature-domain mixing (for MixedCut with mix_eagerly=False); valid for
    # log power mel energies, i.e. the default config.
    @staticmethod
    def mix(features_a: np.ndarray, features_b: np.ndarray, energy_scaling_factor_b: float) -> np.ndarray:
        return np.log(np.maximum(EPSILON, np.exp(features_a) + energy_scaling_factor_b * np.exp(features_b)))

    @staticmethod
    def compute_energy(features: np.ndarray) -> float:
        return float(np.sum(np.exp(features)))


@register_extractor
class NumpyKaldiFbank(KaldiNativeFbank):
    """:class:`NumpyFbank` as a Lhotse :class:`~lhotse.features.base.FeatureExtractor`
    (registered as ``numpy-kaldi-fbank``): the same features as :class:`KaldiNativeFbank`
    (within 1e-3) about 8x faster, for on-the-fly features, e.g.
    ``lhotse.dataset.OnTheFlyFeatures(NumpyKaldiFbank())`` in a DataLoader's workers.
    Audio at another rate than the config's is resampled with soxr."""

    name = "numpy-kaldi-fbank"

    def __init__(self, config: Optional[KnfFbankConfig] = None):
        super().__init__(config=config)
        self._fbank = NumpyFbank(
            self.config, fft="torch"
        )  # torch is loaded with Lhotse; checks that the config is one the numpy backend implements

    def extract(self, samples, sampling_rate: int) -> np.ndarray:
        samples = mono_samples_at_config_rate(samples, sampling_rate, self.config, type(self).__name__)
        return self._fbank(samples)
