"""Shared fixtures. Every test runs with its own DYSMORPH_DESK_HOME, so nothing touches real user folders."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("ddhome")
    monkeypatch.setenv("DYSMORPH_DESK_HOME", str(home))
    return home
