"""Build the offline user guide: docs/guide/*.md and one page per shipped bundle -> resources/guide/.

    .venv/bin/python scripts/build_guide.py           # (re)write resources/guide/*.html and guide.css
    .venv/bin/python scripts/build_guide.py --check   # exit 1 and name the stale files, write nothing

The app shows the HTML with Qt's QTextBrowser (no web engine, no network), which renders a subset of
HTML 4 and CSS: plain blocks, tables, images, links, a linked style sheet, and no flex or grid.
``resources/`` ships as the package data ``dysmorph_desk.assets``, so the pages travel with every
install; ``dysmorph_desk.userguide.guide_page`` finds them.

Why a build step: every number a page states comes from the code or from a model card, never typed
by hand. The Markdown sources write ``{{ name }}`` where a number belongs (a quality limit, the
default prevalence, a worked PPV example...) and :func:`facts` computes each one from the module
that owns it; the pages about the shipped bundles are generated from their cards with the report's
own formatting (``report.formatting``). ``tests/test_userguide.py`` rebuilds the guide and fails
when the committed HTML differs, so a changed limit or card cannot leave the guide behind.

The output is deterministic (same sources and bundles -> same bytes). The bundles' statuses are
read with only the built-in demonstration key trusted (a fresh installation), whatever this
machine's trust store holds. ``markdown`` is a build-time dependency (the ``test`` extra): the
runtime never imports it. The screenshots under ``resources/guide/images/`` are made by
``scripts/guide_screenshots.py``. The bundle pages are made by ``scripts/guide_cards.py``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIR = ROOT / "docs" / "guide"
MODELS_DIR = ROOT / "models"
OUT_DIR = ROOT / "resources" / "guide"
CSS_NAME = "guide.css"
IMAGE_WIDTH = 640  # screenshots are made 1000 px wide: sharp on high-DPI screens, fit on others
# The hand-written pages in reading order, with the label the navigation line gives each.
PAGES: tuple[tuple[str, str], ...] = (
    ("index", "Contents"),
    ("photos", "Taking a photo"),
    ("results", "Reading the results"),
    ("heatmaps", "Heatmaps"),
    ("differential", "The differential"),
    ("statuses", "Model statuses"),
    ("privacy", "Privacy"),
    ("models", "Where the numbers come from"),
)
MARKDOWN_EXTENSIONS = ("tables", "fenced_code", "sane_lists", "attr_list", "toc")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")

for _path in (ROOT, Path(__file__).resolve().parent):  # the package; guide_cards beside this
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from guide_cards import (  # noqa: E402  (needs the path above)
    _e,
    bundle_body,
    bundle_list,
    cam_grids,
    left_out_bundles,
    page_name,
    shipped_bundles,
    shipped_interval_note,
)

__all__ = [
    "build_guide",
    "bundle_body",
    "facts",
    "left_out_bundles",
    "page_name",
    "shipped_bundles",
    "stale_files",
]


class GuideSourceError(ValueError):
    """A source page names a fact that does not exist, or leaves a required one out."""


# --- facts: every number the hand-written pages state --------------------------------------------


def _quality_facts(num: Any) -> dict[str, str]:
    """Limits and messages of every quality check (``faces.quality``), by ``q.<check>.<what>``.

    The messages are taken from the checks themselves: a face that fails every check of each kind
    (a dark and a bright one) is assessed, so the guide quotes exactly what the app prints.
    """
    import numpy as np

    from dysmorph_desk.faces.quality import assess_quality
    from dysmorph_desk.faces.types import FaceInfo

    landmarks = np.array([[0, 0], [3, 4], [30, -5], [-4, 3], [-1, 7]], dtype=np.float64)
    face = FaceInfo((0.0, 0.0, 1.0, 1.0), landmarks, 1.0)
    out: dict[str, str] = {}
    for grey in (0, 255):
        for q in assess_quality(face, 1.0, np.full((224, 224, 3), grey, np.uint8)):
            out[f"q.{q.name}.limit"] = num(float(q.limit), 3)
            out[f"q.{q.name}.effect"] = "cannot assess" if q.hard else "warning only"
            if q.message:
                out[f"q.{q.name}.message"] = q.message
    missing = [k for k in out if k.endswith(".limit") and k[:-6] + ".message" not in out]
    if missing:
        raise GuideSourceError(f"no failing example for {missing}: update _quality_facts")
    return out


def _status_label(status: str) -> str:
    """What every output shows next to a model of this status (``ModelCard.status_label``)."""
    from dysmorph_desk.bundles.cards import ClassInfo, ModelCard

    card = ModelCard(
        name="x",
        architecture="x",
        classes=[ClassInfo("s", "s", True)],
        input_size=224,
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        alignment_template={},
        threshold=0.5,
        status=status,
        intended_use="",
        training_data={},
    )
    return card.status_label


def _ppv_example(f: dict[str, str]) -> None:
    """A worked example for the results page: made-up counts, computed as the app computes them."""
    from dysmorph_desk.bundles.cards import predictive_values
    from dysmorph_desk.report.formatting import (
        format_percent,
        format_prevalence,
        format_range,
        format_rate,
    )
    from dysmorph_desk.utils.intervals import Rate, predictive_value_range

    tp, n_syndromic, tn, n_without = 45, 50, 190, 200
    sens, spec = Rate.of(tp, n_syndromic), Rate.of(tn, n_without)
    assert sens.ci95 is not None and spec.ci95 is not None
    f |= {
        "ex.tp": str(tp),
        "ex.n_syndromic": str(n_syndromic),
        "ex.tn": str(tn),
        "ex.n_without": str(n_without),
        "ex.sensitivity": format_rate(sens),
        "ex.specificity": format_rate(spec),
    }
    for key, prevalence in (("p1", 0.01), ("p10", 0.10)):
        ppv, npv = predictive_values(sens.value, spec.value, prevalence)
        ranges = predictive_value_range(sens.ci95, spec.ci95, prevalence)
        f[f"ex.{key}.prevalence"] = format_prevalence(prevalence)
        f[f"ex.{key}.ppv"] = format_percent(ppv)
        f[f"ex.{key}.npv"] = format_percent(npv)
        f[f"ex.{key}.ppv_range"] = format_range(*ranges["ppv"])
        f[f"ex.{key}.npv_range"] = format_range(*ranges["npv"])
        f[f"ex.{key}.per_1000"] = str(round(1000 * prevalence))


def _differential_facts(f: dict[str, str]) -> None:
    """The Differential tab's page: its notices, limits and the shipped HPO release."""
    from dysmorph_desk.differential.fusion import PHENOTYPE_CANDIDATES, TOP_N, FusionWeights
    from dysmorph_desk.differential.result import DIFFERENTIAL_DISCLAIMER
    from dysmorph_desk.gallery.ranking import DEFAULT_K, DEMO_NOTE, PER_DISORDER
    from dysmorph_desk.phenotype.ontology import load_ontology

    ontology = load_ontology()
    f |= {
        "dx.disclaimer": DIFFERENTIAL_DISCLAIMER,
        "dx.demo_note": DEMO_NOTE[:1].upper() + DEMO_NOTE[1:] + ".",  # as the tab shows it
        "dx.k": str(DEFAULT_K),
        "dx.per_disorder": str(PER_DISORDER),
        "dx.top_n": str(TOP_N),
        "dx.phenotype_candidates": str(PHENOTYPE_CANDIDATES),
        "dx.unfitted": FusionWeights().fitted_on,
        "dx.n_diseases": f"{ontology.n_diseases:,}",
        "dx.hpo_release": str(ontology.version),
    }


