"""The Differential panel against a fake engine that records requests and answers when told:
search-as-you-type, the chosen terms, the ranked table (no patient ids), the gallery chooser and
its remembered path, and a differential that is only ever given out for the results it ranked."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt

from dysmorph_desk.differential.service import build_differential
from dysmorph_desk.engine import protocol as p
from dysmorph_desk.engine.differential import ranking_key
from dysmorph_desk.gallery.model import NoMatchThreshold
from dysmorph_desk.gui.differential_panel import DifferentialPanel
from dysmorph_desk.gui.differential_view import LOCAL_MARK
from dysmorph_desk.gui.engine import EngineBase
from dysmorph_desk.gui.hpo_entry import DEBOUNCE_MS
from tests.fakes import bare_result, model_result
from tests.gallery.helpers import SHA, FakeBundle, random_gallery, unit_rows

HYPERTELORISM = p.TermHit("HP:0000316", "Hypertelorism", "Wide-set eyes", True)


class FakeEngine(EngineBase):
    """Records what the panel sends; the test answers with :meth:`answer`."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[p.Envelope] = []
        self.cancelled: list[int] = []

    def start(self) -> None:
        self._set_state("ready")

    def shutdown(self) -> None:
        self._set_state("stopped")

    def _send(self, env: p.Envelope) -> None:
        if isinstance(env.body, p.Cancel):
            self.cancelled.append(env.body.req_id)
        else:
            self.sent.append(env)

    def of(self, kind: type) -> list[p.Envelope]:
        return [e for e in self.sent if isinstance(e.body, kind)]

    def answer(self, env: p.Envelope, value=None, error: str = "", kind: str = "") -> None:
        self._dispatch(p.Reply(env.req_id, not error, value, error, kind))


def _result(vector: np.ndarray, photo: str = "a"):
    m = dataclasses.replace(
        model_result("unit-model"), bundle_sha256=SHA, embedding=np.asarray(vector, np.float32)
    )
    return bare_result(m, sha=photo)


class Case:
    """The case's screened results, as ``CaseFlow.session.results()`` gives them."""

    def __init__(self) -> None:
        self.results: list = []

    def __call__(self) -> list:
        return list(self.results)


@pytest.fixture
def state(tmp_path):
    path = str(tmp_path / "window.ini")
    return lambda: QSettings(path, QSettings.Format.IniFormat)


@pytest.fixture
def panel(qtbot, dialogs, state):
    engine = FakeEngine()
    engine.start()
    case = Case()
    w = DifferentialPanel(engine, dialogs, case, state)
    qtbot.addWidget(w)
    w.resize(900, 700)
    w.show()
    w.engine_, w.case_ = engine, case  # for the tests
    return w


def _type(qtbot, panel, text: str) -> p.Envelope:
    qtbot.keyClicks(panel.entry.edit, text)
    engine = panel.engine_
    assert not engine.of(p.HpoSearch)  # nothing sent while typing
    qtbot.waitUntil(lambda: bool(engine.of(p.HpoSearch)), timeout=5 * DEBOUNCE_MS + 2000)
    [search] = engine.of(p.HpoSearch)  # one search for the whole word (debounced)
    engine.sent.clear()
    return search


def _add_term(qtbot, panel, text: str = "wide-set", hit: p.TermHit = HYPERTELORISM) -> None:
    search = _type(qtbot, panel, text)
    panel.engine_.answer(search, p.HpoHits(text, [hit]))
    qtbot.keyClick(panel.entry.edit, Qt.Key.Key_Return)


def test_search_as_you_type_shows_hits_and_enter_adds_the_term(qtbot, panel):
    search = _type(qtbot, panel, "wide-set")
    assert search.body.text == "wide-set" and search.body.limit == 20
    entry = panel.entry
    other = p.TermHit("HP:0000601", "Hypotelorism", "Hypotelorism", False)
    panel.engine_.answer(search, p.HpoHits("wide-set", [HYPERTELORISM, other]))
    assert entry.suggestions.isVisible() and entry.suggestions.count() == 2
    assert (
        entry.suggestions.item(0).text() == "Hypertelorism  (HP:0000316) — matched “Wide-set eyes”"
    )
    assert entry.suggestions.item(1).text() == "Hypotelorism  (HP:0000601)"
    qtbot.keyClick(entry.edit, Qt.Key.Key_Return)
    assert entry.term_ids() == ["HP:0000316"]
    assert entry.terms.item(0).text() == "HP:0000316  Hypertelorism"
    assert entry.edit.text() == "" and not entry.suggestions.isVisible()
    # late hits for text no longer in the box are dropped; the same term is not added twice
    entry.show_hits("wide-set", [other])
    assert entry.suggestions.count() == 0
    assert not entry.add_term("HP:0000316", "Hypertelorism") and "already" in entry.hint.text()


