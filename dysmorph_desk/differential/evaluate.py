"""``evaluate-gallery``: top-1/5/10/30 of the differential, as the GestaltMatcher papers report it.

The query cases come from a CSV (``make-synthetic --syndromes`` writes ``query.csv``; a clinic's
own: ``path, patient_id, disorder_id`` and optionally ``disorder_name, frequency, query_type,
hpo_terms``). Cases are **patient-grouped**: a query patient's photos form one visit (its embedding
is their mean), so a child photographed three times counts once, and no query patient is in the
gallery unless the CSV says ``query_type=same_patient`` (a rare disorder with one child, whose other
photo is the query; reported on its own, as it is easier).

For each case the rank of its true disorder is found three ways — gestalt only (the gallery),
phenotype only (the HPO terms against every annotated disease) and combined (the fusion) — and
tabulated per frequency class with exact intervals and n. The fusion's weights are fitted on one
half of the query patients (by a seeded hash of the patient id) and every rate is reported on the
other half, so nothing reported was fitted on itself. With unrelated children (``unrelated.csv``),
the no-match threshold is re-calibrated on half of them and its false-match rate reported on the
other half.

On a synthetic world these numbers test the machinery; they are not comparable with
GestaltMatcher's clinical figures.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dysmorph_desk.differential.fusion import (
    FusionWeights,
    GestaltEvidence,
    PhenotypeEvidence,
    features,
    fit_weights,
    fuse,
)
from dysmorph_desk.differential.metrics import TOP_K, topk_table
from dysmorph_desk.differential.result import distance_text
from dysmorph_desk.errors import DataError, InputRefused
from dysmorph_desk.gallery.model import Gallery
from dysmorph_desk.gallery.ranking import BundleLike, rank, visit_embedding
from dysmorph_desk.utils.inputs import is_inside, read_csv_rows
from dysmorph_desk.utils.intervals import Rate

log = logging.getLogger(__name__)
SYNTHETIC_CAVEAT = (
    "On synthetic data these rates test the machinery; they are not comparable with "
    "GestaltMatcher's clinical figures."
)


@dataclass
class QueryCase:
    """One query patient: the photos, the true disorder and the clinician's terms."""

    patient_id: str
    disorder_id: str
    frequency: str = "unknown"
    query_type: str = ""
    terms: list[str] = field(default_factory=list)
    photos: list[Path] = field(default_factory=list)
    embedding: np.ndarray | None = None


def read_cases(csv_path: str | Path, data_root: Path | None = None) -> list[QueryCase]:
    """The query patients of a CSV, photos grouped per patient (paths must stay inside the root).

    Raises:
        DataError: unreadable CSV, missing columns, a path outside the data folder (exit 3).
    """
    csv_path = Path(csv_path)
    root = data_root or csv_path.parent
    rows = read_csv_rows(csv_path)
    if not rows or "path" not in rows[0] or "patient_id" not in rows[0]:
        raise DataError(f"{csv_path.name}: needs the columns path and patient_id")
    cases: dict[str, QueryCase] = {}
    for n, r in enumerate(rows, start=2):
        photo = root / (r.get("path") or "")
        if not is_inside(photo, root):
            raise DataError(f"{csv_path.name}, line {n}: the photo path leaves the data folder")
        pid = (r.get("patient_id") or "").strip()
        if not pid:
            raise DataError(f"{csv_path.name}, line {n}: no patient_id")
        disorder = (r.get("disorder_id") or r.get("label") or "").strip()
        case = cases.setdefault(
            pid,
            QueryCase(
                pid,
                disorder,
                (r.get("frequency") or "unknown").strip(),
                (r.get("query_type") or "").strip(),
                [t for t in (r.get("hpo_terms") or "").split(";") if t.strip()],
            ),
        )
        case.photos.append(photo)
    return list(cases.values())