def facts() -> dict[str, str]:
    """Every ``{{ name }}`` a source page may use, computed from the code that owns the value."""
    from dysmorph_desk.bundles.cards import (
        AGE_BANDS,
        DEMO_LABEL,
        FAILED_LABEL,
        INTERVAL_UNKNOWN,
        MIN_CHILDREN_PER_SUBGROUP,
        STATUSES,
    )
    from dysmorph_desk.bundles.trust import DEMO_CAP, UNTRUSTED_CAP
    from dysmorph_desk.engine.worker import PREVIEW_HINTS
    from dysmorph_desk.explain.methods import CAM_LABELS, CAM_METHODS, DEFAULT_CAM_METHOD
    from dysmorph_desk.explain.overlay import (
        COLORBLIND_SAFE,
        COLORMAPS,
        COLOUR_BAR_LABEL,
        DEFAULT_COLORMAP,
        DEFAULT_OPACITY,
    )
    from dysmorph_desk.faces.align import TEMPLATE
    from dysmorph_desk.faces.detect import DetectorSettings
    from dysmorph_desk.faces.image import DEFAULT_MAX_PIXELS, MAX_ASPECT_RATIO, MIN_SHORT_SIDE
    from dysmorph_desk.faces.pipeline import QUALITY_SIZE
    from dysmorph_desk.faces.quality import MIN_FACE_IOD_PX
    from dysmorph_desk.report.formatting import INTERVAL_METHOD, format_prevalence, num
    from dysmorph_desk.screening.atypicality import ATYPICAL_PERCENTILE, ATYPICAL_TEXT
    from dysmorph_desk.screening.pipeline import INVALID_NUMBER
    from dysmorph_desk.screening.results import DISCLAIMER
    from dysmorph_desk.screening.stability import (
        BLUR_SIGMA,
        BRIGHTNESS,
        DEFAULT_VARIANTS,
        UNSTABLE_TEXT,
        UNSTABLE_WIDTH,
    )
    from dysmorph_desk.screening.summary import DISAGREE_SENTENCE
    from dysmorph_desk.settings import AppSection, RecordsSection, ReportSection
    from dysmorph_desk.utils.inputs import MAX_PHOTO_BYTES, NOTES_MAX, PATIENT_ID_MAX

    detector = DetectorSettings()
    on_off = {True: "on", False: "off"}
    f: dict[str, str] = {
        "disclaimer": DISCLAIMER,
        "demo_label": DEMO_LABEL,
        "failed_label": FAILED_LABEL,
        "statuses_low_to_high": " < ".join(STATUSES),
        "untrusted_cap": UNTRUSTED_CAP,
        "demo_cap": DEMO_CAP,
        "iod_refuse": num(MIN_FACE_IOD_PX, 1),
        "aligned_size": str(QUALITY_SIZE),
        "aligned_iod": str(round(float(TEMPLATE[1, 0] - TEMPLATE[0, 0]) * QUALITY_SIZE)),
        "detect_long_side": str(detector.detect_long_side),
        "retry_long_side": str(detector.retry_long_side),
        "min_short_side": str(MIN_SHORT_SIDE),
        "max_aspect": num(MAX_ASPECT_RATIO, 1),
        "max_photo_mb": num(MAX_PHOTO_BYTES / 1_000_000, 1),
        "max_megapixels": num(DEFAULT_MAX_PIXELS / 1_000_000, 1),
        "preview_hints": "; ".join(f"“{h}”" for h in dict.fromkeys(PREVIEW_HINTS.values())),
        "variants": ", ".join(DEFAULT_VARIANTS),
        "n_variants": str(len(DEFAULT_VARIANTS)),
        "variant_brightness": f"{num(BRIGHTNESS * 100, 1)}%",
        "variant_blur": num(BLUR_SIGMA, 2),
        "unstable_width": num(UNSTABLE_WIDTH * 100, 1),
        "unstable_text": UNSTABLE_TEXT,
        "atypical_percentile": num(ATYPICAL_PERCENTILE, 1),
        "atypical_text": ATYPICAL_TEXT,
        "invalid_number": INVALID_NUMBER,
        "disagree_sentence": DISAGREE_SENTENCE,
        "default_prevalence": format_prevalence(ReportSection().prevalence),
        "interval_method": INTERVAL_METHOD,
        "interval_unknown": INTERVAL_UNKNOWN,
        "min_children_subgroup": str(MIN_CHILDREN_PER_SUBGROUP),
        "age_bands": ", ".join(AGE_BANDS),
        "cam_default": CAM_LABELS[DEFAULT_CAM_METHOD],
        "cam_methods": ", ".join(CAM_LABELS[m] for m in CAM_METHODS),
        "colormap_default": DEFAULT_COLORMAP,
        "colormaps": ", ".join(COLORMAPS),
        "colorblind_safe": " and ".join(COLORBLIND_SAFE),
        "opacity_default": f"{round(DEFAULT_OPACITY * 100)}%",
        "colour_bar_label": COLOUR_BAR_LABEL,
        "patient_id_max": str(PATIENT_ID_MAX),
        "notes_max": str(NOTES_MAX),
        "keep_photos_default": on_off[RecordsSection().keep_photos],
        "export_photos_default": on_off[RecordsSection().export_photos],
        "remember_names_default": on_off[AppSection().remember_photo_names],
    }
    f |= {f"label.{s}": _status_label(s) for s in STATUSES}
    f |= _quality_facts(num)
    _ppv_example(f)
    _differential_facts(f)
    return f


