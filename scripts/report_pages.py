"""Render the two report pages shown in the docs, as PNGs, from the shipped bundles.

    .venv/bin/python scripts/report_pages.py [--out docs/images]

* ``report-page1.png``: page 1 of the sample report (``dysmorph-desk demo``: the sample portrait,
  every shipped bundle), at 72 dpi;
* ``report-three-models.png``: pages 1 and 2 of the sample report made with the three two-class
  screening demos (``demo --model demo-hybrid --model demo-mobilenetv2 --model demo-resnet18``)
  side by side, at 50 dpi, to show the summary box and the three heatmap rows.

Needs ``pdftoppm`` (poppler-utils). Runs in a temporary DysmorphDesk home, so no settings or logs of
the user's are read or written. The numbers on the pages are whatever the code computes from the
shipped bundles; rerun after a bundle changes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _pages(pdf: Path, first: int, last: int, dpi: int, work: Path) -> list[Image.Image]:
    prefix = work / f"page-{dpi}"
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            str(dpi),
            "-f",
            str(first),
            "-l",
            str(last),
            str(pdf),
            str(prefix),
        ],
        check=True,
    )
    return [Image.open(p).convert("RGB") for p in sorted(work.glob(f"page-{dpi}-*.png"))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = ap.parse_args()
    if shutil.which("pdftoppm") is None:
        print("pdftoppm not found: install poppler-utils", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = dict(os.environ, DYSMORPH_DESK_HOME=str(work / "home"))
        pdf, three = work / "demo-report.pdf", work / "three-models.pdf"
        demo = [sys.executable, "-m", "dysmorph_desk", "demo", "--force", "--out"]
        subprocess.run([*demo, str(pdf)], check=True, env=env)
        models = [
            "--model",
            "demo-hybrid",
            "--model",
            "demo-mobilenetv2",
            "--model",
            "demo-resnet18",
        ]
        subprocess.run([*demo, str(three), *models], check=True, env=env)
        args.out.mkdir(parents=True, exist_ok=True)
        _pages(pdf, 1, 1, 72, work)[0].save(args.out / "report-page1.png", optimize=True)
        two = _pages(three, 1, 2, 50, work)
        gap = 12
        h = max(p.height for p in two)
        w = sum(p.width for p in two) + gap * (len(two) - 1)
        sheet = Image.fromarray(np.full((h, w, 3), 200, np.uint8))
        x = 0
        for page in two:
            sheet.paste(page, (x, 0))
            x += page.width + gap
        sheet.save(args.out / "report-three-models.png", optimize=True)
    print(f"wrote {args.out / 'report-page1.png'} and {args.out / 'report-three-models.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
