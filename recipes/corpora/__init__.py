"""One module per corpus: ``download_<corpus>`` and ``prepare_<corpus>``."""
