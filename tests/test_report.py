"""The PDF report: content, multi-script text, photo-name privacy, JPEG images, atomic writes."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pypdf import PdfReader

from dysmorph_desk.bundles.cards import ClassInfo, ModelCard
from dysmorph_desk.errors import UsageError
from dysmorph_desk.report.formatting import (
    age_range_text,
    age_text,
    date_text,
    format_percent,
    validation_rows,
)
from dysmorph_desk.report.options import PAPER_NAMES, ReportOptions
from dysmorph_desk.report.render import render_report, report_bytes
from dysmorph_desk.report.style import FONT_CJK, PAPERS
from dysmorph_desk.report.text import clean, markup
from dysmorph_desk.screening.results import DISCLAIMER, CaseInfo, ModelResult, ScreeningResult
from tests.fakes import (
    SHA_A,
    SHA_B,
    assessed,
    card,
    face_size_passed,
    screening_result,
    unassessed,
    yaw_failed,
)

PATIENT_ID = "Ζωή-Жанна-王小明"
PHOTO_LABEL = "IMG_20240501_clinic.jpg"
PHOTO_SHA = "ab" * 32


def _card(name: str, status: str = "demonstration") -> ModelCard:
    return card(
        name,
        status=status,
        classes=[
            ClassInfo("unaffected", "Unaffected", False),
            ClassInfo("noonan", "Noonan syndrome", True),
            ClassInfo("williams", "Williams syndrome (ウィリアムズ)", True),
        ],
        intended_use="Demonstrates the pipeline on synthetic faces only.",
        training_data={
            "summary": "2,000 synthetic faces generated from two public-domain portraits"
        },
        validation_metrics={"recall": 0.8, "specificity": 0.9, "auc": 0.912, "n_test": 400},
    )


def _result(
    seed: int = 0, n_models: int = 2, notes: str = "Ελληνικά · Кириллица · 中文备注"
) -> ScreeningResult:
    rng = np.random.default_rng(seed)
    h, w = 600, 800
    yy, xx = np.mgrid[0:h, 0:w]
    photo = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 255 // (w + h)], axis=2).astype(
        np.uint8
    )
    photo = np.clip(photo.astype(int) + rng.integers(-20, 20, photo.shape), 0, 255).astype(np.uint8)
    aligned = rng.integers(0, 256, (112, 112, 3), dtype=np.uint8)
    g = np.linspace(0, 1, 112, dtype=np.float32)
    heat = np.outer(g, g[::-1])
    results = [
        assessed(
            _card("demo-resnet"),
            {"unaffected": 0.2, "noonan": 0.7, "williams": 0.1},
            predicted="noonan",
            syndromic_probability=0.8,
            cam_method="gradcam",
            cam_target="noonan",
            aligned_face=aligned,
            heatmap_aligned=heat,
        )
    ]
    if n_models > 1:
        results.append(unassessed(_card("second-model", status="research")))
    return screening_result(
        results,
        photo_sha256=PHOTO_SHA,
        box=(300.0, 150.0, 500.0, 420.0),
        quality=[face_size_passed(), yaw_failed()],
        warnings=["The face is turned; results may be unreliable."],
        case=CaseInfo(
            patient_id=PATIENT_ID, age_months=30, sex="female", operator="Dr Ana", notes=notes
        ),
        photo=photo,
        photo_label=PHOTO_LABEL,
    )


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _flat(text: str) -> str:
    """Extracted text with line breaks and spacing normalised (wrapping splits sentences)."""
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return report_bytes(_result())


@pytest.fixture(scope="module")
def text(pdf: bytes) -> str:
    return _text(pdf)


def test_valid_small_pdf(pdf: bytes) -> None:
    assert pdf.startswith(b"%PDF")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert len(pdf) < 500_000
    reader = PdfReader(io.BytesIO(pdf))
    assert 1 <= len(reader.pages) <= 2


def test_patient_id_in_every_script(text: str) -> None:
    assert PATIENT_ID in text
    for part in ("Ζωή", "Жанна", "王小明", "中文备注", "Кириллица"):
        assert part in text


def test_disclaimer_and_demonstration_label(text: str) -> None:
    flat = _flat(text)
    assert _flat(DISCLAIMER) in flat
    assert "DEMONSTRATION MODEL — NOT FOR CLINICAL USE" in flat
    assert "RESEARCH MODEL — NOT VALIDATED FOR CLINICAL USE" in flat


def test_predictive_values_at_stated_prevalence(text: str) -> None:
    # the test card records no counts: no PPV/NPV without their intervals (tests/report/
    # test_honest_numbers.py covers the ranges)
    flat = _flat(text)
    assert "not computed — sensitivity and specificity: interval unknown (n not recorded)" in flat
    assert "prevalence of 1%" in flat
    other = _text(report_bytes(_result(n_models=1), ReportOptions(prevalence=0.05)))
    assert "prevalence of 5%" in _flat(other)


def test_format_percent() -> None:
    assert format_percent(0.031) == "3.1%"
    assert format_percent(0.0001) == "<0.1%"
    assert format_percent(float("nan")) == "n/a"


def test_age_date_and_metrics_formatting() -> None:
    assert age_text(None) == "not stated"
    assert age_text(30) == "30 months (2 y 6 m)"
    assert age_text(30.5) == "30.5 months (2 y 6 m)"
    assert age_range_text(None, 30) == ("not stated", False)
    assert age_range_text((0, 216), 30) == ("0–216 months (0–18 years)", False)
    assert age_range_text((24, 60), 12)[1] is True
    assert age_range_text((24, 60), None)[1] is False
    assert date_text("2024-05-01T10:30:00+00:00") == "2024-05-01 10:30 UTC"
    assert date_text("2024-05-01T10:30:00") == "2024-05-01 10:30"
    assert date_text("2024-05-01T10:30:00+02:00") == "2024-05-01 10:30 UTC+0200"
    assert date_text("yesterday") == "yesterday"
    assert validation_rows(_card("m")) == [
        ("Sensitivity", "80.0%", "unknown", "—"),
        ("Specificity", "90.0%", "unknown", "—"),
        ("AUC", "0.912", "unknown", "—"),
    ]


def test_markup_escapes_and_falls_back_to_cjk() -> None:
    assert clean("a\tb\x00c\x07") == "a bc"
    marked = markup("<b>王 小</b> x")
    assert marked == f'&lt;b&gt;<font name="{FONT_CJK}">王 小</font>&lt;/b&gt; x'
    assert markup("line 1\nline 2") == "line 1<br/>line 2"


def test_every_paper_name_has_a_page_size() -> None:
    assert set(PAPERS) == set(PAPER_NAMES)


def test_model_details(text: str) -> None:
    flat = _flat(text)
    assert "cannot assess: face turned too far (yaw 41°)" in flat
    assert "Noonan syndrome" in flat and "70.0%" in flat
    assert "ウィリアムズ" in flat
    assert "gradcam" in flat
    assert "2,000 synthetic faces" in flat
    assert "AUC 0.912" in flat
    assert "30 months (2 y 6 m)" in flat
    assert "Reviewed by:" in flat


def test_hashes_on_every_page(pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(pdf))
    for page in reader.pages:
        flat = _flat(page.extract_text()).replace(" ", "")
        assert PHOTO_SHA in flat
        assert SHA_A in flat and SHA_B in flat
        assert "DysmorphDesk0.1.0" in flat or "DysmorphDesk" in flat


def test_photo_name_only_on_request(text: str) -> None:
    assert PHOTO_LABEL not in text
    shown = _text(report_bytes(_result(), ReportOptions(include_photo_name=True)))
    assert PHOTO_LABEL in shown


def test_metadata_names_neither_file_nor_patient(pdf: bytes) -> None:
    meta = PdfReader(io.BytesIO(pdf)).metadata
    assert meta.title == "Facial screening report"
    assert meta.author == "DysmorphDesk"
    assert "DysmorphDesk" in meta.creator
    raw = " ".join(str(v) for v in meta.values())
    assert PATIENT_ID not in raw and PHOTO_LABEL not in raw


def _fonts(pdf: bytes) -> dict[str, bool]:
    """BaseFont name -> whether the font program is embedded, over every page's resources."""
    found: dict[str, bool] = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        fonts = page["/Resources"].get_object().get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            desc = font.get("/FontDescriptor")
            embedded = bool(desc) and any(
                k in desc.get_object() for k in ("/FontFile2", "/FontFile3")
            )
            found[str(font["/BaseFont"])] = embedded
    return found


