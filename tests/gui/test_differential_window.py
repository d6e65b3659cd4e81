"""The Differential tab in the main window with the in-process engine: a real screening ranked
against a gallery written in the test and real HPO terms, exported only with the result it was
ranked for, cleared with the case, and re-ranked for a visit when the clinician says "same
patient"."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dysmorph_desk.gallery.model import Gallery
from dysmorph_desk.gallery.store import write_gallery
from dysmorph_desk.gui.main_window import DIFFERENTIAL_TAB

TIMEOUT = 30_000


def open_and_wait(qtbot, win, path):
    with qtbot.waitSignal(win.result_shown, timeout=TIMEOUT):
        win.open_path(path)
    return win.result


def gallery_near(result, path, seed: int = 0):
    """A gallery of the result's model: one disorder close to the screened face, others random;
    patient ids the tests look for in every output."""
    m = result.results[0]
    v = np.asarray(m.embedding, np.float64)
    rng = np.random.default_rng(seed)
    g = Gallery(title="Test clinic", status="demonstration")
    near = v + 0.05 * rng.normal(size=v.shape) * np.abs(v).mean()
    g.add(
        "OMIM:163950",
        "Noonan syndrome 1",
        "SECRET-0001",
        {m.bundle_sha256: (m.model, near)},
        source="data",
    )
    for i in range(6):
        other = rng.normal(size=v.shape)
        g.add(
            f"ORPHA:{500 + i}",
            f"Disorder {i}",
            f"SECRET-{i + 2:04d}",
            {m.bundle_sha256: (m.model, other)},
            source="data",
        )
    write_gallery(g, path)
    return g


def export_json(qtbot, win, path) -> dict:
    win.dialogs.save_path = str(path)
    with qtbot.waitSignal(win.flow.exported, timeout=TIMEOUT):
        win.flow.export("json")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def ranked(qtbot, window, portraits, tmp_path):
    """Grace Hopper screened, the gallery chosen and Hypertelorism entered: ranked."""
    result = open_and_wait(qtbot, window, portraits["grace_hopper"])
    assert result.results[0].embedding is not None
    gallery = tmp_path / "clinic.ddgallery"
    gallery_near(result, gallery)
    panel = window.differential
    window.tabs.setCurrentIndex(DIFFERENTIAL_TAB)
    window.dialogs.gallery_path = str(gallery)
    panel.choose_gallery()
    qtbot.waitUntil(lambda: "Test clinic" in panel.gallery_label.text(), timeout=TIMEOUT)
    with qtbot.waitSignal(panel.ranked, timeout=TIMEOUT):
        panel.entry.add_term("HP:0000316", "Hypertelorism")
    return window


def test_the_export_carries_the_differential_ranked_for_this_photo(qtbot, ranked, tmp_path):
    panel = ranked.differential
    assert panel.demo_label.isVisible() and "7 entries of 7 disorders" in panel.gallery_label.text()
    cells = panel.view.cell_texts()
    assert cells[0][1] == "Noonan syndrome 1 (OMIM:163950)" and cells[0][3].startswith("#1 (")
    doc = export_json(qtbot, ranked, tmp_path / "case.json")
    rows = doc["differential"]
    assert rows[0]["disorder_id"] == "OMIM:163950" and rows[0]["rank"] == 1
    assert {"gestalt_distance", "phenotype_score", "combined_score"} <= set(rows[0])
    context = doc["differential_context"]
    assert context["hpo_terms"] == [{"id": "HP:0000316", "label": "Hypertelorism"}]
    assert context["gallery"]["entries"] == 7 and context["gallery"]["status"] == "demonstration"
    assert "SECRET-" not in json.dumps(doc)
    from pypdf import PdfReader

    pdf = tmp_path / "case.pdf"
    ranked.dialogs.save_path = str(pdf)
    with qtbot.waitSignal(ranked.flow.exported, timeout=TIMEOUT):
        ranked.flow.export("pdf")
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Differential" in text and "Hypertelorism" in text and "SECRET-" not in text


def test_while_ranking_the_export_waits_and_a_stale_one_is_never_exported(qtbot, ranked, tmp_path):
    panel = ranked.differential
    panel.entry.add_term("HP:0000494", "Downslanted palpebral fissures")  # ranks again
    assert panel.ranking
    ranked.flow.export("json")
    assert ranked.dialogs.infos[-1][1].startswith("The differential is being ranked")
    qtbot.waitUntil(lambda: not panel.ranking, timeout=TIMEOUT)
    doc = export_json(qtbot, ranked, tmp_path / "two-terms.json")
    assert [t["id"] for t in doc["differential_context"]["hpo_terms"]] == [
        "HP:0000316",
        "HP:0000494",
    ]
    # the ranking fails (the gallery is gone): the last differential is not exported any more
    panel.set_gallery(str(tmp_path / "gone.ddgallery"))
    qtbot.waitUntil(lambda: "Cannot rank" in panel.view.message.text(), timeout=TIMEOUT)
    assert "not found" in panel.view.message.text()
    doc = export_json(qtbot, ranked, tmp_path / "stale.json")
    assert "differential" not in doc
    assert "rank it again" in panel.export_note(ranked.flow.session.results())
    assert "not included" in ranked.statusBar().currentMessage()


def test_a_new_patient_starts_without_the_last_childs_terms(qtbot, ranked, portraits, tmp_path):
    panel = ranked.differential
    ranked.dialogs.answers["photo_with_case"] = "new"  # another child
    open_and_wait(qtbot, ranked, portraits["astronaut"])
    assert panel.term_ids() == [] and panel.view.table.rowCount() == 0
    assert panel.gallery_path is not None  # the clinic's gallery stays
    assert len(ranked.flow.session.photos) == 1
    doc = export_json(qtbot, ranked, tmp_path / "next-child.json")
    assert "differential" not in doc  # nothing was ranked for this child
    assert not panel.ranking


def test_same_patient_ranks_the_visit_again(qtbot, ranked, portraits, tmp_path):
    panel = ranked.differential
    ranked.dialogs.answers["photo_with_case"] = "same"
    with qtbot.waitSignal(panel.ranked, timeout=TIMEOUT) as got:
        open_and_wait(qtbot, ranked, portraits["astronaut"])
    assert got.args[0].photos_used == 2 and panel.term_ids() == ["HP:0000316"]
    doc = export_json(qtbot, ranked, tmp_path / "visit.json")
    assert len(doc["photos"]) == 2 and doc["differential_context"]["photos_used"] == 2
