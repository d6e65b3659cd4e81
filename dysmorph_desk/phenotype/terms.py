"""HPO term ids as a clinician types them: checked, obsolete ids mapped, unknown ones refused.

An id the ontology replaced (``replaced_by``) or merged into another term (``alt_id``) is mapped
to the current term with a note saying so; an obsolete id without a replacement and an id the
release does not know are refused together, in one line naming each (exit 2), rather than being
dropped silently: a dropped term would change the phenotype score without anyone noticing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from dysmorph_desk.errors import UsageError
from dysmorph_desk.phenotype.ontology import (
    ALIAS_ALT,
    ALIAS_NO_REPLACEMENT,
    SOURCES,
    Disease,
    HpoOntology,
    Term,
    load_ontology,
    normalise_disease_id,
)
from dysmorph_desk.utils.inputs import terminal_safe

MAX_TERMS = 100  # a clinician enters a handful; bounds the work and the message length (the
# case store and the app's term list take as many)
_LISTED = 8  # ids named in one error line before "and N more"
_TERM_ID = re.compile(r"HP[:_](\d{7})", re.IGNORECASE)
_DISEASE_ID = re.compile(r"(OMIM|ORPHA):[1-9]\d{0,8}")


class UnknownTermError(UsageError):
    """HPO ids that the shipped release does not know, or obsolete ones without replacement."""


class UnknownDiseaseError(UsageError):
    """A disease id (OMIM:/ORPHA:) that no annotation of the shipped HPO release names."""


def parse_term_list(text: str) -> list[str]:
    """``"HP:0000316,HP:0000494"`` (commas and/or spaces) -> the ids as typed, empties dropped.

    Raises:
        UsageError: more than ``MAX_TERMS`` ids.
    """
    ids = [part for part in re.split(r"[,;\s]+", str(text)) if part]
    if len(ids) > MAX_TERMS:
        raise UsageError(f"too many HPO terms ({len(ids)}); at most {MAX_TERMS}")
    return ids


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown + (f" and {len(items) - _LISTED} more" if len(items) > _LISTED else "")


def _label(onto: HpoOntology, row: int) -> str:
    return f"{onto.term_id(row)} ({onto.names[row]})"


def resolve_terms(
    term_ids: Iterable[str], *, ontology: HpoOntology | None = None
) -> tuple[list[str], list[str]]:
    """Check HPO ids and map obsolete ones: the ids to score, and a note per mapped id.

    Accepts ``HP:0000316``, ``hp:0000316`` and ``HP_0000316`` (the OBO PURL form). Duplicates
    (also after mapping) are kept once, in the order first given.

    Args:
        term_ids: The ids as typed.
        ontology: Defaults to :func:`load_ontology`.

    Returns:
        (resolved ids, messages): current ``HP:nnnnnnn`` ids; one line per id that was mapped
        ("HP:0000578 is an alternative id of HP:0000316 (Hypertelorism); using HP:0000316").

    Raises:
        UnknownTermError: one line naming every id that is not an HPO id, is unknown to this
            release, or is obsolete without a replacement (with the terms the ontology suggests
            considering instead).

    Example:
        >>> resolve_terms(["HP:0000316", "HP:0000578"])[0]
        ['HP:0000316']
    """
    r = resolve_entered(term_ids, ontology=ontology)
    return r.ids, r.messages


class ResolvedTerms(NamedTuple):
    """Entered HPO ids as resolved: the current ids, a note per mapped id, and for each current id
    the id as typed where that differs (an alternative or obsolete id; not a mere respelling
    such as ``hp:`` or the ``HP_`` form)."""

    ids: list[str]
    messages: list[str]
    entered_as: dict[str, str]


def resolve_entered(
    term_ids: Iterable[str], *, ontology: HpoOntology | None = None
) -> ResolvedTerms:
    """:func:`resolve_terms`, also saying which typed id each current id came from (one pass).

    Example:
        >>> resolve_entered(["HP:0000578"]).entered_as
        {'HP:0000316': 'HP:0000578'}
    """
    onto = ontology or load_ontology()
    raw = [str(t) for t in term_ids]
    if len(raw) > MAX_TERMS:
        raise UsageError(f"too many HPO terms ({len(raw)}); at most {MAX_TERMS}")
    resolved: list[str] = []
    messages: list[str] = []
    malformed: list[str] = []
    unknown: list[str] = []
    retired: list[str] = []

    entered: dict[str, str] = {}

    def keep(row: int, typed: str) -> None:
        tid = onto.term_id(row)
        if tid not in resolved:
            resolved.append(tid)
            if typed.strip().upper().replace("_", ":") != tid:
                entered[tid] = typed.strip()

    for typed in raw:
        shown = terminal_safe(typed.strip(), 40)
        m = _TERM_ID.fullmatch(typed.strip())
        if not m:
            malformed.append(f"'{shown}'")
            continue
        number = int(m.group(1))
        tid = f"HP:{m.group(1)}"
        row = onto.term_row(number)
        if row is not None:
            keep(row, typed)
            continue
        alias = onto.alias(number)
        if alias is None:
            unknown.append(tid)
            continue
        kind, rows = alias
        if kind == ALIAS_NO_REPLACEMENT:
            hint = f" (consider {', '.join(_label(onto, r) for r in rows[:3])})" if rows else ""
            retired.append(f"{tid}{hint}")
            continue
        labels = " and ".join(_label(onto, r) for r in rows)
        if kind == ALIAS_ALT:
            messages.append(
                f"{tid} is an alternative id of {labels}; using {onto.term_id(rows[0])}"
            )
        else:
            messages.append(f"{tid} is obsolete; replaced by {labels}")
        for r in rows:
            keep(r, typed)
    if malformed or unknown or retired:
        parts = []
        if malformed:
            parts.append(f"not HPO term ids (HP: and 7 digits): {_listing(malformed)}")
        if unknown:
            parts.append(f"unknown HPO term ids: {_listing(unknown)}")
        if retired:
            parts.append(f"obsolete HPO terms without a replacement: {_listing(retired)}")
        raise UnknownTermError(f"{'; '.join(parts)} (HPO release {onto.version})")
    return ResolvedTerms(resolved, messages, entered)


def term_info(term_id: str, *, ontology: HpoOntology | None = None) -> tuple[Term, list[str]]:
    """The current term for an id (obsolete ids mapped), and the mapping notes.

    Raises:
        UnknownTermError: as :func:`resolve_terms`.
    """
    onto = ontology or load_ontology()
    resolved, messages = resolve_terms([term_id], ontology=onto)
    row = onto.term_row(int(resolved[0][3:]))
    assert row is not None
    return onto.term(row), messages


def term_rows(term_ids: Iterable[str], onto: HpoOntology) -> list[int]:
    """Rows of current ``HP:nnnnnnn`` ids (as :func:`resolve_terms` returns them)."""
    rows = []
    for tid in term_ids:
        m = _TERM_ID.fullmatch(str(tid).strip())
        row = onto.term_row(int(m.group(1))) if m else None
        if row is None:
            raise UnknownTermError(f"unknown HPO term id: {terminal_safe(str(tid), 40)}")
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------ diseases


def is_disease_id(disease_id: str) -> bool:
    """Whether the text is written as an OMIM or ORPHA id (``OMIM:154700``, ``ORPHA:558``).

    Says nothing about whether the release annotates it: see :func:`has_disease`.
    """
    return _DISEASE_ID.fullmatch(normalise_disease_id(disease_id)) is not None


def has_disease(disease_id: str, *, ontology: HpoOntology | None = None) -> bool:
    """Whether the shipped HPO annotations score this disease (so a phenotype score exists)."""
    onto = ontology or load_ontology()
    return onto.disease_row(disease_id) is not None


def disease_name(disease_id: str, *, ontology: HpoOntology | None = None) -> str | None:
    """The disease's name as phenotype.hpoa gives it, or None when not annotated."""
    onto = ontology or load_ontology()
    row = onto.disease_row(disease_id)
    return None if row is None else str(onto.disease_names[row])


def disease_info(disease_id: str, *, ontology: HpoOntology | None = None) -> Disease:
    """The annotated disease, or a one-line refusal.

    Raises:
        UnknownDiseaseError: not an OMIM/ORPHA id, or one no annotation of this release names.
    """
    onto = ontology or load_ontology()
    disease = onto.disease(disease_id)
    if disease is not None:
        return disease
    shown = terminal_safe(str(disease_id).strip(), 40)
    if not is_disease_id(disease_id):
        raise UnknownDiseaseError(
            f"{shown!r} is not an {' or '.join(SOURCES)} id (e.g. OMIM:154700, ORPHA:558)"
        )
    raise UnknownDiseaseError(f"{shown} has no phenotype annotation in HPO release {onto.version}")
