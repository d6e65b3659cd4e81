"""The app's JSON export states PPV/NPV at the clinic's prevalence (the PDF's), not the default."""

from __future__ import annotations

import json

from dysmorph_desk.gui.exporters import ExportJob, export_bytes
from dysmorph_desk.report.options import ReportOptions
from tests.fakes import model_result, screening_result


def test_the_json_export_uses_the_clinics_prevalence():
    results = [screening_result([model_result()])]
    low = json.loads(export_bytes(ExportJob("json", results, ReportOptions(prevalence=0.002))))
    high = json.loads(export_bytes(ExportJob("json", results, ReportOptions(prevalence=0.2))))
    assert low["photos"][0]["results"][0]["validation"]["prevalence"] == 0.002
    assert high["photos"][0]["results"][0]["validation"]["prevalence"] == 0.2