def test_a_newer_keystroke_cancels_the_pending_search_and_errors_are_said(qtbot, panel):
    first = _type(qtbot, panel, "eye")
    _type(qtbot, panel, "s")  # "eyes": the first search is cancelled, its answer ignored
    assert first.req_id in panel.engine_.cancelled
    panel.engine_.answer(first, p.HpoHits("eye", [HYPERTELORISM]))
    assert panel.entry.suggestions.count() == 0
    panel.entry.edit.clear()
    bad = _type(qtbot, panel, "--")
    panel.engine_.answer(
        bad, error="the search text is empty; type part of a name", kind="UsageError"
    )
    assert panel.entry.hint.text().startswith("The search text is empty")


def test_keys_move_into_the_suggestions_and_delete_removes_a_term(qtbot, panel):
    search = _type(qtbot, panel, "hyper")
    other = p.TermHit("HP:0000520", "Proptosis", "Proptosis", False)
    panel.engine_.answer(search, p.HpoHits("hyper", [HYPERTELORISM, other]))
    entry = panel.entry
    qtbot.keyClick(entry.edit, Qt.Key.Key_Down)
    assert entry.suggestions.hasFocus()
    entry.suggestions.setCurrentRow(1)
    qtbot.keyClick(entry.suggestions, Qt.Key.Key_Return)
    assert entry.term_ids() == ["HP:0000520"]
    entry.terms.setCurrentRow(0)
    qtbot.keyClick(entry.terms, Qt.Key.Key_Delete)
    assert entry.term_ids() == []


def test_ranking_fills_the_table_without_patient_ids(qtbot, panel):
    engine, case = panel.engine_, panel.case_
    assert not panel.rank_button.isEnabled() and "Screen a photo" in panel.view.message.text()
    g = random_gallery(1)
    v = g.sets[SHA].vector_of(
        next(n for n, e in g.entries.items() if e.disorder_id == "LOCAL:fam-4")
    )
    case.results = [_result(v)]
    panel.refresh()
    assert not engine.of(p.Differential)  # nothing ranked until asked for
    _add_term(qtbot, panel)  # entering terms asks for this case's differential
    [req] = engine.of(p.Differential)
    assert req.body.hpo_terms == ["HP:0000316"] and req.body.gallery is None
    assert req.body.results[0].photo is None and panel.ranking
    assert "Ranking for 1 photo" in panel.view.message.text()
    diff = build_differential(
        case.results, gallery=g, bundles=[FakeBundle()], hpo_terms=["HP:0000316"]
    )
    with qtbot.waitSignal(panel.ranked):
        engine.answer(req, p.DifferentialReady(diff, ranking_key(case.results), None))
    cells = panel.view.cell_texts()
    assert len(cells) == len(diff.rows) == 10
    assert cells[0][0] == "1" and [c[0] for c in cells] == [str(i) for i in range(1, 11)]
    local = next(c for c in cells if "LOCAL:fam-4" in c[1])
    assert local[1] == f"Disorder 4 (LOCAL:fam-4) — {LOCAL_MARK}" and local[2] == "0.000"
    assert local[3].startswith("#") and "(0.000)" in local[3] and local[4] == "–"
    shown = " ".join(" ".join(c) for c in cells)
    labels = " ".join(w.text() for w in (panel.view.context, panel.view.notes, panel.view.message))
    assert "SECRET-" not in shown + labels  # gallery entries by number, never patient ids
    assert "HP:0000316 Hypertelorism" in panel.view.context.text()
    assert "not a diagnosis" in panel.view.disclaimer.text()
    assert not panel.view.banner.isVisible()
    assert panel.current_for(case.results) is diff


def test_no_close_match_banner_states_the_threshold_and_its_rate(qtbot, panel):
    g = random_gallery(2)
    s = g.sets[SHA]
    g.calibrated(SHA, NoMatchThreshold(0.01, 0.05, 1, 40, s.entries_digest(), len(s)))
    far = unit_rows(np.random.default_rng(9), 1, 16)[0]
    results = [_result(far)]
    diff = build_differential(results, gallery=g, bundles=[FakeBundle()])
    assert diff.no_close_match
    panel.case_.results = results
    panel.set_gallery("/clinic/g.ddgallery")
    panel.rank()
    [req] = panel.engine_.of(p.Differential)
    panel.engine_.answer(req, p.DifferentialReady(diff, ranking_key(results), None))
    banner = panel.view.banner
    assert banner.isVisible() and banner.text().startswith("No close match")
    assert "40 unrelated children: 1 matched" in banner.text() and "95% CI" in banner.text()


