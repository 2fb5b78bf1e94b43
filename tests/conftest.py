"""Shared pytest fixtures.

``realdata`` tests read the real annotation files in ``../shared/realdata``
(or ``$DIAR_REALDATA``); they are skipped when that folder is absent, so the
default suite passes on a fresh clone.
"""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("DIAR_REALDATA", REPO.parent / "shared" / "realdata"))


@pytest.fixture(scope="session")
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real annotations not found at {REALDATA}")
    return REALDATA
