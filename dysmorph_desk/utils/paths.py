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


def _check_sha256(photo_sha256: str) -> str:
    if len(photo_sha256) != 64 or any(c not in "0123456789abcdef" for c in photo_sha256):
        raise ValueError("not a lowercase hex SHA-256")
    return photo_sha256


def face_cache_prefix(photo_sha256: str) -> Path:
    """The path every cached face of a photo starts with (``faces/ab/abcd…``).

    The face cache (``training.facecache``) names its entries ``<prefix>_<template>_<size>…``;
    the key lives here so that the case store can erase a deleted patient's cached faces without
    importing the training package.
    """
    sha = _check_sha256(photo_sha256)
    return faces_cache_dir() / sha[:2] / sha


def face_cache_files(photo_sha256: str) -> list[Path]:
    """Every cached face (aligned PNG, or the remembered refusal) of the photo with this hash."""
    prefix = face_cache_prefix(photo_sha256)
    try:
        entries = list(prefix.parent.iterdir())
    except OSError:  # no cache folder for this hash (or none at all)
        return []
    return [p for p in entries if p.name.startswith(prefix.name + "_")]


def store_dir() -> Path:
    """The local case store (``records.store.CaseStore``): ``cases.sqlite`` and ``photos/``."""
    return data_dir() / "store"


def log_dir() -> Path:
    home = _home()
    return home / "logs" if home else Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def trust_store_file() -> Path:
    """The trusted signing keys (``dysmorph-desk keys``): public keys and the status each vouches for."""
    return config_dir() / "trusted-keys.json"
