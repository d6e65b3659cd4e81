"""The one error class of the gallery (``dysmorph_desk.errors`` holds the exit-status table)."""

from __future__ import annotations

from dysmorph_desk.errors import BundleError


class GalleryError(BundleError):
    """A gallery that cannot be used: missing, damaged, tampered with, empty, written by a newer
    DysmorphDesk, or built with another model than the one screening. Exit 4, like a refused
    bundle: the gallery is part of the model a result comes from."""
