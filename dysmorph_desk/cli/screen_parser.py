"""The ``screen`` and ``demo`` command lines: their arguments, options and help.

Split from ``cli/__init__.py`` (which wires every command and holds the error boundary) so that
module stays small; the commands themselves are in ``cli/screen.py``. ``demo`` shares the
screening options with ``screen``, with demonstration defaults.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dysmorph_desk.cli.parsing import DeskParser, age_arg, fraction_arg, sex_arg
from dysmorph_desk.cli.screen import cmd_demo, cmd_screen
from dysmorph_desk.explain.methods import CAM_CHOICES, DEFAULT_CAM_METHOD
from dysmorph_desk.utils.devices import DEVICE_CHOICES
from dysmorph_desk.utils.patient_fields import AGE_HELP, SEX_HELP, SEX_VALUES

MODEL_HELP = (
    "bundle name (see `dysmorph-desk models`) or .ddbundle path; repeat for several; 'all' for "
    "every installed bundle"
)


def add_screen_parsers(sub: argparse._SubParsersAction[DeskParser]) -> None:
    """Register ``screen`` and ``demo`` (in that order) on the top-level subparsers."""
    s = sub.add_parser("screen", help="screen photos with one or more model bundles")
    photos = s.add_argument(
        "photos",
        nargs="+",
        type=Path,
        metavar="PHOTO",
        help="photo files (JPEG, PNG, HEIC, WebP, TIFF, ...) or folders of photos (their photos "
        "in name order; --recursive adds subfolders)",
    )
    photos.completion = "path"  # type: ignore[attr-defined]
    s.add_argument(
        "--recursive",
        "-r",
        action="store_true",
        help="with a folder: also screen the photos in its subfolders",
    )
    _add_screen_options(s)
    s.add_argument("--report", type=Path, help="PDF report path (one photo)")
    s.add_argument("--json", dest="json_out", help="JSON output path (one photo), or - for stdout")
    s.add_argument("--out-dir", type=Path, help="write <photo name>.json (and .pdf) per photo here")
    s.add_argument("--no-report", action="store_true", help="with --out-dir: JSON only")
    s.add_argument(
        "--visit",
        action="store_true",
        help="the photos are one visit of one patient: one fused result per model, one JSON/PDF",
    )
    dg = s.add_argument_group(
        "differential",
        "rank candidate disorders for one photo (or one --visit): by the face against a clinic "
        "gallery, by HPO phenotype terms, or both (a screening aid, not a diagnosis)",
    )
    dg.add_argument(
        "--gallery",
        type=Path,
        metavar="G",
        help="a clinic gallery (.ddgallery file, or a shipped one by name: demo-syndromes) built with one of the "
        "models screening",
    )
    dg.add_argument(
        "--hpo",
        action="append",
        default=[],
        metavar="TERMS",
        help="the child's HPO terms, comma-separated ids (HP:0000316,HP:0000494); repeatable; "
        "find ids with `dysmorph-desk hpo search`",
    )
    dg.add_argument(
        "--gallery-aggregate",
        choices=("nearest", "mean-k"),
        default="nearest",
        help="a disorder's distance: its nearest gallery patient, or the mean of its 3 nearest",
    )
    dg.add_argument(
        "--phenopacket",
        type=Path,
        metavar="OUT",
        help="also write a GA4GH Phenopacket v2 JSON: the case's HPO terms and the candidate "
        "disorders under consideration (not diagnoses)",
    )
    s.add_argument("--fhir", type=Path, help="FHIR R4B JSON Bundle (one photo, or --visit)")
    s.add_argument(
        "--dicom", type=Path, help="DICOM Encapsulated PDF of the report (one photo, or --visit)"
    )
    s.add_argument(
        "--include-photo",
        action="store_true",
        default=None,
        help="also export the photo: a FHIR Media resource, and a DICOM VL Photographic Image per "
        "photo beside --dicom (D-photoN.dcm); default: the records.export_photos setting (off)",
    )
    s.add_argument(
        "--store", action="store_true", help="file the screening in the case store (default place)"
    )
    s.add_argument(
        "--store-path",
        type=Path,
        metavar="PATH",
        help="file the screening in the case store at PATH",
    )
    s.set_defaults(func=cmd_screen)

    d = sub.add_parser("demo", help="screen a bundled sample portrait and write a PDF report")
    d.add_argument("--out", type=Path, default=Path("dysmorph-desk-demo.pdf"), help="PDF to write")
    _add_screen_options(d, demo=True)
    d.set_defaults(func=cmd_demo)


def _add_screen_options(s: argparse.ArgumentParser, demo: bool = False) -> None:
    default = "all" if demo else "the default_models setting, demo-hybrid"
    s.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="BUNDLE",
        help=f"{MODEL_HELP} (default: {default})",
    )
    s.add_argument(
        "--cam",
        default=None,
        choices=CAM_CHOICES,
        help=f"heatmap method, or none (default: the heatmap.cam_method setting, {DEFAULT_CAM_METHOD})",
    )
    s.add_argument(
        "--cam-target",
        metavar="CLASS",
        help="class id to explain (default: the syndromic class of a two-class model, "
        "else the predicted class)",
    )
    s.add_argument("--face", type=int, default=1, help="which face: 1 = largest, 2 = next...")
    s.add_argument(
        "--patient-id",
        default="DEMO-0001" if demo else "",
        metavar="ID",
        help="pseudonymous patient ID (never the name)",
    )
    s.add_argument(
        "--age",
        type=age_arg,
        default="8y" if demo else None,  # a string default goes through age_arg: 96 months
        metavar="AGE",
        help=f"age at the photo: {AGE_HELP}",
    )
    sex = s.add_argument(
        "--sex",
        type=sex_arg,
        default="female" if demo else "unknown",
        metavar="SEX",
        help=SEX_HELP,
    )
    sex.completion_choices = ("F", "M", "U", *SEX_VALUES)  # type: ignore[attr-defined]
    s.add_argument("--operator", default="", metavar="NAME", help="who screens (for the report)")
    s.add_argument("--notes", default="", metavar="TEXT", help="free-text notes for the report")
    s.add_argument(
        "--clinic", default=None, metavar="NAME", help="clinic name for the report header"
    )
    s.add_argument(
        "--prevalence",
        type=fraction_arg,
        default=None,
        metavar="P",
        help="how common the condition is among the children screened, for PPV/NPV: a fraction "
        "between 0 and 1, e.g. 0.01 = 1 in 100 (default: the report.prevalence setting, 0.01)",
    )
    s.add_argument(
        "--include-photo-name",
        action="store_true",
        help="show the photo's file name in messages and outputs (names can identify patients)",
    )
    s.add_argument("--force", action="store_true", help="overwrite existing outputs")
    s.add_argument(
        "--force-assess", action="store_true", help="give probabilities even when checks fail"
    )
    s.add_argument(
        "--allow-unvalidated",
        action="store_true",
        help="use a model whose card says it failed validation (research only; marked so)",
    )
    s.add_argument(
        "--device",
        default=None,
        choices=DEVICE_CHOICES,
        help="where models run (default: the screening.device setting, auto)",
    )
    s.add_argument(
        "--runtime",
        default="onnx",
        choices=("onnx", "torch"),
        help="onnx (default) or the PyTorch reference (research; needs the [train] extra)",
    )
