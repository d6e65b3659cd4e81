"""A case's differential as a GA4GH Phenopacket (schema v2.0, JSON), for rare-disease tools to read.

The phenopacket is built as plain ``dict``/``list`` values, like ``records.fhir`` builds FHIR: no
phenopacket library at run time (the tests parse it with the official protobuf bindings,
``phenopackets.schema.v2.Phenopacket``). What it holds, and why:

* **subject** (``Individual``): the case's pseudonymous patient ID, or a generated one when the
  case has none; the sex (``FEMALE``/``MALE``/``UNKNOWN_SEX``); the age as
  ``timeAtLastEncounter.age.iso8601duration`` (``P2Y6M``; a fraction of a month as whole days).
  Never a photo's name, never a gallery patient's ID: a differential names gallery entries by
  number only, and only the candidate disorders travel here.
* **phenotypicFeatures**: the entered HPO terms as resolved (id and label); a term entered by an
  obsolete or alternative id says so in its ``description``.
* **interpretations**: one per candidate disorder, in rank order, each ``progressStatus``
  ``IN_PROGRESS`` with the candidate as ``diagnosis.disease`` and a ``summary`` giving its rank,
  each source's score and the screening-aid disclaimer. Why this shape: the schema's
  ``diseases`` are "disease(s) diagnosed in the proband" (and ``excluded: true`` means ruled
  out), so candidates do not belong there; ``IN_PROGRESS`` is the schema's status for "no
  diagnosis has been found to date but additional differential diagnostic work is in
  progress", which is exactly a differential to work through; and an ``Interpretation`` holds
  one ``diagnosis``, so a ranked list is a list of interpretations, each a hypothesis under
  consideration (never ``SOLVED`` or ``COMPLETED``). The rank is the list order, the number in
  each interpretation's id and the first words of its summary. A differential without
  candidates gives one ``IN_PROGRESS`` interpretation with no diagnosis. Every summary also
  carries what the whole list rests on (the gallery's SHA-256 and size, "no close match" when
  the nearest entry is beyond the calibrated threshold, the differential's notes), so a reader
  of one interpretation alone misses none of it.
* **metaData**: ``created``, ``createdBy`` ``DysmorphDesk <version>``, ``phenopacketSchemaVersion``
  ``2.0``, and one ``resources`` entry per CURIE prefix used: ``hp`` (version: the HPO release
  the terms were resolved and scored with), ``omim`` and ``ordo`` (version: the HPO annotation
  release that named the diseases, or "not recorded" when the ids came from the gallery alone).
  A differential with neither terms nor candidates (the model could not assess the photo) uses
  no ontology and lists no resource, although the schema asks for at least one.

**LOCAL: ids.** A clinic's own disorder ids (``LOCAL:family-17``) are no public resource's
CURIEs. They are kept, not dropped: leaving them out would renumber the clinic's differential
(a gallery-local disorder ranked 2nd would vanish and the 3rd would read as the 2nd). They get a
``Resource`` of their own, prefix ``LOCAL``, named as the clinic's local ids, whose ``url`` and
``version`` are the gallery's SHA-256 (``urn:dysmorph-desk:gallery:<sha256>``): a LOCAL: id means
something only together with the gallery that defines it, and a reader outside the clinic can
see that it cannot resolve it. Each such candidate's summary says so as well.

The builder is pure: the same case, differential, ``created`` and ``packet_id`` give the same
phenopacket (the default ids are UUID 5 of the inputs). Core module: no Qt, no torch.
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dysmorph_desk import __version__
from dysmorph_desk.differential.fusion import DifferentialRow
from dysmorph_desk.differential.result import DIFFERENTIAL_DISCLAIMER, DifferentialResult
from dysmorph_desk.phenotype.similarity import METHOD as PHENOTYPE_METHOD
from dysmorph_desk.screening.results import CaseInfo
from dysmorph_desk.utils.atomic import write_bytes_atomic

__all__ = [
    "SCHEMA_VERSION",
    "phenopacket",
    "phenopacket_bytes",
    "write_phenopacket",
]

SCHEMA_VERSION = "2.0"
_SEX = {"female": "FEMALE", "male": "MALE", "unknown": "UNKNOWN_SEX"}
_DAYS_PER_MONTH = 365.25 / 12
# The namespace of the default ids' UUID 5 (fixed: the ids depend on the inputs only).
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:dysmorph-desk:phenopacket")

_HPO = {
    "id": "hp",
    "name": "human phenotype ontology",
    "url": "http://purl.obolibrary.org/obo/hp.owl",
    "namespacePrefix": "HP",
    "iriPrefix": "http://purl.obolibrary.org/obo/HP_",
}
_OMIM = {
    "id": "omim",
    "name": "Online Mendelian Inheritance in Man",
    "url": "https://omim.org",
    "namespacePrefix": "OMIM",
    "iriPrefix": "https://omim.org/entry/",
}
_ORPHA = {
    "id": "ordo",
    "name": "Orphanet Rare Disease Ontology",
    "url": "http://www.orpha.net/ORDO",
    "namespacePrefix": "ORPHA",
    "iriPrefix": "http://www.orpha.net/ORDO/Orphanet_",
}
_PUBLIC = {"OMIM": _OMIM, "ORPHA": _ORPHA}


def phenopacket(
    case: CaseInfo,
    differential: DifferentialResult,
    *,
    created: str | None = None,
    packet_id: str | None = None,
) -> dict[str, Any]:
    """The case, its HPO terms and its ranked candidate disorders as a GA4GH Phenopacket v2.0.

    See the module docstring for what goes where and why (candidates are ``IN_PROGRESS``
    interpretations, never ``diseases``; LOCAL: ids keep their rank under a resource of their
    own).

    Args:
        case: the case screened (``CaseInfo``): its pseudonymous patient ID, sex and age. The
            operator and notes are not exported.
        differential: the case's differential (``build_differential``): its candidates in rank
            order, the resolved HPO terms and the HPO release, the gallery's identity.
        created: when the export was made; ISO 8601 (a naive time is read as UTC), default now.
        packet_id: the phenopacket's id; default a UUID 5 of the inputs.

    Returns:
        The phenopacket as JSON-ready values (no NaN, no infinity), protobuf JSON field names.

    Raises:
        ValueError: ``created`` is not ISO 8601, or a candidate's id is not ``OMIM:``, ``ORPHA:``
            or ``LOCAL:``.

    Example:
        >>> packet = phenopacket(case, build_differential([result], hpo_terms=["HP:0000316"]))  # doctest: +SKIP
        >>> packet["interpretations"][0]["progressStatus"]  # doctest: +SKIP
        'IN_PROGRESS'
    """
    when = _timestamp(created)
    seed = _seed(case, differential, when)
    pid = packet_id or f"dysmorph-desk-{uuid.uuid5(_NAMESPACE, seed)}"
    subject: dict[str, Any] = {
        "id": case.patient_id or f"subject-{uuid.uuid5(_NAMESPACE, 'subject|' + seed)}",
        "sex": _SEX.get(case.sex, "UNKNOWN_SEX"),
    }
    if case.age_months is not None:
        subject["timeAtLastEncounter"] = {"age": {"iso8601duration": iso_age(case.age_months)}}
    packet: dict[str, Any] = {"id": pid, "subject": subject}
    features = [_feature(t.id, t.label, t.entered_as) for t in differential.hpo_terms]
    if features:
        packet["phenotypicFeatures"] = features
    packet["interpretations"] = _interpretations(pid, differential)
    packet["metaData"] = {
        "created": when,
        "createdBy": f"DysmorphDesk {__version__}",
        "phenopacketSchemaVersion": SCHEMA_VERSION,
        "resources": _resources(differential),
    }
    return packet


def phenopacket_bytes(case: CaseInfo, differential: DifferentialResult, **options: Any) -> bytes:
    """:func:`phenopacket` as UTF-8 JSON (indent 2, a final newline); NaN or infinity anywhere is
    an error, never written. ``options`` are :func:`phenopacket`'s keywords."""
    packet = phenopacket(case, differential, **options)
    text = json.dumps(packet, ensure_ascii=False, indent=2, allow_nan=False)
    return (text + "\n").encode("utf-8")


