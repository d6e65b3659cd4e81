"""``dysmorph-desk models --calibrate BUNDLE --data D``: give a bundle its atypicality statistics.

Bundles exported before the statistics existed (the shipped demo ones) cannot tell a typical photo
from a drawing. This computes them from a labelled photo folder (the forms ``train --data`` reads)
with the bundle's own ONNX forward graph — no PyTorch, so a runtime-only install can do it:

1. every photo is detected and aligned exactly as for training (``training.data.prepare_faces``,
   torch-free; the aligned-face cache is shared with training), photos without a usable face are
   left out and counted;
2. the forward graph gives each face's L2-normalised embedding (the original face, no variants);
3. the mean and the Ledoit–Wolf shrunk covariance are fitted on all of them, and the reference
   distances are **cross-fitted**: each photo's distance to statistics fitted without its
   patient's photos (5 groups of patients), so the reference percentiles describe photos the
   statistics have not seen — as a new patient's photo will be;
4. the bundle is rewritten with the new members (``screening/atypicality.py``). Its digest is
   recomputed; a signature over the old digest no longer applies and is dropped: re-sign with
   ``models --sign`` or pass ``--key`` to sign in the same step.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from dysmorph_desk.errors import DataError, UsageError

BATCH = 16


@dataclass
class Calibration:
    path: Path  # the bundle written
    n_photos: int
    n_patients: int
    n_skipped: int
    shrinkage: float
    p99: float  # the reference distance at the 99th percentile
    signed: bool


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def embeddings_of(bundle: Any, faces: np.ndarray) -> np.ndarray:
    """The forward graph's embeddings of aligned uint8 faces (N, S, S, 3), in batches."""
    from dysmorph_desk.screening.stability import normalise_batch

    card = bundle.card
    out = [
        bundle.model.forward(normalise_batch(faces[i : i + BATCH], card.mean, card.std)).embedding
        for i in range(0, len(faces), BATCH)
    ]
    return np.concatenate(out).astype(np.float64) if out else np.zeros((0, 0))


def calibrate_bundle(
    path: str | Path,
    data: str | Path,
    out: str | Path | None = None,
    *,
    key: Any = None,
    force: bool = False,
    say: Any = None,
) -> Calibration:
    """Fit the atypicality statistics of ``path`` on the photos of ``data`` and write the bundle.

    Args:
        path: a format-2 bundle (verified first).
        data: a labelled dataset (labels.csv folder, CSV file, or class folders).
        out: where to write (default: rewrite ``path``).
        key: a private key (or its PEM path) to sign the result with; None leaves it unsigned.
        force: overwrite ``out`` when it exists (and is not ``path``).
        say: progress messages.
    """
    from dysmorph_desk.bundles.container import read_bundle, write_bundle
    from dysmorph_desk.bundles.format import load_bundle
    from dysmorph_desk.faces.align import TEMPLATE
    from dysmorph_desk.screening.atypicality import cross_fitted_distances, reference_from
    from dysmorph_desk.training.data import prepare_faces
    from dysmorph_desk.training.datasets import read_dataset

    say = say or (lambda m: None)
    src = Path(path)
    dest = Path(out) if out is not None else src
    if dest.exists() and dest.resolve() != src.resolve() and not force:
        raise UsageError(f"{dest.name} exists; use --force to overwrite")
    bundle = load_bundle(src, allow_failed=True)  # digest, card and graphs verified
    card = bundle.card
    points = np.asarray(card.alignment_template.get("points"), np.float64)
    if points.shape != TEMPLATE.shape or not np.allclose(points, TEMPLATE, atol=1e-5):
        raise UsageError(
            f"{src.name} aligns faces to another template than this version's; it cannot be "
            "calibrated here"
        )
    samples = read_dataset(data)
    say(f"aligning {len(samples)} photos at {card.input_size} px (cached after the first run)")
    faces, kept, skipped = prepare_faces(samples, card.input_size, say)
    if len(kept) < 10:
        raise DataError(f"only {len(kept)} photos have a usable face; calibration needs 10 or more")
    emb = embeddings_of(bundle, faces)
    finite = np.all(np.isfinite(emb), axis=1)
    if not finite.all():
        raise DataError(
            f"{src.name}: the model gave invalid embeddings for {int((~finite).sum())} photos"
        )
    groups = [s.patient_id for s in kept]
    distances = cross_fitted_distances(emb, groups)
    reference = reference_from(
        emb,
        distances,
        source="models --calibrate",
        reference="cross-fitted: each photo against statistics fitted without its patient's photos",
        n_patients=len(set(groups)),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    contents = read_bundle(src)
    contents.atypicality = reference.tensors()
    contents.runtime["atypicality"] = reference.runtime()
    contents.signature = ""
    if key is not None:
        from dysmorph_desk.bundles.signing import Ed25519PrivateKey, load_private, sign_digest

        private = key if isinstance(key, Ed25519PrivateKey) else load_private(key)
        contents.signature = sign_digest(private, contents.digest())
    write_bundle(dest, contents, force=True)
    return Calibration(
        path=dest,
        n_photos=len(kept),
        n_patients=len(set(groups)),
        n_skipped=len(skipped),
        shrinkage=float(reference.info["shrinkage"]),
        p99=float(reference.percentiles[99]),
        signed=key is not None,
    )


def cmd_calibrate(args) -> int:
    from dysmorph_desk.bundles.format import read_header

    if args.data is None:
        raise UsageError("--calibrate needs --data (a labelled photo folder, as for train)")
    if args.upgrade is not None or args.install is not None:
        raise UsageError("--calibrate goes alone (with --data, and optionally --out and --key)")
    result = calibrate_bundle(
        args.calibrate, args.data, args.out, key=args.key, force=args.force, say=_err
    )
    name = result.path.name
    skipped = f", {result.n_skipped} without a usable face left out" if result.n_skipped else ""
    _err(
        f"{name}: atypicality statistics from {result.n_photos} photos of {result.n_patients} "
        f"patients{skipped}; Ledoit-Wolf shrinkage {result.shrinkage:.3f}; the held-out photos' "
        f"99th percentile distance is {result.p99:.2f}"
    )
    if result.signed:
        trust = read_header(result.path).trust
        _err(f"{name}: re-signed ({trust.reason if trust else 'unsigned'})")
    else:
        _err(
            f"{name}: the bundle changed, so its signature (if it had one) no longer applies and "
            f"was removed: re-sign it with `dysmorph-desk models --sign {result.path} --key KEY` "
            f"(or pass --key to --calibrate); until then it counts as unsigned"
        )
    print(result.path)
    return 0
