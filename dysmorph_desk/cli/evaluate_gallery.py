"""``dysmorph-desk evaluate-gallery``: top-k of the differential on query cases with known answers.

Runs on the torch-free runtime: photos are embedded by the same screening pipeline as ``screen``.
See :mod:`dysmorph_desk.differential.evaluate` for the protocol (patient-grouped cases, fusion
fitted on a separate half, no-match threshold re-calibrated on half of the unrelated children).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dysmorph_desk.errors import DataError


def register(sub) -> None:
    """Register ``evaluate-gallery`` on the top-level subparsers."""
    e = sub.add_parser(
        "evaluate-gallery",
        help="top-1/5/10/30 of the differential (gestalt, phenotype, combined) on known cases",
        description="Rank each query patient's disorder against a gallery (face), by its HPO "
        "terms (phenotype) and both (combined), and report top-1/5/10/30 per frequency class "
        "with 95%% intervals and n, as the GestaltMatcher papers do. The fusion is fitted on one "
        "half of the query patients and reported on the other. On synthetic data these numbers "
        "test the machinery; they are not comparable with clinical figures.",
    )
    e.add_argument("--model", required=True, help="the bundle the gallery was built with")
    e.add_argument("--gallery", required=True, type=Path, help="the .ddgallery to rank against")
    e.add_argument(
        "--data",
        required=True,
        type=Path,
        help="query cases: CSV with path, patient_id, disorder_id and optionally frequency, "
        "query_type, hpo_terms (make-synthetic --syndromes writes query.csv)",
    )
    e.add_argument(
        "--unrelated",
        type=Path,
        help="CSV of unrelated children (path, patient_id) for the false-match rate",
    )
    e.add_argument(
        "--aggregate",
        choices=("nearest", "mean-k"),
        default="nearest",
        help="a disorder's distance: its nearest patient or the mean of its 3 nearest",
    )
    e.add_argument("--seed", type=int, default=0, help="chooses the fit and report halves")
    e.add_argument("--json", type=Path, help="write the evaluation as JSON here")
    e.add_argument("--force", action="store_true", help="overwrite --json if it exists")
    e.add_argument("--device", default=None, help="where the models run (auto: the best found)")
    e.set_defaults(func=cmd_evaluate_gallery)


def _progress(what: str):
    def say(i: int, n: int) -> None:
        if i == n or i % 25 == 0:
            print(f"embedded {i}/{n} {what}", file=sys.stderr, flush=True)

    return say


def cmd_evaluate_gallery(args: argparse.Namespace) -> int:
    from dysmorph_desk.cli.commands import check_model_names
    from dysmorph_desk.cli.screen import _load_screener
    from dysmorph_desk.differential.evaluate import (
        embed_cases,
        evaluate_cases,
        read_cases,
        summary,
        summary_text,
        unrelated_rates,
    )
    from dysmorph_desk.gallery.embed import embed_photo
    from dysmorph_desk.gallery.ranking import pick_set
    from dysmorph_desk.gallery.store import read_gallery
    from dysmorph_desk.utils.atomic import check_writable, write_text_atomic

    if args.json is not None:
        check_writable(args.json, args.force)
    check_model_names([args.model])
    gallery = read_gallery(args.gallery)
    cases = read_cases(args.data)
    unrelated_cases = read_cases(args.unrelated) if args.unrelated else []
    screener, _ = _load_screener([args.model], args.device)
    bundle = pick_set(gallery, screener.bundles)

    def embed(photo: Path):
        return embed_photo(screener, photo).embeddings[bundle.sha256][1]

    cases = embed_cases(cases, embed, _progress("query patients"))
    if not cases:
        raise DataError("no query patient had a photo the model could assess")
    ranks, weights = evaluate_cases(
        cases, gallery, bundle, aggregate=args.aggregate, seed=args.seed
    )
    unrelated = None
    if unrelated_cases:
        kept = embed_cases(unrelated_cases, embed, _progress("unrelated children"))
        unrelated = unrelated_rates(
            {c.patient_id: c.embedding for c in kept if c.embedding is not None},
            gallery,
            bundle,
            seed=args.seed,
        )
    doc = summary(ranks, weights, unrelated)
    doc["gallery_sha256"] = gallery.read_digest
    doc["bundle"] = {"name": bundle.name, "sha256": bundle.sha256}
    print(summary_text(doc))
    if args.json is not None:
        write_text_atomic(
            args.json, json.dumps(doc, indent=2, allow_nan=False) + "\n", force=args.force
        )
    return 0