def write_phenopacket(
    path: str | Path,
    case: CaseInfo,
    differential: DifferentialResult,
    *,
    force: bool = False,
    **options: Any,
) -> Path:
    """Build the phenopacket (:func:`phenopacket_bytes`) and write it atomically.

    Raises:
        UsageError: ``path`` exists and ``force`` is not given, or is a folder.
        OutputError: the file could not be written.
    """
    data = phenopacket_bytes(case, differential, **options)
    return write_bytes_atomic(path, data, force=force, sync_dir=True)


def iso_age(months: float) -> str:
    """An age in months as an ISO 8601 duration: ``30`` -> ``P2Y6M``, ``0.5`` -> ``P15D``.

    A fraction of a month becomes whole days (a mean month, 30.44 days), so nothing the case
    holds is rounded away beyond a day.

    Example:
        >>> iso_age(30), iso_age(12), iso_age(0), iso_age(7.5)
        ('P2Y6M', 'P1Y', 'P0D', 'P7M15D')
    """
    if not math.isfinite(months) or months < 0:
        raise ValueError("an age in months must be a finite number, 0 or more")
    whole = int(months)
    days = round((months - whole) * _DAYS_PER_MONTH)
    if days >= round(_DAYS_PER_MONTH):  # 0.99 of a month is the next month, not "30 days"
        whole, days = whole + 1, 0
    years, rest = divmod(whole, 12)
    parts = [f"{v}{unit}" for v, unit in ((years, "Y"), (rest, "M"), (days, "D")) if v]
    return "P" + ("".join(parts) or "0D")


