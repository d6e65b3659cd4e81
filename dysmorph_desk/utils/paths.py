"""Where DysmorphDesk reads and writes outside the user's chosen folders.

Only the platformdirs locations are used. ``DYSMORPH_DESK_HOME`` moves all of them under one
folder (tests and portable installs use it).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "DysmorphDesk"


def _home() -> Path | None:
    value = os.environ.get("DYSMORPH_DESK_HOME")
    return Path(value) if value else None


def config_dir() -> Path:
    home = _home()
    return (
        home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    )


def data_dir() -> Path:
    home = _home()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_models_dir() -> Path:
    """Per-user bundle folder, searched after the bundles shipped with the package."""
    return data_dir() / "models"


def cache_dir() -> Path:
    home = _home()
    return home / "cache" if home else Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def faces_cache_dir() -> Path:
    return cache_dir() / "faces"


def log_dir() -> Path:
    home = _home()
    return home / "logs" if home else Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def trust_store_file() -> Path:
    """The trusted signing keys (``dysmorph-desk keys``): public keys and the status each vouches for."""
    return config_dir() / "trusted-keys.json"