def embed_cases(
    cases: Sequence[QueryCase],
    embed: Callable[[Path], np.ndarray],
    progress: Callable[[int, int], None] | None = None,
) -> list[QueryCase]:
    """Each case's visit embedding (mean of its photos'); cases with no usable photo are dropped
    (logged), as a clinic could not rank them either."""
    kept = []
    for i, case in enumerate(cases, start=1):
        vectors = []
        for photo in case.photos:
            try:
                vectors.append(embed(photo))
            except InputRefused as exc:
                log.info("query photo refused: %s", exc)
        if vectors:
            case.embedding = visit_embedding(vectors)
            kept.append(case)
        if progress:
            progress(i, len(cases))
    return kept


def in_fit_half(patient_id: str, seed: int) -> bool:
    """A stable, seeded half of the patients (the fusion's fit split)."""
    return hashlib.sha256(f"{seed}:{patient_id}".encode()).digest()[0] < 128


@dataclass(frozen=True)
class CaseRanks:
    """The rank of a case's true disorder by each source (None: not ranked)."""

    case: QueryCase
    gestalt: int | None
    phenotype: int | None
    combined: int | None
    no_close_match: bool | None
    phenotype_in_gallery: int | None = None  # the phenotype's rank among the gallery's disorders


def _rank_of(ids: Sequence[str], truth: str) -> int | None:
    for i, d in enumerate(ids, start=1):
        if d == truth:
            return i
    return None


def _evidence(case: QueryCase, gallery: Gallery, bundle: BundleLike, aggregate: str):
    assert case.embedding is not None
    # a query child is never matched to itself, unless the CSV says the gallery holds this very
    # child's other photo (a rare disorder with one child: "same_patient", reported apart)
    exclude = () if case.query_type == "same_patient" else (case.patient_id,)
    ranking = rank(
        case.embedding,
        gallery,
        bundle,
        aggregate=aggregate,
        photos=len(case.photos),
        exclude_patients=exclude,
    )
    gestalt = [
        GestaltEvidence(d.disorder_id, d.name, d.distance, d.nearest) for d in ranking.disorders
    ]
    phenotype = None
    if case.terms:
        from dysmorph_desk.phenotype import resolve_terms, score_diseases

        resolved, _ = resolve_terms(case.terms)
        s = score_diseases(resolved)
        phenotype = PhenotypeEvidence([str(d) for d in s.disease_ids], list(s.names), s.scores)
    return ranking, gestalt, phenotype


def evaluate_cases(
    cases: Sequence[QueryCase],
    gallery: Gallery,
    bundle: BundleLike,
    *,
    aggregate: str = "nearest",
    seed: int = 0,
) -> tuple[list[CaseRanks], FusionWeights]:
    """Fit the fusion on the fit half, then rank every case of the other half three ways."""
    evidence = {c.patient_id: _evidence(c, gallery, bundle, aggregate) for c in cases}
    fit = [c for c in cases if in_fit_half(c.patient_id, seed)]
    test = [c for c in cases if not in_fit_half(c.patient_id, seed)]
    xs, ys = [], []
    for c in fit:
        _, gestalt, phenotype = evidence[c.patient_id]
        f = features(gestalt, phenotype)
        xs.append(np.column_stack([f.gestalt, f.phenotype]))
        ys.append(np.array([d == c.disorder_id for d in f.disorder_ids], dtype=float))
    weights = FusionWeights(fitted_on="not fitted (no fit-half cases): equal weights")
    if xs:
        x, y = np.vstack(xs), np.concatenate(ys)
        if 0 < y.sum() < len(y):
            weights = fit_weights(
                x,
                y,
                fitted_on=f"fitted on a separate half of the query patients (seed {seed})",
                n_cases=len(fit),
            )
    out = []
    for c in test:
        ranking, gestalt, phenotype = evidence[c.patient_id]
        combined = fuse(gestalt, phenotype, weights, top_n=0)
        pheno_rank = pheno_in_gallery = None
        if phenotype is not None:
            order = np.argsort(-np.asarray(phenotype.scores), kind="stable")
            ids = [phenotype.disorder_ids[i] for i in order]
            pheno_rank = _rank_of(ids, c.disorder_id)
            in_gallery = {g.disorder_id for g in gestalt}
            pheno_in_gallery = _rank_of([d for d in ids if d in in_gallery], c.disorder_id)
        out.append(
            CaseRanks(
                c,
                _rank_of([g.disorder_id for g in gestalt], c.disorder_id),
                pheno_rank,
                _rank_of([r.disorder_id for r in combined], c.disorder_id),
                ranking.no_close_match,
                pheno_in_gallery,
            )
        )
    return out, weights


