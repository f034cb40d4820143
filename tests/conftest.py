"""Shared test set-up: no test writes into the user's data folder."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_data_dir(tmp_path_factory):
    """SQUAT_DATA_DIR points at a temporary folder for the whole run (the CLI keeps network passes
    there); tests that need another one set their own."""
    old = os.environ.get("SQUAT_DATA_DIR")
    os.environ["SQUAT_DATA_DIR"] = str(tmp_path_factory.mktemp("squat-data-dir"))
    yield
    if old is None:
        os.environ.pop("SQUAT_DATA_DIR", None)
    else:
        os.environ["SQUAT_DATA_DIR"] = old