def test_a_differential_is_only_given_for_the_results_it_was_ranked_from(qtbot, panel):
    engine, case = panel.engine_, panel.case_
    rng = np.random.default_rng(3)
    v, w = unit_rows(rng, 2, 16)
    case.results = [_result(v)]
    _add_term(qtbot, panel)
    [first] = engine.of(p.Differential)
    diff = build_differential(case.results, hpo_terms=["HP:0000316"])
    old = list(case.results)
    engine.answer(first, p.DifferentialReady(diff, ranking_key(old), None))
    assert panel.current_for(old) is diff
    # another photo (or face) on screen: the old differential is dropped and ranked again
    case.results = [_result(w, photo="b")]
    engine.sent.clear()
    panel.refresh()
    assert panel.current_for(case.results) is None and panel.current_for(old) is None
    [second] = engine.of(p.Differential)
    assert second.body.results[0].photo_sha256 == "b" * 64
    # an answer computed for the old photo is never shown for the new one
    engine.answer(second, p.DifferentialReady(diff, ranking_key(old), None))
    assert panel.current_for(case.results) is None
    # a changed term list drops it as well
    case.results = old
    panel.rank()
    [third] = engine.of(p.Differential)[-1:]
    engine.answer(third, p.DifferentialReady(diff, ranking_key(old), None))
    assert panel.current_for(old) is diff
    panel.entry.terms.setCurrentRow(0)
    panel.entry.remove_selected()
    assert panel.current_for(old) is None
    assert not panel.ranking and panel.export_note(old) == ""  # nothing left to rank by
    assert "Choose a gallery, enter HPO terms" in panel.view.message.text()


def test_a_new_case_clears_the_terms_and_the_ranking(qtbot, panel):
    engine, case = panel.engine_, panel.case_
    case.results = [_result(unit_rows(np.random.default_rng(4), 1, 16)[0])]
    _add_term(qtbot, panel)
    [req] = engine.of(p.Differential)
    diff = build_differential(case.results, hpo_terms=["HP:0000316"])
    engine.answer(req, p.DifferentialReady(diff, ranking_key(case.results), None))
    kept = list(case.results)
    panel.set_gallery("/clinic/g.ddgallery")  # the clinic's gallery is not the patient's
    case.results = []
    panel.clear_case()
    assert panel.term_ids() == [] and panel.entry.terms.count() == 0
    assert panel.current_for(kept) is None and panel.view.table.rowCount() == 0
    assert panel.gallery_path == "/clinic/g.ddgallery"
    # the next child's photo is not ranked with anything of the last one
    engine.sent.clear()
    case.results = kept
    panel.refresh()
    assert not engine.of(p.Differential)


def test_gallery_chooser_shows_the_summary_and_is_remembered(qtbot, panel, dialogs, state):
    engine = panel.engine_
    dialogs.gallery_path = "/clinic/demo.ddgallery"
    panel.choose_gallery()
    [info] = engine.of(p.GalleryInfo)
    assert info.body.path == "/clinic/demo.ddgallery"
    assert "Reading demo.ddgallery" in panel.gallery_label.text()
    summary = p.GallerySummary(
        "/clinic/demo.ddgallery",
        "Demo <rare>",
        "demonstration",
        24,
        8,
        1,
        "ab" * 32,
        52_000,
        "unsigned",
        ["demo-hybrid"],
    )
    engine.answer(info, summary)
    text = panel.gallery_label.text()
    assert "Demo &lt;rare&gt;" in text and "24 entries of 8 disorders" in text
    assert "SHA-256 abababababab…" in text and "51 kB" in text and "demo-hybrid" in text
    assert panel.demo_label.isVisible() and "not for clinical use" in panel.demo_label.text()
    assert state().value("differential/gallery") == "/clinic/demo.ddgallery"
    # the next start remembers it, and reads it only when the tab is shown
    again = DifferentialPanel(FakeEngine(), dialogs, Case(), state)
    qtbot.addWidget(again)
    assert again.gallery_path == "/clinic/demo.ddgallery" and not again.engine.of(p.GalleryInfo)
    again.show()
    assert again.engine.of(p.GalleryInfo)
    # a refused gallery is said in one line; "No gallery" forgets it
    panel.set_gallery("/clinic/bad.ddgallery")
    died = engine.of(p.GalleryInfo)[-1]  # the worker died while reading: read it again later
    engine.answer(died, error="the screening engine stopped unexpectedly", kind="EngineDied")
    assert "read when needed" in panel.gallery_label.text()
    panel.hide()
    panel.show()
    bad = engine.of(p.GalleryInfo)[-1]
    assert bad is not died and bad.body.path == "/clinic/bad.ddgallery"
    engine.answer(bad, error="bad.ddgallery: content SHA-256 mismatch", kind="GalleryError")
    assert "content SHA-256 mismatch" in panel.gallery_label.text()
    assert not panel.demo_label.isVisible()
    panel.no_gallery_button.click()
    assert panel.gallery_path is None and state().value("differential/gallery") is None


def test_the_demo_gallery_button_picks_the_shipped_gallery(qtbot, panel):
    from dysmorph_desk.gallery.links import shipped_galleries

    assert panel.demo_gallery_button.isVisibleTo(panel)
    panel.demo_gallery_button.click()
    assert panel.gallery_path == str(shipped_galleries()["demo-syndromes"])