def _group(r: CaseRanks) -> str:
    return "rare, same patient" if r.case.query_type == "same_patient" else r.case.frequency


def summary(
    ranks: Sequence[CaseRanks],
    weights: FusionWeights,
    unrelated: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The evaluation as JSON: top-k per source and frequency class, each with interval and n.

    ``phenotype_in_gallery`` ranks by the terms among the gallery's disorders only: the baseline
    that shows how much of the combined rank comes from the face rather than from the gallery's
    short list of disorders (every gallery disorder gets a gestalt feature, the rest none).
    """
    groups = [_group(r) for r in ranks]
    table: dict[str, Any] = {}
    for source in ("gestalt", "phenotype", "phenotype_in_gallery", "combined"):
        t = topk_table([getattr(r, source) for r in ranks], groups)
        table[source] = {
            g: {f"top{k}": rate.to_json() for k, rate in v.items()} for g, v in t.items()
        }
    in_gallery = [r for r in ranks if r.no_close_match is not None]
    no_match = Rate.of(sum(1 for r in in_gallery if r.no_close_match), len(in_gallery))
    return {
        "caveat": SYNTHETIC_CAVEAT,
        "cases": len(ranks),
        "patient_grouped": True,
        "top_k": list(TOP_K),
        "rates": table,
        "query_no_close_match": no_match.to_json(),
        "fusion": weights.to_json(),
        "unrelated": unrelated,
    }


def unrelated_rates(
    embeddings: dict[str, np.ndarray],
    gallery: Gallery,
    bundle: BundleLike,
    *,
    seed: int = 0,
    target: float = 0.05,
) -> dict[str, Any]:
    """Re-calibrate the no-match threshold on half of the unrelated children and report its
    false-match rate on the other half (children, not photos; one embedding each)."""
    from dysmorph_desk.gallery.calibration import nearest_distances, threshold_from_distances

    cal = [v for p, v in embeddings.items() if in_fit_half(p, seed)]
    test = [v for p, v in embeddings.items() if not in_fit_half(p, seed)]
    if not cal or not test:
        raise DataError("too few unrelated children to split into calibration and test halves")
    d_cal = nearest_distances(np.stack(cal), gallery, bundle.sha256)
    d_test = nearest_distances(np.stack(test), gallery, bundle.sha256)
    threshold = threshold_from_distances(d_cal, target)
    matched = int((d_test <= threshold).sum())
    return {
        "threshold": round(float(threshold), 6),
        "target_false_match": target,
        "calibration_children": len(cal),
        "false_match_rate": Rate.of(matched, len(test)).to_json(),
    }


def summary_text(doc: dict[str, Any]) -> str:
    """The evaluation as a plain table for the terminal."""
    lines = [f"{doc['cases']} query patients (patient-grouped; fusion fitted on the other half)"]
    for source, groups in doc["rates"].items():
        for group, rates in groups.items():
            cells = []
            for k in doc["top_k"]:
                r = rates[f"top{k}"]
                if r["n"] == 0:
                    continue
                lo, hi = r["ci95"]
                cells.append(f"top-{k} {100 * r['value']:.0f}% ({100 * lo:.0f}-{100 * hi:.0f})")
            n = rates[f"top{doc['top_k'][0]}"]["n"]
            lines.append(f"  {source:<20} {group:<19} n={n:<4} " + "  ".join(cells))
    q = doc["query_no_close_match"]
    if q["n"]:
        lines.append(f"  queries called 'no close match': {q['k']}/{q['n']}")
    u = doc.get("unrelated")
    if u:
        r = u["false_match_rate"]
        lo, hi = r["ci95"]
        lines.append(
            f"  unrelated children matched within the re-calibrated threshold {distance_text(u['threshold'])}: "
            f"{r['k']}/{r['n']} ({100 * lo:.0f}-{100 * hi:.0f} %)"
        )
    lines.append(doc["caveat"])
    return "\n".join(lines)
