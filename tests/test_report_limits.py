"""The report at the text limits: the longest fields allowed render, wrap inside their cells, and
text over the limits (or with control characters) never reaches the JSON or the PDF."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from pypdf import PdfReader
from reportlab.platypus import Flowable, Paragraph, Table

from dysmorph_desk.report.options import ReportOptions
from dysmorph_desk.report.render import report_bytes
from dysmorph_desk.report.sections import closing, header
from dysmorph_desk.report.style import MARGIN, PAPERS, paragraph_styles
from dysmorph_desk.screening.results import CaseInfo, ScreeningResult
from dysmorph_desk.utils.inputs import (
    CLINIC_ADDRESS_MAX,
    CLINIC_MAX,
    NOTES_MAX,
    OPERATOR_MAX,
    PATIENT_ID_MAX,
    TextTooLong,
)
from tests.fakes import assessed, card, screening_result


def _result(case: CaseInfo, label: str | None = None) -> ScreeningResult:
    rng = np.random.default_rng(0)
    model = assessed(
        card(),
        {"unaffected": 0.3, "noonan": 0.7},
        predicted="noonan",
        syndromic_probability=0.7,
        bundle_sha256="cd" * 32,
        aligned_face=rng.integers(0, 256, (112, 112, 3), dtype=np.uint8),
    )
    photo = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    return screening_result([model], case=case, photo=photo, photo_label=label)


def _flat(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", "", "".join(page.extract_text() or "" for page in reader.pages))


def _paragraphs(flow: Flowable, width: float):
    """Every Paragraph in ``flow`` with the width it is laid out in (table cells: column less
    the default padding)."""
    if isinstance(flow, Paragraph):
        yield flow, width
    elif isinstance(flow, Table):
        for row in flow._cellvalues:
            for col_width, cell in zip(flow._colWidths, row, strict=True):
                for item in cell if isinstance(cell, list) else [cell]:
                    yield from _paragraphs(item, col_width - 8)
    else:
        for item in getattr(flow, "_content", []):  # KeepTogether
            yield from _paragraphs(item, width)


def _least_slack(p: Paragraph, width: float) -> float:
    """Smallest (width - line width) over the wrapped lines: negative means text overflows."""
    p.wrap(width, 1e6)
    lines = p.blPara.lines
    return min((ln[0] if isinstance(ln, tuple) else ln.extraSpace for ln in lines), default=width)


LONGEST = {
    "latin": ("W" * PATIENT_ID_MAX, "W" * OPERATOR_MAX, "W" * CLINIC_MAX, "W" * NOTES_MAX),
    "cjk": ("王" * PATIENT_ID_MAX, "東" * OPERATOR_MAX, "東" * CLINIC_MAX, "中" * NOTES_MAX),
    "lines": ("P" * PATIENT_ID_MAX, "m" * OPERATOR_MAX, "C" * CLINIC_MAX, "x\n" * 2000),
}


@pytest.mark.parametrize("script", sorted(LONGEST))
def test_longest_fields_render_and_wrap_inside_their_cells(script):
    patient, operator, clinic, notes = LONGEST[script]
    case = CaseInfo(patient_id=patient, operator=operator, notes=notes, age_months=30, sex="male")
    address = "\n".join(["Line"] * (CLINIC_ADDRESS_MAX // 5))  # 51 short lines
    options = ReportOptions(clinic_name=clinic, clinic_address=address, include_photo_name=True)
    result = _result(case, label="F" * 255)

    pdf = report_bytes(result, options)  # no LayoutError
    assert pdf.startswith(b"%PDF")
    text = _flat(pdf)
    assert patient in text and operator in text and clinic in text

    st = paragraph_styles()
    width = PAPERS["A4"][0] - 2 * MARGIN
    flows = header(result, options.validated(), st, width) + closing(result, st, width)
    checked = 0
    for flow in flows:
        for p, w in _paragraphs(flow, width):
            assert _least_slack(p, w) >= -0.01, p.getPlainText()[:40]
            checked += 1
    assert checked > 10


def test_case_text_is_cleaned_before_the_json_and_the_pdf():
    case = CaseInfo(
        patient_id="  P-01\x1b[2J\u202e\r\n",
        operator=b"Ren\xc3\xa9e \xff".decode("utf-8", "surrogateescape"),
        notes="line one\r\nline two\x00\x07\n",
    )
    assert case.patient_id == "P-01[2J"
    assert case.operator == "Renée \ufffd"
    assert case.notes == "line one\nline two"
    data = _result(case).to_json()
    assert data["case"]["patient_id"] == "P-01[2J"
    assert "P-01[2J" in _flat(report_bytes(_result(case)))


@pytest.mark.parametrize(
    ("field", "limit", "name"),
    [
        ("patient_id", PATIENT_ID_MAX, "patient ID"),
        ("operator", OPERATOR_MAX, "operator"),
        ("notes", NOTES_MAX, "notes"),
    ],
)
def test_case_text_over_its_limit_is_refused(field, limit, name):
    with pytest.raises(TextTooLong, match=f"^{name} is longer than {limit} characters$") as err:
        CaseInfo(**{field: "x" * (limit + 1)})
    assert err.value.exit_code == 2 and isinstance(err.value, ValueError)


def test_clinic_text_cleaned_and_bounded():
    options = ReportOptions(clinic_name=" Clinic\x1b[1m\n", clinic_address="1 Main St\r\nTown\x00")
    cleaned = options.validated()
    assert (cleaned.clinic_name, cleaned.clinic_address) == ("Clinic[1m", "1 Main St\nTown")
    with pytest.raises(TextTooLong, match=r"^clinic name is longer than 128 characters$"):
        ReportOptions(clinic_name="x" * 129).validated()
    with pytest.raises(TextTooLong, match=r"^clinic address is longer than 256 characters$"):
        report_bytes(_result(CaseInfo()), ReportOptions(clinic_address="x" * 257))


def test_address_of_many_lines_is_folded_into_the_header():
    lines = [chr(ord("A") + i % 26) for i in range(128)]  # 255 characters: within the limit
    options = ReportOptions(clinic_address="\n".join(lines))
    assert len(options.validated().clinic_address) <= CLINIC_ADDRESS_MAX
    text = _flat(report_bytes(_result(CaseInfo()), options))  # unfolded: a LayoutError
    assert "ABCD,E,F,G" in text and "V,W,X" in text