def test_cjk_and_dejavu_fonts_embedded(pdf: bytes) -> None:
    fonts = _fonts(pdf)
    cjk = [name for name in fonts if "DroidSansFallback" in name]
    assert cjk and all(fonts[name] for name in cjk)
    assert any("DejaVuSans" in name and fonts[name] for name in fonts)


def test_images_embedded_as_jpeg(pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(pdf))
    filters = []
    for page in reader.pages:
        xobjects = page["/Resources"].get_object().get("/XObject", {})
        for ref in xobjects.values():
            obj = ref.get_object()
            if obj.get("/Subtype") == "/Image":
                filt = obj.get("/Filter")
                filters.append(str(filt if not isinstance(filt, list) else filt[-1]))
    # photo, aligned face, one heatmap (the second model cannot be assessed and has none)
    assert len(filters) == 3
    assert all("DCTDecode" in f for f in filters)


def test_missing_images_and_single_page(tmp_path: Path) -> None:
    result = _result(n_models=1)
    result.photo = None
    result.results[0].aligned_face = None
    pdf = report_bytes(result, ReportOptions(paper="Letter"))
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    width, height = reader.pages[0].mediabox.width, reader.pages[0].mediabox.height
    assert (round(float(width)), round(float(height))) == (612, 792)


def test_many_models_flow_to_second_page() -> None:
    result = _result()
    extra = [
        assessed(
            _card(f"model-{i}"),
            {"unaffected": 0.5, "noonan": 0.3, "williams": 0.2},
            predicted="unaffected",
            syndromic_probability=0.5,
            bundle_sha256=f"{i:064x}",
            flagged=False,
            cam_method="gradcam",
            aligned_face=result.results[0].aligned_face,
            heatmap_aligned=result.results[0].heatmap_aligned,
        )
        for i in range(5)
    ]
    result.results += extra
    pdf = report_bytes(result)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 2
    for page in reader.pages:
        assert f"{4:064x}" in _flat(page.extract_text()).replace(" ", "")
    assert len(pdf) < 500_000