# --- pages ----------------------------------------------------------------------------------------


def fill(text: str, values: dict[str, str], where: str, used: set[str]) -> str:
    """Replace each ``{{ name }}``; an unknown name is an error, not a blank."""

    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise GuideSourceError(f"{where}: unknown fact {{{{ {key} }}}}")
        used.add(key)
        return values[key]

    filled = _PLACEHOLDER.sub(one, text)
    if "{{" in filled or "}}" in filled:
        raise GuideSourceError(f"{where}: a '{{{{' or '}}}}' that is not a fact")
    return filled


def _nav(current: str) -> str:
    items = [
        f"<b>{_e(label)}</b>" if name == current else f'<a href="{name}.html">{_e(label)}</a>'
        for name, label in PAGES
    ]
    return '<p class="nav">' + " · ".join(items) + "</p>"


def _with_image_width(body: str) -> str:
    """Every image without a width is shown ``IMAGE_WIDTH`` px wide (QTextBrowser has no max-width)."""
    return re.sub(r"<img (?![^>]*\bwidth=)", f'<img width="{IMAGE_WIDTH}" ', body)


def page_html(name: str, title: str, body: str, nav_page: str) -> str:
    """A whole page: the navigation line, the screening-aid notice, the body, the footer."""
    from dysmorph_desk import __version__
    from dysmorph_desk.screening.results import DISCLAIMER

    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)} — DysmorphDesk user guide</title>\n"
        f'<link rel="stylesheet" type="text/css" href="{CSS_NAME}">\n'
        "</head>\n<body>\n"
        f"{_nav(nav_page)}\n"
        f'<p class="aid">{_e(DISCLAIMER)}</p>\n'
        f"{_with_image_width(body)}"
        f"<hr>\n{_nav(nav_page)}\n"
        f'<p class="foot">DysmorphDesk {_e(__version__)} user guide, page “{_e(name)}”. '
        "Built from docs/guide/ and the shipped model cards by scripts/build_guide.py.</p>\n"
        "</body>\n</html>\n"
    )


