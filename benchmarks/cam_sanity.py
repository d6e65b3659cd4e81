"""State the heatmap sanity rates of a bundle on a held-out synthetic set (prints a table).

    .venv/bin/python benchmarks/cam_sanity.py [--bundle demo-hybrid] [--per-class 40] [--seed 1234]

The set is generated with a seed the shipped bundles were not trained on (they used seed 0).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", default="demo-hybrid")
    ap.add_argument("--per-class", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--methods", default="gradcam,gradcam++,hirescam,xgradcam,layercam,eigencam")
    args = ap.parse_args()
    os.environ.setdefault("DYSMORPH_DESK_HOME", tempfile.mkdtemp())
    from dysmorph_desk.bundles.format import load_bundle, resolve_bundle
    from dysmorph_desk.training.saliency_check import saliency_report
    from dysmorph_desk.training.synthetic import make_synthetic

    data = Path(tempfile.mkdtemp()) / "heldout"
    make_synthetic(data, args.per_class, seed=args.seed, variation="wide")
    bundle = load_bundle(resolve_bundle(args.bundle).path)
    print(
        f"held-out synthetic set: seed {args.seed}, {args.per_class} per class; bundle {bundle.name}"
    )
    print(
        f"{'method':10s} {'n':>4s} {'peak in mask':>13s} {'chance':>7s} {'randomised':>11s} {'rank corr.':>11s}"
    )
    for method in args.methods.split(","):
        r = saliency_report(bundle, data, method=method)
        print(
            f"{method:10s} {r.n_images:4d} {r.hit_rate:13.2f} {r.chance_rate:7.2f} {r.randomised_hit_rate:11.2f} "
            f"{r.mean_rank_correlation:11.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