def test_clinic_header_and_logo(tmp_path: Path) -> None:
    from PIL import Image as PILImage

    logo = tmp_path / "logo.png"
    PILImage.fromarray(np.full((80, 200, 4), 120, dtype=np.uint8), "RGBA").save(logo)
    settings = ReportOptions(
        clinic_name="Клиника 東京", clinic_address="1 Main St\nSpringfield", logo_path=logo
    )
    text = _text(report_bytes(_result(), settings))
    assert "Клиника 東京" in text and "Springfield" in text
    assert "Facial screening report" in text
    missing = ReportOptions(logo_path=tmp_path / "nope.png")
    assert report_bytes(_result(), missing).startswith(b"%PDF")


def test_user_text_is_escaped() -> None:
    result = _result(notes="<b>not bold</b> & <font name='x'>raw</font>\x00")
    text = _text(report_bytes(result))
    assert "<b>not bold</b> & <font name='x'>raw</font>" in text


def test_bad_settings_refused() -> None:
    with pytest.raises(UsageError):
        report_bytes(_result(), ReportOptions(paper="A3"))
    with pytest.raises(UsageError):
        report_bytes(_result(), ReportOptions(prevalence=0))
    with pytest.raises(UsageError):
        report_bytes(_result(), ReportOptions(colormap="rainbow"))


