"""From a screening (one photo or a visit), a gallery and HPO terms to a :class:`DifferentialResult`.

One function for the CLI (``screen --gallery/--hpo``), the engine process (the app's Differential
panel) and ``evaluate-gallery``: the gallery ranks disorders by the face (the first of the
screening's bundles it holds embeddings of; a visit's embedding is the mean of its assessable
photos'), the phenotype module scores every annotated disease for the terms, and
:func:`~.fusion.fuse` combines both. The ontology arrays load here, on first use, never at start.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from dysmorph_desk.differential.fusion import (
    TOP_N,
    FusionWeights,
    GestaltEvidence,
    PhenotypeEvidence,
    fuse,
)
from dysmorph_desk.differential.result import DifferentialResult, GalleryFacts, HpoTerm
from dysmorph_desk.errors import UsageError
from dysmorph_desk.gallery.model import Gallery
from dysmorph_desk.gallery.ranking import (
    DEFAULT_AGGREGATE,
    BundleLike,
    GalleryRanking,
    pick_set,
    rank_screening,
)
from dysmorph_desk.screening.results import ScreeningResult

log = logging.getLogger(__name__)


def resolve_hpo(term_ids: Sequence[str]) -> tuple[list[HpoTerm], list[str], str]:
    """Check the entered ids (unknown ones refused, exit 2; obsolete ones mapped with a note).

    Returns:
        (terms with labels, notes on mapped ids, the HPO release).
    """
    from dysmorph_desk.phenotype import load_ontology, resolve_entered
    from dysmorph_desk.phenotype.terms import term_rows

    onto = load_ontology()
    resolved = resolve_entered(term_ids, ontology=onto)  # current ids: their rows, no second pass
    rows = term_rows(resolved.ids, onto)
    terms = [
        HpoTerm(tid, str(onto.names[row]), resolved.entered_as.get(tid))
        for tid, row in zip(resolved.ids, rows, strict=True)
    ]
    notes = resolved.messages
    return terms, notes, onto.version


def gallery_facts(ranking: GalleryRanking) -> GalleryFacts:
    """The gallery's identity and its no-match calibration, as a report and JSON show them."""
    t = ranking.threshold
    return GalleryFacts(
        sha256=ranking.gallery_sha256,
        entries=ranking.entries,
        disorders=len(ranking.disorders),
        bundle=ranking.bundle_name,
        status=ranking.status,
        aggregate=ranking.aggregate,
        threshold=None if t is None else t.threshold,
        false_match_k=None if t is None else t.expected.k,
        false_match_n=None if t is None else t.n,
        false_match_estimate="in-sample" if t is None else t.estimate,
        signature=ranking.trust or "unsigned",
        verified=ranking.verified,
        k=ranking.k,
    )


def build_differential(
    results: Sequence[ScreeningResult],
    *,
    gallery: Gallery | None = None,
    bundles: Sequence[BundleLike] = (),
    hpo_terms: Sequence[str] = (),
    aggregate: str = DEFAULT_AGGREGATE,
    weights: FusionWeights | None = None,
    top_n: int = TOP_N,
    exclude_patients: Sequence[str] = (),
) -> DifferentialResult:
    """The differential of one photo (one result) or a visit (several) from a gallery and terms.

    Args:
        results: the screened photos of one case (one photo, or a visit's photos).
        gallery: the clinic gallery, or None for phenotype terms alone.
        bundles: the screening's bundles (``LoadedBundle``), the first the gallery holds is used.
        hpo_terms: the clinician's HPO ids as typed (checked here).
        aggregate: ``nearest`` or ``mean-k`` per disorder (``gallery.ranking``).
        weights: the fusion's logistic weights; equal weights when None.
        top_n: rows kept.
        exclude_patients: gallery patients to leave out (evaluation only).

    Raises:
        UsageError: neither a gallery nor terms; an unknown HPO id (exit 2).
        GalleryError: the gallery holds no embeddings of these bundles, or is empty (exit 4).

    Example:
        >>> diff = build_differential([result], hpo_terms=["HP:0000316"])  # doctest: +SKIP
        >>> diff.rows[0].disorder_id  # doctest: +SKIP
        'OMIM:...'
    """
    if gallery is None and not hpo_terms:
        raise UsageError("a differential needs a gallery (--gallery) or HPO terms (--hpo)")
    notes: list[str] = []
    gestalt: list[GestaltEvidence] | None = None
    facts: GalleryFacts | None = None
    nearest: float | None = None
    photos_used = len(results)
    if gallery is not None:
        bundle = pick_set(gallery, list(bundles))
        options: dict[str, Any] = {"aggregate": aggregate}
        if exclude_patients:
            options["exclude_patients"] = exclude_patients
        ranking = rank_screening(results, gallery, bundle, **options)
        if ranking is None:
            notes.append(
                f"{bundle.name} could not assess the photo(s): the face gives no gallery ranking"
            )
        else:
            gestalt = [
                GestaltEvidence(d.disorder_id, d.name, d.distance, d.nearest)
                for d in ranking.disorders
            ]
            facts = gallery_facts(ranking)
            if not facts.verified:
                notes.append(
                    f"the gallery is {facts.signature}: nothing vouches that its entries are the "
                    "ones its keeper made"
                )
            nearest = ranking.nearest_distance
            photos_used = ranking.photos
            notes += list(ranking.notes)
    phenotype: PhenotypeEvidence | None = None
    terms: list[HpoTerm] = []
    release: str | None = None
    if hpo_terms:
        from dysmorph_desk.phenotype import score_diseases

        terms, mapped, release = resolve_hpo(hpo_terms)
        notes += mapped
        scores = score_diseases([t.id for t in terms])
        phenotype = PhenotypeEvidence(
            [str(d) for d in scores.disease_ids], [str(n) for n in scores.names], scores.scores
        )
    rows = fuse(gestalt, phenotype, weights, top_n=top_n)
    if phenotype is None and rows:  # no terms: whether a disorder is annotated comes from the HPO
        from dataclasses import replace

        from dysmorph_desk.phenotype import has_disease, load_ontology

        onto = load_ontology()
        rows = [replace(r, in_ontology=has_disease(r.disorder_id, ontology=onto)) for r in rows]
    return DifferentialResult(
        rows=rows,
        gallery=facts,
        hpo_terms=terms,
        hpo_release=release,
        nearest_distance=nearest,
        weights=weights or FusionWeights(),
        notes=notes,
        photos_used=max(1, photos_used),
    )
