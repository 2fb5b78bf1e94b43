"""Lhotse recipes that prepare speaker-diarization training data.

Importing :mod:`recipes.features` (a package) registers the ``kaldi-native-fbank`` feature
extractor with Lhotse.
"""

__version__ = "0.1.0"
