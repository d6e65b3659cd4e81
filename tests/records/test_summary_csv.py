"""The batch summary CSV: a row per photo per model, refused photos included, formulas defused."""

from __future__ import annotations

import csv
import io

import pytest

from dysmorph_desk.errors import UsageError
from dysmorph_desk.records.summary_csv import (
    COLUMNS,
    csv_bytes,
    guard_cell,
    summary_csv_bytes,
    summary_rows,
    write_summary_csv,
)
from dysmorph_desk.screening.results import CaseInfo, ScreeningResult
from tests.fakes import SHA_A, screening_result, two_results


def _result(seed: int, probability: float, label: str | None = None) -> ScreeningResult:
    return screening_result(
        two_results(probability),
        photo_sha256=f"{seed:02x}" * 32,
        box=(0.0, 0.0, 10.0, 10.0),
        score=0.9,
        quality=[],
        case=CaseInfo(patient_id="P-SECRET-7", operator="Dr Ana Operator"),
        photo_label=label,
        created=None,
    )


def _batch():
    return [
        (1, _result(1, 0.8123456789), None),
        (2, None, "no face found"),
        (3, _result(3, 0.1, label='=HYPERLINK("http://x","click").jpg'), None),
        (4, None, "-cmd|' /C calc'!A0"),
    ]


def _parse(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_rows_for_a_mixed_batch():
    rows = summary_rows(_batch())
    assert [(r["photo"], r["model"], r["status"]) for r in rows] == [
        ("1", "demo-resnet", "screened"),
        ("1", "second-model", "not assessable"),
        ("2", "", "refused"),
        ("3", "demo-resnet", "screened"),
        ("3", "second-model", "not assessable"),
        ("4", "", "refused"),
    ]
    assert all(tuple(r) == COLUMNS for r in rows)
    first, absent, refused = rows[0], rows[1], rows[2]
    assert first["photo_sha256"] == "01" * 32 and first["photo_name"] == ""
    assert first["bundle_sha256"] == SHA_A and first["model_status"] == "demonstration"
    assert first["syndromic_probability"] == "0.812346"  # the JSON's rounded value
    assert first["threshold"] == "0.5" and first["flagged"] == "yes"
    assert first["assessable"] == "yes" and first["predicted"] == "Noonan syndrome"
    assert first["reason"] == ""
    assert absent["assessable"] == "no" and absent["syndromic_probability"] == ""
    assert absent["flagged"] == "" and absent["reason"] == "face turned too far (yaw 41°)"
    assert absent["model_status"] == "research"
    assert refused["reason"] == "no face found" and refused["photo_sha256"] == ""
    assert rows[3]["flagged"] == "no" and rows[3]["predicted"] == "Unaffected"
    # the file name only where the result carries one (the user asked for names)
    assert rows[3]["photo_name"].startswith("=HYPERLINK")


def test_written_csv_has_header_rows_and_no_patient_data(tmp_path):
    out = write_summary_csv(tmp_path / "summary.csv", summary_rows(_batch()))
    data = out.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")  # UTF-8 without BOM
    assert data.splitlines()[0].decode() == ",".join(COLUMNS)
    parsed = _parse(data)
    assert len(parsed) == 6
    assert parsed[1]["reason"] == "face turned too far (yaw 41°)"
    text = data.decode("utf-8")
    assert "P-SECRET-7" not in text and "Operator" not in text
    with pytest.raises(UsageError):
        write_summary_csv(out, [])
    write_summary_csv(out, [], force=True)
    assert _parse(out.read_bytes()) == []
    assert out.read_bytes().decode().strip() == ",".join(COLUMNS)


def test_formula_cells_are_defused():
    parsed = _parse(csv_bytes(summary_rows(_batch())))
    assert parsed[3]["photo_name"] == '\'=HYPERLINK("http://x","click").jpg'
    assert parsed[5]["reason"] == "'-cmd|' /C calc'!A0"
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert guard_cell(start + "1+1") == "'" + start + "1+1"
    for safe in ("0.5", "plain", "", "a=b", "'quoted"):
        assert guard_cell(safe) == safe
    # no cell of the file starts a formula
    for row in parsed:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_one_step_bytes_equal_the_written_file(tmp_path):
    out = write_summary_csv(tmp_path / "s.csv", summary_rows(_batch()))
    assert summary_csv_bytes(_batch()) == out.read_bytes()


def test_unknown_column_is_refused():
    with pytest.raises(ValueError):
        csv_bytes([{"photo": "1", "patient_id": "x"}])


def test_result_without_models_and_refusal_without_reason():
    empty = _result(5, 0.5)
    empty.results = []
    rows = summary_rows([(1, empty, None), (2, None, None)])
    assert [(r["status"], r["reason"]) for r in rows] == [
        ("not assessable", "no model results"),
        ("refused", "refused"),
    ]


def test_export_modules_import_neither_qt_nor_torch():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import dysmorph_desk.records.fhir, dysmorph_desk.records.dicom, "
        "dysmorph_desk.records.summary_csv\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'PySide6', 'shiboken6', 'torch', 'torchvision', 'fhir', 'pydantic'})\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
