"""The Differential tab: candidate disorders for the case on screen, from a clinic gallery (the face)
and the clinician's HPO terms (the phenotype), ranked in the engine process.

* **Gallery**: chosen with a file dialog and remembered in the window state (``window.ini``), so a
  clinic picks it once. It is read and verified in the engine — when the tab is first shown, or at
  the first ranking, never at the app's start — and shown by title, status, size and SHA-256
  prefix, with the demonstration warning when its status says so.
* **HPO terms** (:mod:`.hpo_entry`): search-as-you-type in the engine, debounced.
* **Rank**: ranks the case's screened photos (one photo, or the visit's: their mean embedding).
  Once ranked, a change of terms, gallery, aggregate or photos ranks again by itself.

Patient safety: the terms belong to the case. New case (and re-opening a stored case) clears them
(:meth:`DifferentialPanel.clear_case`); answering "same patient" to a new photo keeps them, and
the visit is ranked again with the new photo. Re-opening a stored visit then puts back the terms
filed with it (:meth:`DifferentialPanel.restore_terms`) without ranking them: the gallery on
screen may not be the one the visit was ranked against, so the clinician presses Rank (the
differential filed with the visit stays in the Cases view, ``cases show`` and the case export).
The terms are details of the case: ``CaseFlow`` reads them (:meth:`DifferentialPanel.terms`) so
New case and Quit ask before they are lost, and Save files them with the visit. A differential is tied to the results it was ranked
from (``engine.differential.ranking_key``: photo hashes, faces, models, embeddings) and to the
inputs on screen; :meth:`DifferentialPanel.current_for` gives it to an export only while both
still match, so a differential of another photo, face or child is never exported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dysmorph_desk.engine import protocol as p
from dysmorph_desk.engine.differential import ranking_copy, ranking_key
from dysmorph_desk.gallery.ranking import DEFAULT_K, DEMO_NOTE
from dysmorph_desk.gui.differential_view import DifferentialTable
from dysmorph_desk.gui.help_window import help_link
from dysmorph_desk.gui.hpo_entry import ID_ROLE, HpoTermEntry, term_text
from dysmorph_desk.screening.results import ScreeningResult

if TYPE_CHECKING:
    from dysmorph_desk.differential.result import DifferentialResult
    from dysmorph_desk.gui.dialogs import Dialogs
    from dysmorph_desk.gui.engine import EngineBase

log = logging.getLogger(__name__)
GALLERY_KEY = "differential/gallery"  # the last gallery chosen, in the window state
AGGREGATES = (
    ("nearest", "nearest patient"),
    ("mean-k", f"mean of the {DEFAULT_K} nearest"),
)
SEARCH_LIMIT = 20
Inputs = tuple[str | None, tuple[str, ...], str]  # gallery, terms, aggregate


def size_text(n: int) -> str:
    if n >= 1024**2:
        return f"{n / 1024**2:.1f} MB"
    return f"{max(1, round(n / 1024))} kB"


def summary_text(s: p.GallerySummary) -> str:
    """A gallery as the panel names it: title, status, counts, size, hash prefix, signature."""
    title = s.title or Path(s.path).name
    local = f", {s.local_disorders} with local ids" if s.local_disorders else ""
    models = ", ".join(s.models) or "none"
    return (
        f"{title} — {s.status}: {s.entries} entries of {s.disorders} disorders{local}, "
        f"{size_text(s.file_bytes)}, SHA-256 {s.sha256[:12]}…, {s.trust}. "
        f"Embeddings of: {models}."
    )


class DifferentialPanel(QWidget):
    """Gallery chooser, HPO terms, Rank, and the ranked table (:mod:`.differential_view`)."""

    ranked = Signal(object)  # the DifferentialResult now on screen

    def __init__(
        self,
        engine: EngineBase,
        dialogs: Dialogs,
        results: Callable[[], list[ScreeningResult]],
        state: Callable[[], QSettings] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setAccessibleName("Differential tab")
        self.engine, self.dialogs = engine, dialogs
        self._results, self._state = results, state
        self._gallery: str | None = None
        self._summary: p.GallerySummary | None = None
        self._gallery_error = ""
        self._info_id: int | None = None
        self._search: tuple[int, str] | None = None  # (request id, text)
        self._rank_id: int | None = None
        self._requested: tuple[Any, Inputs] | None = None  # what the last ranking was asked for
        self._shown: tuple[Any, Inputs, DifferentialResult] | None = None
        self._active = False  # ranked (or terms entered) in this case: follow changes
        self._restored = ""  # where the terms on screen were restored from (not ranked yet)
        self._build()
        engine.replied.connect(self._on_reply)
        remembered = self._settings_value()
        if remembered:
            self._gallery = remembered
        self._show_gallery()
        self.view.show_message(self._idle_text([]))  # the case's results come with ``refresh``
        self.rank_button.setEnabled(False)

    # -- widgets -----------------------------------------------------------------------------------

    def _build(self) -> None:
        self.gallery_label = QLabel("")
        self.gallery_label.setWordWrap(True)
        self.gallery_label.setTextFormat(Qt.TextFormat.RichText)
        self.gallery_label.setAccessibleName("Clinic gallery")
        self.choose_button = QPushButton("Choose gallery…")
        self.choose_button.setToolTip("Choose the clinic gallery (.ddgallery) to rank against")
        self.choose_button.clicked.connect(self.choose_gallery)
        self.no_gallery_button = QPushButton("No gallery")
        self.no_gallery_button.setToolTip("Rank by the HPO terms alone")
        self.no_gallery_button.clicked.connect(lambda: self.set_gallery(None))
        # the galleries shipped with the demo bundles live inside the package, where nobody would
        # find them with a file dialog: one button picks the demonstration gallery
        from dysmorph_desk.gallery.links import shipped_galleries

        shipped = shipped_galleries()
        self.demo_gallery_button = QPushButton("Demo gallery")
        self.demo_gallery_button.setToolTip(
            "The demonstration gallery shipped with the demo models (synthetic children; "
            "not for clinical use)"
        )
        demo_path = next(iter(shipped.values()), None)
        self.demo_gallery_button.setVisible(demo_path is not None)
        if demo_path is not None:
            self.demo_gallery_button.clicked.connect(lambda: self.set_gallery(str(demo_path)))
        self.demo_label = QLabel(f"⚠ {DEMO_NOTE[0].upper()}{DEMO_NOTE[1:]}.")
        self.demo_label.setWordWrap(True)
        self.demo_label.setStyleSheet(
            "QLabel { background: #E65100; color: white; font-weight: bold; padding: 4px; }"
        )
        self.demo_label.setAccessibleName("Demonstration gallery warning")
        self.demo_label.setVisible(False)
        self.entry = HpoTermEntry()
        self.entry.search_requested.connect(self._search_terms)
        self.entry.terms_changed.connect(self._terms_changed)
        self.rank_button = QPushButton("Rank candidates")
        self.rank_button.setToolTip(
            "Rank candidate disorders for the case's screened photo(s); afterwards the ranking "
            "follows changes of terms, gallery and photos"
        )
        self.rank_button.clicked.connect(self.rank)
        self.aggregate_box = QComboBox()
        for key, label in AGGREGATES:
            self.aggregate_box.addItem(label, key)
        self.aggregate_box.setToolTip(
            "How a disorder's distance is taken from its gallery patients"
        )
        self.aggregate_box.currentIndexChanged.connect(lambda _i: self.refresh())
        self.view = DifferentialTable()

        face = QGroupBox("Face: clinic gallery")
        fl = QVBoxLayout(face)
        row = QHBoxLayout()
        row.addWidget(self.gallery_label, 1)
        row.addWidget(self.choose_button)
        row.addWidget(self.demo_gallery_button)
        row.addWidget(self.no_gallery_button)
        fl.addLayout(row)
        fl.addWidget(self.demo_label)
        pheno = QGroupBox("Phenotype: HPO terms of this case")
        QVBoxLayout(pheno).addWidget(self.entry)
        rank_row = QHBoxLayout()
        rank_row.addWidget(self.rank_button)
        rank_row.addWidget(QLabel("Per disorder:"))
        rank_row.addWidget(self.aggregate_box)
        rank_row.addStretch(1)
        self.help = help_link(
            "differential", "How to read the differential", "The user guide's page on this tab"
        )
        rank_row.addWidget(self.help)
        layout = QVBoxLayout(self)
        layout.addWidget(face)
        layout.addWidget(pheno)
        layout.addLayout(rank_row)
        layout.addWidget(self.view, 1)

    # -- the gallery ---------------------------------------------------------------------------------

    @property
    def gallery_path(self) -> str | None:
        return self._gallery

    def choose_gallery(self) -> None:
        folder = str(Path(self._gallery).parent) if self._gallery else ""
        path = self.dialogs.open_gallery(self, folder)
        if path:
            self.set_gallery(path)

    def set_gallery(self, path: str | None) -> None:
        """Use the gallery at ``path`` (None: none), remember it, and read it in the engine."""
        self._gallery = str(path) if path else None
        self._summary, self._gallery_error = None, ""
        if self._info_id is not None:
            self.engine.cancel(self._info_id)
            self._info_id = None
        self._remember()
        if self._gallery:
            self._read_gallery()
        self._show_gallery()
        self.refresh()

    def _read_gallery(self) -> None:
        if self._gallery and self._info_id is None:
            self._info_id = self.engine.submit(p.GalleryInfo(self._gallery))

    def showEvent(self, event: QShowEvent) -> None:
        """The gallery is read when the tab is first shown (never at the app's start)."""
        super().showEvent(event)
        if self._gallery and self._summary is None and not self._gallery_error:
            self._read_gallery()
            self._show_gallery()

    def _show_gallery(self) -> None:
        name = escape(Path(self._gallery).name) if self._gallery else ""
        if not self._gallery:
            text = "No gallery: candidates are ranked by the HPO terms alone."
        elif self._gallery_error:
            text = f"<span style='color:#B71C1C'>⚠ {escape(self._gallery_error)}</span>"
        elif self._summary is not None:
            text = escape(summary_text(self._summary))
        elif self._info_id is not None:
            text = f"Reading {name}…"
        else:
            text = f"{name} (read when needed)"
        self.gallery_label.setText(text)
        self.gallery_label.setToolTip(self._gallery or "")
        demo = self._summary is not None and self._summary.status == "demonstration"
        self.demo_label.setVisible(demo)
        self.no_gallery_button.setEnabled(self._gallery is not None)

    def _settings_value(self) -> str | None:
        if self._state is None:
            return None
        value = self._state().value(GALLERY_KEY)
        return value if isinstance(value, str) and value else None

    def _remember(self) -> None:
        if self._state is None:
            return
        qs = self._state()
        if self._gallery:
            qs.setValue(GALLERY_KEY, self._gallery)
        else:
            qs.remove(GALLERY_KEY)
        qs.sync()

    # -- terms ---------------------------------------------------------------------------------------

    def _search_terms(self, text: str) -> None:
        if self._search is not None:
            self.engine.cancel(self._search[0])
        self._search = (self.engine.submit(p.HpoSearch(text, SEARCH_LIMIT)), text)

    def _terms_changed(self) -> None:
        self._active = True  # entering terms is asking for a differential of this case
        self._restored = ""
        self.refresh()

    def term_ids(self) -> list[str]:
        return self.entry.term_ids()

    def terms(self) -> list[tuple[str, str]]:
        """The chosen terms as (id, label), in the order entered: what Save files."""
        out = []
        for row in range(self.entry.terms.count()):
            item = self.entry.terms.item(row)
            term_id = str(item.data(ID_ROLE))
            prefix = term_text(term_id, "")
            text = item.text()
            out.append((term_id, text[len(prefix) :] if text.startswith(prefix) else ""))
        return out

    def restore_terms(self, terms: Sequence[tuple[str, str]], source: str) -> None:
        """Put back the terms filed with a stored visit (after :meth:`clear_case`), not ranked:
        the clinician ranks them against the gallery on screen with Rank."""
        self.entry.blockSignals(True)  # not "entered now": no ranking starts by itself
        try:
            for term_id, label in terms:
                self.entry.add_term(term_id, label)
        finally:
            self.entry.blockSignals(False)
        self._restored = source if terms else ""
        self.refresh()

    # -- the case ------------------------------------------------------------------------------------

    def clear_case(self) -> None:
        """A new case (New case, a stored case re-opened): its terms and ranking go; the gallery,
        the clinic's, stays."""
        if self._rank_id is not None:
            self.engine.cancel(self._rank_id)
        self._rank_id, self._requested, self._shown, self._active = None, None, None, False
        self._restored = ""
        self.entry.clear_terms()
        self.refresh()

    def current_for(self, results: list[ScreeningResult]) -> DifferentialResult | None:
        """The differential on screen if it was ranked from exactly ``results`` with the gallery,
        terms and aggregate on screen now; otherwise None (never a stale one)."""
        if self._shown is None:
            return None
        key, inputs, diff = self._shown
        if key != ranking_key(results) or inputs != self._inputs():
            return None
        return diff

    def export_note(self, results: list[ScreeningResult]) -> str:
        """Why an export leaves the differential out although this case asked for one ("" if not)."""
        if self._active and self._has_inputs() and self.current_for(results) is None:
            return "the differential is not up to date, so it is not included; rank it again"
        return ""

    @property
    def ranking(self) -> bool:
        """A ranking is being computed."""
        return self._rank_id is not None

    # -- ranking -------------------------------------------------------------------------------------

    def _inputs(self) -> Inputs:
        return (self._gallery, tuple(self.entry.term_ids()), str(self.aggregate_box.currentData()))

    def _has_inputs(self) -> bool:
        return bool(self._gallery or self.entry.term_ids())

    def rank(self) -> None:
        """The Rank button: rank now (again, even for the same inputs, e.g. after an error)."""
        self._active = True
        self._requested = None
        self._shown = None
        self._restored = ""
        self.refresh()

    def refresh(self) -> None:
        """Photos, terms, gallery or aggregate may have changed: drop a differential that no
        longer matches, and rank again when this case asked for one."""
        results = self._results()
        key, inputs = ranking_key(results), self._inputs()
        if self._shown is not None and self._shown[:2] != (key, inputs):
            self._shown = None
        wanted = self._active and bool(results) and self._has_inputs()
        if wanted and self._shown is None and self._requested != (key, inputs):
            self._submit(results, key, inputs)
        if self._shown is None and self._rank_id is None and self._requested != (key, inputs):
            self.view.show_message(self._idle_text(results))
        self.rank_button.setEnabled(bool(results) and self._has_inputs())

    def _idle_text(self, results: list[ScreeningResult]) -> str:
        if not results:
            return (
                "Screen a photo of this child to rank candidate disorders. HPO terms entered "
                "now belong to this case."
            )
        if not self._has_inputs():
            return "Choose a gallery, enter HPO terms, or both; then Rank."
        if self._restored:
            return (
                f"The HPO terms filed with {self._restored} are back. Press Rank to rank them "
                "against the gallery chosen here (the differential filed then is in Cases)."
            )
        return "Press Rank to rank candidate disorders for this case."

    def _submit(self, results: list[ScreeningResult], key: Any, inputs: Inputs) -> None:
        if self._rank_id is not None:
            self.engine.cancel(self._rank_id)
        gallery, terms, aggregate = inputs
        req = p.Differential([ranking_copy(r) for r in results], gallery, list(terms), aggregate)
        self._requested = (key, inputs)
        self._rank_id = self.engine.submit(req)
        n = len(results)
        self.view.show_message(f"Ranking for {n} photo{'s' if n > 1 else ''}…")

    # -- engine replies ------------------------------------------------------------------------------

    def _on_reply(self, reply: p.Reply) -> None:
        if self._search is not None and reply.req_id == self._search[0]:
            text, self._search = self._search[1], None
            if reply.ok:
                self.entry.show_hits(reply.value.text, reply.value.hits)
            elif reply.error_type != "Interrupted":
                self.entry.show_error(text, reply.error)
        elif reply.req_id == self._info_id:
            self._info_id = None
            if reply.ok:
                self._summary = reply.value
            elif reply.error_type not in ("Interrupted", "EngineDied"):  # those: read it again
                self._gallery_error = reply.error
            self._show_gallery()
        elif reply.req_id == self._rank_id:
            self._rank_id = None
            self._ranked(reply)

    def _ranked(self, reply: p.Reply) -> None:
        if not reply.ok:
            if reply.error_type == "Interrupted":
                return
            if not reply.user_error:
                log.error("differential failed: %s\n%s", reply.error, reply.details)
            self.view.show_message(f"Cannot rank: {reply.error}", error=True)
            return
        ready: p.DifferentialReady = reply.value
        asked = self._requested
        now = (ranking_key(self._results()), self._inputs())
        if asked is None or asked != now or ready.key != asked[0]:
            self.refresh()  # the case changed while it was ranked: rank what is on screen now
            return
        if ready.gallery is not None and ready.gallery.path == self._gallery:
            self._summary, self._gallery_error = ready.gallery, ""
            self._show_gallery()
        self._shown = (asked[0], asked[1], ready.result)
        self.view.show_result(ready.result)
        self.ranked.emit(ready.result)
