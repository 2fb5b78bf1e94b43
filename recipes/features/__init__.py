"""8 kHz log-mel filter-bank features (kaldi-native-fbank) for diarization: stage 2.

The package is cut along its concerns:

* :mod:`~recipes.features.config`: :class:`KnfFbankConfig`, the feature standard
  (``conf/fbank_8k.yaml`` mirrored by its defaults) and :func:`load_fbank_config`;
* :mod:`~recipes.features.compute`: :class:`NumpyFbank` (kaldi-native-fbank's features,
  vectorised) and :func:`knf_features` (kaldi-native-fbank itself), with no Lhotse or torch;
* :mod:`~recipes.features.extractors`: their Lhotse
  :class:`~lhotse.features.base.FeatureExtractor` wrappers :class:`KaldiNativeFbank`
  (registered as ``"kaldi-native-fbank"``) and :class:`NumpyKaldiFbank`
  (``"numpy-kaldi-fbank"``), registered when first used from here;
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

Names are imported lazily (PEP 562), each from its module on first use: ``diar fbank`` on
plain cuts imports neither Lhotse nor torch (about 3 s of a stage-2 process).
"""

import importlib

_HOMES = {
    "CONTEXT": "audio",
    "RESAMPLE_BLOCK": "audio",
    "_read_pcm16": "audio",
    "load_audio_for_features": "audio",
    "load_audio_with_context": "audio",
    "mono_samples_at_config_rate": "audio",
    "resample_audio": "audio",
    "BACKENDS": "config",
    "DEFAULT_CONFIG_PATH": "config",
    "RESAMPLERS": "config",
    "KnfFbankConfig": "config",
    "Pathlike": "config",
    "load_fbank_config": "config",
    "eend_input": "eend",
    "splice": "eend",
    "subsample": "eend",
    "MEL_GROUPS": "compute",
    "NumpyFbank": "compute",
    "kaldi_mel_banks": "compute",
    "knf_features": "compute",
    "KaldiNativeFbank": "extractors",
    "NumpyKaldiFbank": "extractors",
    "Reject": "stage",
    "compute_cut_features": "stage",
    "compute_fbank": "stage",
}
_SUBMODULES = ("audio", "config", "eend", "compute", "extractors", "stage")

__all__ = [n for n in _HOMES if not n.startswith("_")]


def __getattr__(name):
    if name in _HOMES:
        value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # once
    return value


def __dir__():
    return sorted(list(globals()) + list(_HOMES) + list(_SUBMODULES))
