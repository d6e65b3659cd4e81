"""Help menu: the user guide (F1) in a local-only browser, context "?" links, keyboard shortcuts
generated from the window's actions, About with version and models, searchable licences."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QImage, QKeySequence

from dysmorph_desk import userguide
from dysmorph_desk.gui.about_dialogs import ShortcutsDialog, shortcut_rows
from dysmorph_desk.gui.actions import show_help_dialog

PAGES = {
    "index": "<h1>Contents</h1><a href='heatmaps.html'>Heatmaps</a> "
    "<a href='https://example.org/'>web</a> <a href='mailto:a@b.c'>mail</a> "
    "<a href='../outside.html'>outside</a> <a href='#top'>top</a>",
    "heatmaps": "<h1>Heatmaps</h1><img src='pic.png'><img src='../outside.png'>"
    "<a href='index.html'>back</a>",
    "models": "<h1>Models</h1>",
}


@pytest.fixture
def guide(tmp_path, monkeypatch) -> Path:
    """A stand-in guide: three pages, an image, and files outside its folder to refuse."""
    root = tmp_path / "guide"
    root.mkdir()
    for name, body in PAGES.items():
        (root / f"{name}.html").write_text(f"<html><body>{body}</body></html>", encoding="utf-8")
    QImage(4, 4, QImage.Format.Format_RGB32).save(str(root / "pic.png"))
    (tmp_path / "outside.html").write_text("<h1>Not the guide</h1>")
    QImage(4, 4, QImage.Format.Format_RGB32).save(str(tmp_path / "outside.png"))

    def guide_page(name: str = "index") -> Path:
        path = root / f"{name}.html"
        if not path.is_file():
            raise userguide.GuideNotFound(f"no user guide page {name!r}")
        return path

    monkeypatch.setattr(userguide, "guide_page", guide_page)
    return root


def _page(win) -> str:
    return win.guide.current_file().name


def test_f1_opens_the_guide_and_links_stay_inside_it(qtbot, window, guide):
    window.actions_.guide.trigger()
    g = window.guide
    assert g is not None and g.isVisible() and _page(window) == "index.html"
    assert "Contents" in g.browser.toPlainText()
    g.browser.anchorClicked.emit(QUrl("heatmaps.html"))  # a click on a link between pages
    assert _page(window) == "heatmaps.html" and "Heatmaps" in g.browser.toPlainText()
    assert any("outside.png" in url for url in g.browser.refused)  # image outside the guide
    assert not any("pic.png" in url for url in g.browser.refused)  # its own image loads
    assert g.back.isEnabled()
    g.back.trigger()
    assert _page(window) == "index.html" and g.forward.isEnabled()
    g.forward.trigger()
    assert _page(window) == "heatmaps.html"
    g.home_action.trigger()
    assert _page(window) == "index.html"
    for link in ("https://example.org/", "mailto:a@b.c", "../outside.html", "file:///etc/passwd"):
        g.browser.anchorClicked.emit(QUrl(link))
        assert _page(window) == "index.html", link  # not followed
        assert g.notice.isVisible() and "Not opened" in g.notice.text(), link
    assert "Not the guide" not in g.browser.toPlainText()
    g.browser.anchorClicked.emit(QUrl("#top"))  # an anchor on the page: fine
    assert _page(window) == "index.html"
    assert not g.browser.openExternalLinks() and not g.browser.openLinks()


def test_context_links_open_their_page(qtbot, window, guide):
    window.heatmap.help.linkActivated.emit("guide:heatmaps")
    assert _page(window) == "heatmaps.html"
    first = window.guide
    window.compare.findChild(type(window.heatmap.help)).linkActivated.emit("guide:heatmaps")
    assert window.guide is first  # one guide window, reused
    manager = window.open_model_manager()
    links = {w.property("guide_page"): w for w in manager.findChildren(type(window.heatmap.help))}
    links.pop(None)  # the plain labels
    assert set(links) == {"models", "statuses"}
    links["models"].linkActivated.emit("guide:models")
    assert _page(window) == "models.html"
    window.banner.linkActivated.emit("statuses")  # the demonstration banner's link
    assert "page 'statuses'" in window.guide.notice.text()  # this stand-in guide lacks it
    window.open_guide("no-such-page")  # falls back to the contents, saying so
    notice = window.guide.notice.text()
    assert _page(window) == "index.html" and "No user guide page 'no-such-page'" in notice


def test_a_missing_guide_is_said_not_raised(qtbot, window, monkeypatch):
    def not_built(name: str = "index") -> Path:
        raise userguide.GuideNotFound("the user guide is not installed (no index.html)")

    monkeypatch.setattr(userguide, "guide_page", not_built)
    window.actions_.guide.trigger()
    assert window.guide is None
    title, message = window.dialogs.infos[-1]
    assert (title, message) == ("User guide", "The user guide is not installed (no index.html).")


def test_every_page_of_the_shipped_guide_opens_offline(qtbot, window):
    """The real guide: each page shows, and nothing it loads comes from outside its folder."""
    try:
        pages = userguide.guide_pages()
    except userguide.GuideNotFound as exc:
        pytest.skip(f"the guide is not built here: {exc}")
    assert {"index", "photos", "results", "heatmaps", "statuses", "privacy", "models"} <= set(pages)
    window.actions_.guide.trigger()
    g = window.guide
    for page in pages:
        window.open_guide(page)
        assert _page(window) == f"{page}.html" and g.browser.toPlainText().strip(), page
        assert not g.notice.isVisible(), page
    assert g.browser.refused == []


def test_shortcuts_are_generated_from_the_actions(qtbot, window):
    rows = shortcut_rows(window)
    assert ("Help", "User guide", "F1") in rows and ("File", "Open photo", "Ctrl+O") in rows
    assert any(r[0] == "File ▸ Export" and r[2] == "Ctrl+E" for r in rows)  # a submenu
    assert ("In the Camera tab", "Refresh", "F5") in rows
    native = QKeySequence.SequenceFormat.NativeText
    listed = {keys for _s, _t, keys in rows}
    for act in window.findChildren(QAction):  # every window shortcut is listed
        if not act.shortcut().isEmpty() and act.parent().window() is window:
            assert act.shortcut().toString(native) in listed, act.text()
    extra = QAction("&Frobnicate", window)  # a new action shows without editing any list
    extra.setShortcut(QKeySequence("Ctrl+Shift+J"))
    window.menuBar().actions()[0].menu().addAction(extra)
    dialog = show_help_dialog(window, "shortcuts")
    assert isinstance(dialog, ShortcutsDialog)
    assert ("File", "Frobnicate", "Ctrl+Shift+J") in dialog.rows
    texts = [
        dialog.tree.topLevelItem(i).child(j).text(0)
        for i in range(dialog.tree.topLevelItemCount())
        for j in range(dialog.tree.topLevelItem(i).childCount())
    ]
    assert "Frobnicate" in texts and "User guide" in texts


def test_about_and_licences(qtbot, window):
    from dysmorph_desk import __version__

    about = show_help_dialog(window, "about")
    text = about.text.toPlainText()
    assert f"DysmorphDesk {__version__}" in text and "Python" in text
    assert "not a diagnosis" in text
    assert "test-hybrid — demonstration model — not for clinical use (user)" in text
    licences = about.show_licences()
    assert licences.view.isReadOnly() and "Third-party" in licences.view.toPlainText()
    licences.search.setText("licen")
    assert licences.find_next() and licences.view.textCursor().selectedText().lower() == "licen"
    licences.search.setText("no such words anywhere 0x7f")
    assert not licences.find_next() and licences.found.text() == "not found"


def test_a_models_card_links_to_its_guide_page(qtbot, window, guide):
    from dysmorph_desk.gui.model_manager import guide_page_of

    manager = window.open_model_manager()
    info = next(i for i in manager.infos if i.name == "test-hybrid")
    assert guide_page_of(info) is None  # no page about it: no link
    (guide / "model-test-hybrid.html").write_text("<h1>test-hybrid</h1>")
    assert guide_page_of(info) == "model-test-hybrid"
    manager.table.selectRow(manager.infos.index(info))
    card = manager.view_card()
    [link] = [w for w in card.findChildren(type(window.heatmap.help)) if w.property("guide_page")]
    link.linkActivated.emit("guide:model-test-hybrid")
    assert _page(window) == "model-test-hybrid.html"
