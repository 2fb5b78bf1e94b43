"""One module per corpus, holding only its corpus (no click code).

A corpus module has: a docstring with the on-disk layout and the rules applied, its readers,
``download_<corpus>`` and ``prepare_<corpus>`` (returning manifests and a
:class:`~recipes.corpora.common.PrepareReport`), ``output_name(**options)`` (the prefix of its
files), and the declarations of its own options (``DOWNLOAD_OPTIONS`` / ``PREPARE_OPTIONS`` of
:class:`~recipes.corpora.common.Option`, ``DOWNLOAD_HELP`` / ``PREPARE_HELP``,
``CORPUS_DIR_HELP``), which :mod:`recipes.cli_corpora` turns into ``diar download <corpus>``
and ``diar prepare <corpus>`` on first use. Shared pieces: :mod:`.common` (manifest building,
the recording reader, the report), :mod:`.config` (``conf/corpora/<corpus>.yaml``: external
facts only), :mod:`recipes.download` (verified, resumable downloads, link an existing copy).
A corpus whose readers outgrow one module keeps them next to it, named after it
(``chime6_transcripts.py``: the CHiME-6 JSON and RTTM readers).
"""

# Corpora with a recipe module (``recipes/corpora/<name>.py``); "demo" and the
# generic "rttm" recipe are built into cli.py.
CORPORA = (
    "ami",
    "icsi",
    "aishell4",
    "voxconverse",
    "ava_avd",
    "msdwild",
    "dihard3",
    "chime6",
    "libricss",
    "tedlium",
    "voxceleb",
)
