"""Disorder ids, disorder names and patient ids as a gallery accepts them.

A disorder id is one of

* ``OMIM:`` and the six digits of an OMIM phenotype entry (``OMIM:163950``, Noonan syndrome 1);
* ``ORPHA:`` and the digits of an Orphanet disorder (``ORPHA:648``, Noonan syndrome);
* ``LOCAL:`` and a clinic's own name for a disorder no ontology lists yet (``LOCAL:family-17``):
  a letter or digit, then letters, digits, ``.``, ``_`` or ``-``, at most 64 characters in all.

Strict on purpose: the id is what the phenotype side looks annotations up by, and a near-miss
(``omim:163950``, ``OMIM 163950``, ``ORPHANET:648``) would silently fall out of the ontology and
rank by the face alone. Local ids do rank by the face alone, and are marked so.
"""

from __future__ import annotations

import re

from dysmorph_desk.errors import UsageError
from dysmorph_desk.utils.inputs import PATIENT_ID_MAX, clean_text

DISORDER_ID_RE = re.compile(
    r"OMIM:[0-9]{6}|ORPHA:[1-9][0-9]{0,6}|LOCAL:[A-Za-z0-9][A-Za-z0-9._-]{0,57}"
)
DISORDER_NAME_MAX = 200
ID_HINT = "a disorder id is OMIM:<6 digits>, ORPHA:<digits> or LOCAL:<letters, digits, . _ ->"


def check_disorder_id(value: str, error: type[Exception] = UsageError, where: str = "") -> str:
    """``value`` if it is a valid disorder id, else ``error`` with a one-line reason.

    Args:
        value: the id as given (surrounding whitespace is ignored).
        error: the exception class to raise (``UsageError`` on the command line, ``DataError``
            for a label in a data folder).
        where: a prefix for the message ("labels.csv, line 4: ").

    Example:
        >>> check_disorder_id("OMIM:163950")
        'OMIM:163950'
        >>> check_disorder_id("LOCAL:family-17")
        'LOCAL:family-17'
    """
    text = str(value).strip()
    if DISORDER_ID_RE.fullmatch(text) is None:
        shown = text[:40].encode("ascii", "backslashreplace").decode("ascii")
        raise error(f"{where}{shown!r} is not a disorder id: {ID_HINT}")
    return text


def is_local(disorder_id: str) -> bool:
    """A clinic's own id: no ontology annotates it, so it ranks by the face alone."""
    return disorder_id.startswith("LOCAL:")


def clean_disorder_name(value: str, disorder_id: str) -> str:
    """The disorder's display name (one line, at most 200 characters); the id when empty."""
    name = clean_text(value, DISORDER_NAME_MAX, "disorder name")
    return name or disorder_id


def clean_patient_id(value: str) -> str:
    """A pseudonymous patient id (one line, at most 64 characters, not empty).

    The gallery keeps it to group a patient's photos (one patient counts once per disorder) and to
    find the entries of a patient again (``gallery list``); rankings never show it.
    """
    pid = clean_text(value, PATIENT_ID_MAX, "patient ID")
    if not pid:
        raise UsageError("a gallery entry needs a (pseudonymous) patient ID")
    return pid
