"""8 kHz log-mel filter-bank features (kaldi-native-fbank) for diarization: stage 2.

The package is cut along its concerns:

* :mod:`~recipes.features.config`: :class:`KnfFbankConfig`, the feature standard
  (``conf/fbank_8k.yaml`` mirrored by its defaults) and :func:`load_fbank_config`;
* :mod:`~recipes.features.extractors`: :class:`KaldiNativeFbank` (kaldi-native-fbank, a
  Lhotse :class:`~lhotse.features.base.FeatureExtractor` registered as
  ``"kaldi-native-fbank"``: importing this package registers it), :class:`NumpyFbank` (the
  same features, vectorised) and :class:`NumpyKaldiFbank` (its Lhotse wrapper);
* :mod:`~recipes.features.audio`: audio loading at the config's rate, soxr resampling
  (:func:`resample_audio`), context around windows of longer recordings;
* :mod:`~recipes.features.stage`: :func:`compute_fbank`, the stage runner over a CutSet
  (lilcom archives, local processes or dask, rejects);
* :mod:`~recipes.features.eend`: :func:`splice`, :func:`subsample`, :func:`eend_input`, which
  turn a ``(T, 23)`` feature matrix into the ``(ceil(T / 10), 345)`` input of an EEND model.

No CLI code here: ``diar fbank`` (:mod:`recipes.cli`) calls :func:`compute_fbank`.

Features are stored with Lhotse's built-in ``lilcom_chunky`` storage (written by
:class:`recipes.lilcom_writer.FastLilcomChunkyWriter`, same bytes as Lhotse's writer), so
reading them back (``cut.load_features()``) needs only Lhotse, not this package.

Stage 2 per core (``bench/fbank.py``): PCM16 WAV memory-mapped, soxr streamed from int16
(HQ), :class:`NumpyFbank`, lilcom bytes from :mod:`recipes.lilcom_codec`. At ~10,000x real
time (cProfile, 20 min of 16 kHz audio: 0.12 s) about 40 % is the fbank (of it a third the
FFT), 35 % soxr, 20 % the lilcom encoding.
"""

from recipes.features.audio import (
    CONTEXT,
    RESAMPLE_BLOCK,
    _read_pcm16,  # noqa: F401 - the fast path, tested directly
    load_audio_for_features,
    load_audio_with_context,
    mono_samples_at_config_rate,
    resample_audio,
)
from recipes.features.config import (
    BACKENDS,
    DEFAULT_CONFIG_PATH,
    RESAMPLERS,
    KnfFbankConfig,
    Pathlike,
    load_fbank_config,
)
from recipes.features.eend import eend_input, splice, subsample
from recipes.features.extractors import (
    MEL_GROUPS,
    KaldiNativeFbank,
    NumpyFbank,
    NumpyKaldiFbank,
    kaldi_mel_banks,
)
from recipes.features.stage import Reject, compute_cut_features, compute_fbank

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "KnfFbankConfig",
    "KaldiNativeFbank",
    "NumpyKaldiFbank",
    "NumpyFbank",
    "load_fbank_config",
    "compute_fbank",
    "compute_cut_features",
    "load_audio_for_features",
    "load_audio_with_context",
    "resample_audio",
    "splice",
    "subsample",
    "eend_input",
    "mono_samples_at_config_rate",
    "kaldi_mel_banks",
    "Reject",
    "BACKENDS",
    "RESAMPLERS",
    "CONTEXT",
    "RESAMPLE_BLOCK",
    "MEL_GROUPS",
    "Pathlike",
]
