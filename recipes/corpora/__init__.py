"""One module per corpus: ``download_<corpus>`` and ``prepare_<corpus>``.

Each module also defines the click commands ``download_command`` and
``prepare_command`` (named after the corpus), which ``diar download <corpus>``
and ``diar prepare <corpus>`` load lazily. Shared pieces: :mod:`.common`
(manifest building), :mod:`.config` (``conf/corpora/<corpus>.yaml``),
:mod:`recipes.download` (verified, resumable downloads).
"""

# Corpora with a recipe module (``recipes/corpora/<name>.py``); "demo" and the
# generic "rttm" recipe are built into cli.py.
CORPORA = ("ami", "icsi", "aishell4", "voxconverse", "ava_avd", "msdwild",
           "dihard3", "chime6", "libricss", "tedlium", "voxceleb")
