"""Errors that carry a one-line, user-facing reason and the CLI exit status they map to.

Anything raised to a user is one of these; any other exception is a bug (logged with a traceback,
shown as a one-liner unless ``--debug``, exit 5).

The exit-status table (README "Exit status"; every new failure maps into it):

====  =====================================================================================
0     done
2     usage: bad arguments, an output that exists without ``--force``, an output that cannot
      be written (missing permission, read-only or full disk), no display for the app
3     a photo (or training data) refused: unreadable, not a regular file, too large or small,
      no usable face; in a batch, at least one photo was refused
4     a model bundle refused: missing, damaged, tampered, unsigned where a signature is
      required, invalid model card, or the model failed (invalid numbers, out of memory)
5     internal error: a bug; the traceback is in the log file (and on stderr with ``--debug``)
130   interrupted (Ctrl+C or SIGTERM); nothing half-written is left behind
====  =====================================================================================
"""

from __future__ import annotations


class DysmorphError(Exception):
    """Base class: ``str(err)`` is the one-line reason shown to the user."""

    exit_code = 5


class UsageError(DysmorphError):
    """Bad arguments, or an output that already exists without ``--force``."""

    exit_code = 2


class OutputError(UsageError):
    """An output cannot be written: no permission, a read-only or a full disk (exit 2)."""


class StoreError(UsageError):
    """The local case store cannot be used: busy (locked), read-only, full, damaged, or written by
    a newer DysmorphDesk (exit 2). Nothing in the store was changed by the operation that failed.
    """


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


class InternalError(DysmorphError):
    """A bug: reported as one line with exit 5; the traceback goes to the log file."""

    exit_code = 5


class Interrupted(DysmorphError):
    """Ctrl+C, SIGTERM or a cancel button: exit 130, nothing half-written left behind."""

    exit_code = 130