def _timestamp(created: str | None) -> str:
    """``created`` (ISO 8601; naive = UTC; default now) as a protobuf JSON Timestamp in UTC."""
    dt = datetime.now(UTC) if created is None else datetime.fromisoformat(created)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seed(case: CaseInfo, diff: DifferentialResult, when: str) -> str:
    """What the default ids derive from: the same inputs, the same ids."""
    parts = [when, case.patient_id, case.sex, repr(case.age_months)]
    parts += [t.id for t in diff.hpo_terms]
    parts += [f"{r.rank}={r.disorder_id}" for r in diff.rows]
    parts.append(diff.gallery.sha256 if diff.gallery is not None else "")
    return "|".join(parts)


def _feature(term_id: str, label: str, entered_as: str | None) -> dict[str, Any]:
    """One ``PhenotypicFeature``: the term as resolved; an obsolete id it replaced is described."""
    feature: dict[str, Any] = {"type": {"id": term_id, "label": label}}
    if entered_as:
        feature["description"] = (
            f"entered as {entered_as}, an obsolete or alternative id that the HPO release maps "
            f"to {term_id}"
        )
    return feature


def _prefix(disorder_id: str) -> str:
    """The CURIE prefix of a candidate's id; a ValueError for one no resource here describes."""
    prefix, sep, local = disorder_id.partition(":")
    if not sep or not local or prefix not in (*_PUBLIC, "LOCAL"):
        shown = disorder_id[:40].encode("ascii", "backslashreplace").decode("ascii")
        raise ValueError(f"{shown!r} is not an OMIM:, ORPHA: or LOCAL: disorder id")
    return prefix


def _number(value: float | None) -> str | None:
    """A score as the differential's JSON carries it (6 decimals); None when missing or not
    finite."""
    if value is None or not math.isfinite(float(value)):
        return None
    return f"{round(float(value), 6):g}"


