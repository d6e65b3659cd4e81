"""Finish the demonstration embedding bundle's card: disorder names and what it was trained on.

    .venv/bin/python scripts/gestalt_card.py --bundle runs/gestalt/demo-gestalt.ddbundle \
        --world world [--out models/demo-gestalt.ddbundle] [--key models/keys/demo-signing-key.pem]

``train --synthetic`` names classes by their labels (``ORPHA:198``) and describes the two-class
synthetic set. For the bundle trained on a syndrome world's frequent syndromes this script reads the
world's ``syndromes.json`` and writes, into the card only, each class's disorder name marked
"(synthetic)" and a training summary that says which world and which children; graphs, weights,
metrics and statistics are untouched. The bundle is rewritten (the digest is recomputed), so it is
re-signed with ``--key`` when given, as ``models --sign`` would.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--world", type=Path, required=True, help="the world folder (syndromes.json)")
    ap.add_argument("--out", type=Path, help="write here (default: in place)")
    ap.add_argument("--key", type=Path, help="sign with this private key (PEM)")
    args = ap.parse_args()

    from dysmorph_desk.bundles.container import read_bundle, write_bundle

    world = json.loads((args.world / "syndromes.json").read_text(encoding="utf-8"))
    names = {s["disorder_id"]: s["disorder_name"] for s in world["syndromes"]}
    contents = read_bundle(args.bundle)
    classes = contents.manifest["classes"]
    for c in classes:
        if c["id"] in names:
            c["display_name"] = f"{names[c['id']]} (synthetic)"
        elif c["id"] == "control":
            c["display_name"] = "Control (synthetic)"
    n_syndromes = sum(1 for c in classes if c["id"] in names)
    contents.manifest["training_data"]["summary"] = (
        f"Synthetic children of {n_syndromes} frequent synthetic syndromes of a "
        f"`make-synthetic --syndromes` world (seed {world['seed']}; its 'train' children only, "
        "disjoint from the demonstration gallery's and the evaluation's), plus unaffected synthetic "
        "children of another seed as 'control', all made from two public-domain adult portraits; "
        "trained as a classifier so that its embedding (the penultimate features) tells the "
        "synthetic syndromes apart. Metrics come from synthetic children and say nothing about real "
        "patients."
    )
    contents.signature = ""
    out = args.out or args.bundle
    write_bundle(out, contents)
    if args.key:
        from dysmorph_desk.cli import main as cli

        return cli(["models", "--sign", str(out), "--key", str(args.key)])
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
