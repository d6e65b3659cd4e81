"""Errors that carry a one-line, user-facing reason and the CLI exit status they map to.

Anything raised to a user is one of these; any other exception is a bug (logged with a traceback,
shown as a one-liner unless ``--debug``).
"""

from __future__ import annotations


class DysmorphError(Exception):
    """Base class: ``str(err)`` is the one-line reason shown to the user."""

    exit_code = 1


class UsageError(DysmorphError):
    """Bad arguments, or an output that already exists without ``--force``."""

    exit_code = 2


class InputRefused(DysmorphError):
    """A photo that cannot be screened (unreadable image, no face, face too small...)."""

    exit_code = 3


class ImageRefused(InputRefused):
    """The file is not a usable image (empty, truncated, corrupt, too many pixels...)."""


class FaceRefused(InputRefused):
    """No face, or no face usable for screening, in an otherwise valid image."""


class DataError(DysmorphError):
    """A training/evaluation dataset that cannot be used as given."""

    exit_code = 3


class BundleError(DysmorphError):
    """A model bundle that is missing, tampered with, or does not match its architecture."""

    exit_code = 4


class ModelError(DysmorphError):
    """Training or inference failed in the model itself (diverged to NaN, out of memory...)."""

    exit_code = 4


class Interrupted(DysmorphError):
    exit_code = 130