def _row_text(row: DifferentialRow, n_rows: int, diff: DifferentialResult) -> str:
    """What one candidate rests on, in words: its rank, each source's score, the combined one."""
    parts = [f"Candidate {row.rank} of {n_rows} in a ranked differential; not a diagnosis."]
    distance = _number(row.gestalt_distance)
    if distance is not None:
        nearest = ", ".join(f"entry {int(e)} at {_number(d)}" for e, d in row.nearest_entries)
        parts.append(
            f"Face: cosine distance {distance} to this disorder's clinic-gallery patients"
            + (f" (nearest gallery {nearest})." if nearest else ".")
        )
    else:
        parts.append("Face: no gallery patient of this disorder was compared.")
    score = _number(row.phenotype_score)
    if score is not None:
        parts.append(
            f"Phenotype: score {score} for the {len(diff.hpo_terms)} entered HPO terms "
            f"({PHENOTYPE_METHOD}; HPO release {diff.hpo_release or 'not recorded'})."
        )
    elif row.disorder_id.startswith("LOCAL:"):
        parts.append(
            "Phenotype: none; a LOCAL: id is the clinic's own, meaningful only with the gallery "
            "that defines it, and no ontology annotates it: it ranks by the face alone."
        )
    elif not diff.hpo_terms:
        parts.append("Phenotype: no score (no HPO terms were entered).")
    else:
        parts.append(
            f"Phenotype: no score (HPO release {diff.hpo_release or 'not recorded'} has no "
            "annotation of this disorder)."
        )
    combined = _number(row.combined_score)
    if combined is not None:
        parts.append(f"Combined score {combined} orders the candidates; it is not a probability.")
    return " ".join(parts)


def _context_text(diff: DifferentialResult) -> str:
    """What every candidate shares: the disclaimer, the gallery, a missing close match, notes."""
    parts = [DIFFERENTIAL_DISCLAIMER]
    g = diff.gallery
    if g is not None:
        parts.append(
            f"Gallery SHA-256 {g.sha256} ({g.entries} entries, {g.disorders} disorders, "
            f"status {g.status}; embeddings of {g.bundle}; per disorder: {g.aggregate})."
        )
    if diff.no_close_match and g is not None and g.threshold is not None:
        nearest, threshold = _number(diff.nearest_distance), _number(g.threshold)
        parts.append(
            f"No close match: the nearest gallery entry is at distance {nearest}, beyond the "
            f"threshold {threshold} calibrated on unrelated children; the face ranks are weak."
        )
    for note in diff.notes:
        note = note.strip()
        if note:
            parts.append(note[:1].upper() + note[1:] + ("" if note.endswith(".") else "."))
    return " ".join(parts)


def _interpretations(pid: str, diff: DifferentialResult) -> list[dict[str, Any]]:
    """One ``IN_PROGRESS`` interpretation per candidate, in rank order (one without a diagnosis
    when there is no candidate)."""
    context = _context_text(diff)
    if not diff.rows:
        return [
            {
                "id": f"{pid}/differential",
                "progressStatus": "IN_PROGRESS",
                "summary": f"No candidate disorder was ranked. {context}",
            }
        ]
    rows = sorted(diff.rows, key=lambda r: r.rank)
    out = []
    for row in rows:
        _prefix(row.disorder_id)
        out.append(
            {
                "id": f"{pid}/candidate-{row.rank}",
                "progressStatus": "IN_PROGRESS",
                "diagnosis": {"disease": {"id": row.disorder_id, "label": row.name}},
                "summary": f"{_row_text(row, len(rows), diff)} {context}",
            }
        )
    return out


def _resources(diff: DifferentialResult) -> list[dict[str, str]]:
    """One ``Resource`` per CURIE prefix the phenopacket uses, HPO first."""
    resources: list[dict[str, str]] = []
    if diff.hpo_terms:
        resources.append({**_HPO, "version": diff.hpo_release or "not recorded"})
    used = {_prefix(r.disorder_id) for r in diff.rows}
    named_by = (
        f"HPO annotations (phenotype.hpoa) of release {diff.hpo_release}"
        if diff.hpo_release
        else "not recorded (ids as the clinic gallery gives them)"
    )
    for prefix, resource in _PUBLIC.items():
        if prefix in used:
            resources.append({**resource, "version": named_by})
    if "LOCAL" in used:
        sha = diff.gallery.sha256 if diff.gallery is not None else "unknown"
        resources.append(
            {
                "id": "local",
                "name": "the clinic's local disorder ids (DysmorphDesk gallery); not a public "
                "resource: meaningful only with the gallery that defines them",
                "url": f"urn:dysmorph-desk:gallery:{sha}",
                "version": sha,
                "namespacePrefix": "LOCAL",
                "iriPrefix": f"urn:dysmorph-desk:gallery:{sha}:",
            }
        )
    return resources
