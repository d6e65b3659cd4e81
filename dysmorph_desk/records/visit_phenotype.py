"""What a visit keeps of its phenotype: the clinician's HPO terms, and differentials ranked for it.

Two patient-safety rules shape this:

* **Nothing entered is silently lost or reused.** The terms a clinician entered for a visit are
  filed with it (``visits.hpo_terms``), by id and with the label they were resolved to when
  entered, so that re-opening the visit shows exactly what was entered then — never terms of
  another child.
* **A differential only ever carries the case it was made for.** A differential is filed with the
  SHA-256 of every photo it was ranked from, and the store refuses it unless those are exactly the
  visit's photos (:func:`check_photos`): a ranking of one photo of a three-photo visit, or of
  another child's photo, is never filed as the visit's.

A filed differential is the screening document's pair (``differential``: the ranked rows,
``differential_context``: gallery, terms, HPO release, fusion weights, disclaimer) plus
``photos`` (the hashes, in the order ranked). It is never updated: ranking again and saving adds a
row, as screening again adds a result.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dysmorph_desk.utils.inputs import LABEL_MAX, clean_text

HPO_ID = re.compile(r"HP:\d{7}")
TERMS_MAX = 100  # as many as the app's term list takes (gui.hpo_entry.MAX_TERMS)
_SHA = re.compile(r"[0-9a-f]{64}")

Term = Mapping[str, str] | tuple[str, str]


def clean_terms(terms: Iterable[Term]) -> list[dict[str, str]]:
    """The terms as the store keeps them: ``[{"id": "HP:0000316", "label": "Hypertelorism"}]``.

    Order is kept (the order the clinician entered them); a term given twice is kept once.

    Args:
        terms: (id, label) pairs or mappings with ``id`` and ``label``.

    Raises:
        ValueError: an id that is not ``HP:`` and 7 digits, or more than ``TERMS_MAX`` terms.

    Example:
        >>> clean_terms([("HP:0000316", "Hypertelorism")])
        [{'id': 'HP:0000316', 'label': 'Hypertelorism'}]
    """
    out: dict[str, str] = {}
    for term in terms:
        term_id, label = (term["id"], term.get("label", "")) if isinstance(term, Mapping) else term
        term_id = str(term_id).strip()
        if not HPO_ID.fullmatch(term_id):
            raise ValueError(f"not an HPO term id: {term_id[:40]!r}")
        out.setdefault(term_id, clean_text(str(label or ""), LABEL_MAX, "HPO term label"))
    if len(out) > TERMS_MAX:
        raise ValueError(f"at most {TERMS_MAX} HPO terms per visit")
    return [{"id": k, "label": v} for k, v in out.items()]


def terms_text(terms: Sequence[Mapping[str, str]]) -> str:
    """``HP:0000316 Hypertelorism; HP:0000494 Downslanted palpebral fissures`` (one line)."""
    return "; ".join(f"{t['id']} {t.get('label', '')}".rstrip() for t in terms)


def differential_json(differential: Any, photo_sha256s: Sequence[str]) -> dict[str, Any]:
    """The filed form of a differential ranked from the photos ``photo_sha256s``.

    Args:
        differential: A ``differential.result.DifferentialResult`` (anything with ``rows_json``
            and ``context_json``).
        photo_sha256s: The SHA-256 of each photo it was ranked from, in order.
    """
    shas = [str(s) for s in photo_sha256s]
    if not shas or any(not _SHA.fullmatch(s) for s in shas):
        raise ValueError("a differential is filed with the SHA-256 of every photo it ranked")
    return {
        "photos": shas,
        "differential": differential.rows_json(),
        "differential_context": differential.context_json(),
    }


def check_photos(ranked: Sequence[str], visit_photos: Sequence[str]) -> None:
    """Refuse a differential whose photos are not exactly the visit's.

    Raises:
        ValueError: saying how many of the visit's photos it was ranked from.
    """
    if set(ranked) != set(visit_photos):
        shared = len(set(ranked) & set(visit_photos))
        raise ValueError(
            f"the differential was ranked from {len(set(ranked))} photo(s), {shared} of them "
            f"among this visit's {len(set(visit_photos))}: it is not this visit's"
        )
