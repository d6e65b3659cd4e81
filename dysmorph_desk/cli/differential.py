"""``screen --gallery G --hpo TERMS``: the differential of one photo or one visit.

Everything that can be refused is refused before any model loads: the option combination, the
HPO ids (unknown ones name themselves; obsolete ones are mapped with a note) and the gallery file
(damaged, tampered, empty: exit 4). After screening, :func:`run_differential` ranks the candidates
and :func:`differential_text` prints the top ones; the JSON and PDF carry the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dysmorph_desk.differential.result import distance_text
from dysmorph_desk.errors import UsageError
from dysmorph_desk.utils.inputs import terminal_safe

SHOWN = 5  # candidates printed on the terminal (the PDF and JSON carry the top 10)


@dataclass(frozen=True)
class DifferentialInputs:
    """The checked inputs of a differential: a read gallery and/or HPO ids."""

    gallery: Any  # gallery.store.LoadedGallery | None
    hpo_terms: tuple[str, ...]
    aggregate: str


def differential_inputs(args, n_photos: int) -> DifferentialInputs | None:
    """Check ``--gallery``/``--hpo`` (None when neither is given); raises before models load."""
    raw_terms = [t for group in (args.hpo or []) for t in group.split(",") if t.strip()]
    if args.gallery is None and not raw_terms:
        if getattr(args, "hpo", None):
            raise UsageError("--hpo was given no term ids")
        if getattr(args, "phenopacket", None) is not None:
            raise UsageError("--phenopacket exports a differential: give --gallery or --hpo")
        return None
    if n_photos > 1 and not args.visit:
        raise UsageError(
            "--gallery and --hpo rank one child: give one photo, or several photos of one "
            "visit with --visit"
        )
    if getattr(args, "out_dir", None) is not None and not args.visit:
        raise UsageError(
            "--gallery and --hpo with --out-dir need --visit (the visit's files carry the "
            "differential); for one photo use --json and --report"
        )
    terms: tuple[str, ...] = ()
    if raw_terms:
        from dysmorph_desk.phenotype import resolve_terms

        resolved, _ = resolve_terms([t.strip() for t in raw_terms])  # refuses unknown ids
        terms = tuple(t.strip() for t in raw_terms)
        if not resolved:
            raise UsageError("--hpo: none of the terms could be used")
    gallery = None
    if args.gallery is not None:
        from dysmorph_desk.gallery.links import resolve_gallery
        from dysmorph_desk.gallery.store import read_gallery

        gallery = read_gallery(resolve_gallery(args.gallery))
        _check_models(gallery, args.models)
    return DifferentialInputs(gallery, terms, args.gallery_aggregate)


def _check_models(gallery, model_names: list[str] | None) -> None:
    """The gallery must hold embeddings of one of the models that will screen (their headers
    only: nothing loads); otherwise exit 4 before any photo is screened."""
    from dysmorph_desk.bundles.format import select_bundles
    from dysmorph_desk.gallery.ranking import pick_set
    from dysmorph_desk.settings import Settings

    pick_set(gallery, select_bundles(model_names or list(Settings.load().screening.default_models)))


def run_differential(wants: DifferentialInputs, results, bundles):
    """Rank the candidates for the screened photo(s) (a visit's embedding: their mean)."""
    from dysmorph_desk.differential.service import build_differential

    return build_differential(
        results,
        gallery=wants.gallery,
        bundles=bundles,
        hpo_terms=wants.hpo_terms,
        aggregate=wants.aggregate,
    )


def differential_text(diff, shown: int = SHOWN) -> str:
    """The terminal's lines: the top candidates with each source's score, and the caveats."""
    lines = ["differential (candidates to consider; a screening aid, not a diagnosis):"]
    if diff.no_close_match and diff.nearest_distance is not None:
        lines.append(
            f"  no close match: the nearest gallery entry is at distance "
            f"{distance_text(diff.nearest_distance)}, beyond the gallery's threshold"
        )
    for r in diff.rows[:shown]:
        gestalt = "-" if r.gestalt_distance is None else f"{distance_text(r.gestalt_distance)}"
        pheno = "-" if r.phenotype_score is None else f"{r.phenotype_score:.2f}"
        entries = ", ".join(f"#{e}" for e, _ in r.nearest_entries[:3])
        near = f" nearest {entries}" if entries else ""
        local = ""
        if not r.in_ontology and r.gestalt_distance is not None:
            kind = "local id" if r.disorder_id.startswith("LOCAL:") else "no HPO annotation"
            local = f" ({kind}: face only)"
        lines.append(
            f"  {r.rank:>2}. {terminal_safe(r.disorder_id, 40)} {terminal_safe(r.name, 80)}{local}: gestalt {gestalt}{near}, "
            f"phenotype {pheno}, combined {r.combined_score:.3f}"
        )
    for note in diff.notes:
        lines.append(f"  note: {terminal_safe(note, 300)}")
    return "\n".join(lines)