def _title(markdown_text: str, where: str) -> str:
    match = re.search(r"^# (.+)$", markdown_text, flags=re.MULTILINE)
    if not match:
        raise GuideSourceError(f"{where}: a page needs a '# title' line")
    return match.group(1).strip()


def build_guide(source_dir: Path = SOURCE_DIR, models_dir: Path = MODELS_DIR) -> dict[str, bytes]:
    """Every file of the guide, by name relative to ``resources/guide/``: the HTML pages and the CSS.

    Args:
        source_dir: the Markdown pages (one per ``PAGES`` entry) and ``guide.css``.
        models_dir: the shipped ``*.ddbundle`` files; one page is generated per bundle.

    Raises:
        GuideSourceError: a page is missing, names an unknown fact, or a quality check is not
            described on the photos page.

    Example:
        >>> files = build_guide()  # doctest: +SKIP
        >>> sorted(files)[:2]  # doctest: +SKIP
        ['guide.css', 'heatmaps.html']
    """
    import markdown

    from dysmorph_desk.settings import ReportSection

    values = facts()
    bundles = shipped_bundles(models_dir)
    values["bundle_list"] = bundle_list(bundles)
    values["cam_grids"] = cam_grids(bundles)
    values["shipped_interval_note"] = shipped_interval_note(bundles)
    used: set[str] = set()
    files: dict[str, bytes] = {CSS_NAME: (source_dir / CSS_NAME).read_bytes()}
    for name, _label in PAGES:
        source = source_dir / f"{name}.md"
        if not source.is_file():
            raise GuideSourceError(f"{source} is missing")
        text = fill(source.read_text(encoding="utf-8"), values, source.name, used)
        body = markdown.markdown(text, extensions=list(MARKDOWN_EXTENSIONS), output_format="html")
        html_text = page_html(name, _title(text, source.name), body + "\n", name)
        files[f"{name}.html"] = html_text.encode("utf-8")
    described = {k for k in used if k.startswith("q.") and k.endswith(".limit")}
    missing = sorted(k for k in values if k.endswith(".limit") and k not in described)
    if missing:
        raise GuideSourceError(f"photos.md: quality checks not described: {', '.join(missing)}")
    prevalence = ReportSection().prevalence
    for page, info, runtime in bundles:
        body = bundle_body(info, runtime, prevalence)
        files[f"{page}.html"] = page_html(page, info.name, body, "models").encode("utf-8")
    return files


def stale_files(files: dict[str, bytes], out_dir: Path = OUT_DIR) -> list[str]:
    """Names whose committed copy differs from ``files``, and built pages no longer produced."""
    stale = [n for n, data in files.items() if _read(out_dir / n) != data]
    extra = [p.name for p in sorted(out_dir.glob("*.html")) if p.name not in files] + [
        p.name for p in sorted(out_dir.glob("*.css")) if p.name not in files
    ]
    return sorted(stale + extra)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def write_guide(files: dict[str, bytes], out_dir: Path = OUT_DIR) -> list[str]:
    """Write the changed files (atomically) and remove built pages that are no longer produced."""
    from dysmorph_desk.utils.atomic import write_bytes_atomic

    changed = stale_files(files, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in changed:
        if name in files:
            write_bytes_atomic(out_dir / name, files[name])
        else:
            (out_dir / name).unlink()
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the offline user guide (HTML).")
    parser.add_argument("--check", action="store_true", help="only say whether it is current")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args(argv)
    try:
        files = build_guide()
    except GuideSourceError as exc:
        print(f"build_guide: {exc}", file=sys.stderr)
        return 2
    if args.check:
        stale = stale_files(files, args.out)
        for name in stale:
            print(f"stale: {name}")
        if stale:
            print("run `python scripts/build_guide.py`", file=sys.stderr)
        return 1 if stale else 0
    changed = write_guide(files, args.out)
    print(f"{len(files)} files in {args.out}; {len(changed)} changed" + (":" if changed else ""))
    for name in changed:
        print(f"  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