def test_render_report_atomic_and_force(tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    result = _result()
    assert render_report(result, out) == out
    first = out.read_bytes()
    assert first.startswith(b"%PDF")
    with pytest.raises(UsageError, match=r"report\.pdf exists; use --force to overwrite"):
        render_report(result, out)
    assert out.read_bytes() == first
    render_report(result, out, settings=ReportOptions(include_photo_name=True), force=True)
    assert PHOTO_LABEL in _text(out.read_bytes())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.pdf"]


def test_render_report_keeps_the_mode_of_a_replaced_report(tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    render_report(_result(n_models=1), out)
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    out.chmod(0o640)
    render_report(_result(n_models=1), out, force=True)
    assert out.stat().st_mode & 0o777 == 0o640


def test_render_report_refuses_a_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a folder"):
        render_report(_result(n_models=1), tmp_path)


def test_options_and_package_import_without_reportlab() -> None:
    code = (
        "import sys, dysmorph_desk.report, dysmorph_desk.report.options, "
        "dysmorph_desk.report.formatting; assert 'reportlab' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_render_report_into_missing_folder(tmp_path: Path) -> None:
    """Like --json and --out-dir, a missing folder is created; a folder as the name is refused."""
    out = render_report(_result(), tmp_path / "new" / "report.pdf")
    assert out.read_bytes().startswith(b"%PDF")
    with pytest.raises(UsageError, match="folder"):
        render_report(_result(), tmp_path / "new")
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["report.pdf"]


def test_minimal_result_and_unusual_text() -> None:
    """Empty fields, no models, no images, and characters neither font has still give a report."""
    result = _result(n_models=1)
    result.results = []
    result.photo = None
    result.quality = []
    result.warnings = []
    result.case = CaseInfo(
        patient_id="", age_months=None, notes="emoji 🙂 arabic مرحبا tab\there\x07"
    )
    pdf = report_bytes(result)
    text = _flat(_text(pdf))
    assert "No model was run." in text
    assert "not stated" in text
    assert "DEMONSTRATION MODEL" not in text
    assert pdf.rstrip().endswith(b"%%EOF")


# -- The answer first, heatmaps that can be read, headings kept with their tables -------------

_SCIENTIFIC = re.compile(r"\d(?:\.\d+)?[eE][-+]\d+")


def _image_sizes_mm(pdf: bytes) -> list[list[tuple[float, float, int]]]:
    """Per page: (printed width, printed height in mm, pixel width) of every raster image drawn,
    from the content stream's transformation matrices."""
    pages = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        xobjects = page["/Resources"].get_object().get("/XObject", {})
        ctm, stack, found = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0], [], []
        for operands, op in page.get_contents().operations:
            if op == b"q":
                stack.append(ctm)
            elif op == b"Q":
                ctm = stack.pop()
            elif op == b"cm":
                a, b, c, d, e, f = (float(x) for x in operands)
                A, B, C, D, E, F = ctm
                ctm = [
                    a * A + b * C,
                    a * B + b * D,
                    c * A + d * C,
                    c * B + d * D,
                    e * A + f * C + E,
                    e * B + f * D + F,
                ]
            elif op == b"Do":
                obj = xobjects[operands[0]].get_object()
                if obj.get("/Subtype") == "/Image":
                    mm_per_pt = 25.4 / 72
                    found.append((ctm[0] * mm_per_pt, ctm[3] * mm_per_pt, int(obj["/Width"])))
        pages.append(found)
    return pages


def _assessed(name: str, synd: float, flagged: bool, like: ModelResult) -> ModelResult:
    rest = 1.0 - synd
    return assessed(
        _card(name),
        {"unaffected": rest, "noonan": synd * 0.75, "williams": synd * 0.25},
        predicted="noonan" if synd > rest else "unaffected",
        syndromic_probability=synd,
        bundle_sha256=SHA_B,
        flagged=flagged,
        cam_method="gradcam",
        cam_target="noonan",
        aligned_face=like.aligned_face,
        heatmap_aligned=like.heatmap_aligned,
    )


def test_summary_box_leads_the_first_page(pdf: bytes) -> None:
    first = _flat(PdfReader(io.BytesIO(pdf)).pages[0].extract_text())
    assert first.index(_flat(DISCLAIMER)) < first.index("Summary") < first.index("Heatmaps")
    assert (
        "Only demo-resnet can assess this photo: flagged for clinical review (1 cannot assess)."
        in first
    )
    assert "FLAGGED for clinical review syndromic probability 80.0% (threshold 50.0%)" in first
    assert "second-model cannot assess face turned too far (yaw 41°)" in first
    assert "Photo (screened face boxed)" in first


def test_models_that_disagree_are_said_to_disagree() -> None:
    result = _result(n_models=1)
    result.results.append(_assessed("calm-model", 0.1, False, result.results[0]))
    text = _flat(_text(report_bytes(result)))
    assert "Models disagree — review the heatmaps and the photo." in text
    agree = _result(n_models=1)
    agree.results.append(_assessed("calm-model", 0.9, True, agree.results[0]))
    assert "The 2 models agree: flagged for clinical review." in _flat(_text(report_bytes(agree)))


def test_heatmaps_at_least_6_cm_with_colour_bar_and_class(pdf: bytes) -> None:
    sizes = [s for page in _image_sizes_mm(pdf) for s in page]
    faces = [(w, h) for w, h, px in sizes if px == 112]  # the aligned face and its heatmap
    assert len(faces) == 2 and all(w >= 60 and h >= 60 for w, h in faces), sizes
    flat = _flat(_text(pdf))
    assert "less ↔ more influence" in flat  # the colour bar's label
    assert "Where demo-resnet looked for Noonan syndrome" in flat  # the map's class
    assert "viridis colour scale" in flat  # the colour-blind-safe default
    jet = _flat(_text(report_bytes(_result(), ReportOptions(colormap="jet"))))
    assert "jet colour scale" in jet and "less ↔ more influence" in jet


def test_three_models_one_heatmap_row_each() -> None:
    result = _result(n_models=1)
    for name in ("model-b", "model-c"):
        result.results.append(_assessed(name, 0.3, False, result.results[0]))
    pdf = report_bytes(result)
    sizes = [s for page in _image_sizes_mm(pdf) for s in page if s[2] == 112]
    assert len(sizes) == 6 and min(w for w, _, _ in sizes) >= 60  # aligned face + map, x 3
    text = _flat(_text(pdf))
    assert text.count("less ↔ more influence") == 3
    assert "The 3 models agree" not in text and "Models disagree" in text
    first = _flat(PdfReader(io.BytesIO(pdf)).pages[0].extract_text())
    for name in ("demo-resnet", "model-b", "model-c"):  # every model's line on page 1
        assert f"{name} " in first.split("Photo (screened face boxed)")[0]


def test_no_scientific_notation_anywhere() -> None:
    result = _result()
    tiny = result.results[0]
    tiny.probabilities = {"unaffected": 1 - 1.3e-7, "noonan": 1.2e-7, "williams": 1e-8}
    tiny.syndromic_probability, tiny.predicted, tiny.flagged = 1.3e-7, "unaffected", False
    text = _text(report_bytes(result))
    hits = _SCIENTIFIC.findall(text.replace(" ", ""))
    assert not hits, hits


def test_quality_heading_stays_with_its_table() -> None:
    """Whatever precedes it, "Photo quality checks" never ends a page without its table."""
    for extra in range(0, 12):
        result = _result()
        for i in range(extra):
            result.results.append(unassessed(_card(f"unassessed-{i}"), "face turned too far"))
        for page in PdfReader(io.BytesIO(report_bytes(result))).pages:
            text = page.extract_text()
            if "Photo quality checks" in text:
                assert "face size" in text.split("Photo quality checks", 1)[1], extra


def test_quality_and_heatmap_headings_are_kept_together() -> None:
    from reportlab.platypus import KeepTogether, Paragraph

    from dysmorph_desk.report.sections import images_block, quality_table
    from dysmorph_desk.report.style import MARGIN, paragraph_styles

    st = paragraph_styles()
    width = PAPERS["A4"][0] - 2 * MARGIN
    result = _result()
    [kept] = [f for f in quality_table(result, st, width) if isinstance(f, KeepTogether)]
    heading = kept._content[0]
    assert isinstance(heading, Paragraph) and heading.getPlainText() == "Photo quality checks"
    assert st["h2"].keepWithNext  # every section heading moves on with what it heads
    blocks = images_block(result, ReportOptions().validated(), st, width)
    [first_row] = [f for f in blocks if isinstance(f, KeepTogether)]
    assert first_row._content[0].getPlainText() == "Heatmaps"
