"""The case on screen and what happens to it: New case, the question when a photo arrives for a
case that holds details, Save case into the case store, the unsaved-changes question on quit,
export (PDF, JSON, FHIR, DICOM), Print, and the Cases view.

Every question goes through ``MainWindow._ask`` (tests replace it). Reports are rendered on a pool
thread (``tasks.run_task``); store calls are fast and run here, on the UI thread.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel

from dysmorph_desk.engine import protocol as p
from dysmorph_desk.errors import DysmorphError, StoreError
from dysmorph_desk.gui import printing
from dysmorph_desk.gui.case_state import CaseSession, ExportDone, export_name
from dysmorph_desk.gui.exporters import KINDS, ExportJob, pdf_bytes, unavailable, write_export
from dysmorph_desk.gui.filing import file_case, identity
from dysmorph_desk.gui.store_link import StoreLink
from dysmorph_desk.gui.tasks import run_task
from dysmorph_desk.screening.options import ScreenOptions
from dysmorph_desk.screening.results import CaseInfo

if TYPE_CHECKING:
    from dysmorph_desk.gui.cases_view import CasesView
    from dysmorph_desk.gui.main_window import MainWindow
    from dysmorph_desk.records.models import CaseRecord, PhotoRecord, VisitRecord

log = logging.getLogger(__name__)


def describe(case: CaseInfo) -> str:
    return case.patient_id or "without a patient ID"


def details_of(case: CaseInfo, photos: int, terms: int = 0) -> str:
    """What the case holds, for the question asked when another photo arrives."""
    parts = [f"patient ID {case.patient_id}"] if case.patient_id else []
    if case.age_months is not None:
        parts.append(f"age {case.age_months:g} months")
    if case.sex != "unknown":
        parts.append(case.sex)
    if case.notes:
        parts.append("notes")
    if terms:
        parts.append(f"{terms} HPO term{'s' if terms > 1 else ''}")
    if photos:
        parts.append(f"{photos} screened photo{'s' if photos > 1 else ''}")
    return ", ".join(parts)


class CaseFlow(QObject):
    exported = Signal(str, str)  # kind, path
    export_failed = Signal(str)
    printed = Signal(str)  # "printer" or the temporary PDF opened in the viewer
    saved = Signal(str)  # the case uid
    changed = Signal()  # the case's photos, results or details may have changed
    case_cleared = Signal()  # a new case starts: what belonged to the last one goes

    def __init__(self, win: MainWindow) -> None:
        super().__init__(win)
        self.win = win
        self.session = CaseSession()
        self.store = StoreLink(lambda: win.settings)
        self.store_label = QLabel("")
        self.store_label.setVisible(False)
        win.statusBar().addPermanentWidget(self.store_label)
        self.cases_view: CasesView | None = None
        self._background: dict[int, str] = {}  # screening again for a new age: req id -> key
        self._reopened: tuple[str, int] | None = None  # (photo key, stored photo id)
        self._exporting = False
        self._export_note = ""  # why the export leaves the differential out, if it does
        win.case_panel.edited.connect(self.update_status)
        self.case_cleared.connect(win.differential.clear_case)  # its HPO terms are this case's
        self.changed.connect(win.differential.refresh)
        win.differential.entry.terms_changed.connect(self.update_status)  # unsaved: "not saved"
        win.differential.ranked.connect(lambda _diff: self.update_status())

    def case(self) -> CaseInfo:
        return self.win.case_panel.case()

    def _sync_phenotype(self) -> None:
        """The Differential panel's terms, and its differential when it was ranked from exactly
        the case's results, into the session: what a question weighs and a Save files."""
        panel, s = self.win.differential, self.session
        s.hpo_terms = tuple(panel.terms())
        s.differential = panel.current_for(s.results())

    def update_status(self) -> None:
        self._sync_phenotype()
        n, case = len(self.session.photos), self.case()
        if not n:
            text = "No photo screened in this case yet."
        else:
            state = "not saved" if self.session.dirty(case) else "saved in the case store"
            text = f"{n} photo{'s' if n > 1 else ''} in this visit, {state}."
        self.win.case_panel.set_status(text)
        self.changed.emit()

    # -- the case's life ---------------------------------------------------------------------------

    def confirm_discard(self, quitting: bool = False) -> bool:
        """Before the case is cleared (New case, re-opening a stored case, Quit): True to go on
        (saved, or the user discards). Details entered without a screened photo (patient ID,
        age, sex, notes, HPO terms) cannot be saved, so they are only cleared after asking;
        ``quitting`` asks the same questions (kept for the window's close)."""
        self._sync_phenotype()
        case = self.case()
        if self.session.dirty(case):
            answer = self.win._ask("unsaved", case=describe(case))
            if answer == "save":
                return self.save()
            return answer == "discard"
        if not self.session.photos and self.session.has_details(case):
            return self.win._ask("unsaved_details", case=describe(case)) == "discard"
        return True

    def new_case(self) -> bool:
        """File ▸ New case: every field and result cleared (the operator from the settings)."""
        if not self.confirm_discard():
            return False
        self.clear()
        self.win.statusBar().showMessage("New case.", 3000)
        return True

    def clear(self) -> None:
        for req_id in self._background:
            self.win.engine.cancel(req_id)
        self._background.clear()
        self._reopened = None
        self.session = CaseSession()
        self.case_cleared.emit()
        self.win.case_panel.reset(self.win.settings.app.operator)
        self.win.clear_photo()
        self.update_status()

    def before_photo(self) -> bool:
        """A new photo arrives: ask whether it belongs to the case on screen. False: cancelled."""
        self._sync_phenotype()
        case = self.case()
        if not self.session.has_details(case):
            return True
        details = details_of(case, len(self.session.photos), len(self.session.hpo_terms))
        answer = self.win._ask("photo_with_case", details=details)
        if answer == "same":
            return True
        return answer == "new" and self.new_case()

    def screened(self, key: str, source: Any, result: Any, manual: Any) -> None:
        """The window shows a new result of the photo ``key``: it is part of the case now."""
        photo_id = self._reopened[1] if self._reopened and self._reopened[0] == key else None
        self.session.add(key, source, result, manual, photo_id)
        self.update_status()

    # -- a new age: every photo of the visit is screened again -------------------------------------

    def rescreen_stale(self) -> bool:
        """Screen again the photos screened for another age; True if any is (being) screened."""
        win, case = self.win, self.case()
        stale = self.session.stale(case)
        for photo in stale:
            if photo.key == win.photo_key:
                win.rescreen()
            elif photo.key not in self._background.values():
                options = ScreenOptions(
                    face_index=photo.result.face_index,
                    cam_method=win.heatmap.cam_method,
                    cam_target=win.heatmap.cam_target,
                    force_assess=win.force_box.isChecked(),
                    manual_landmarks=photo.manual,
                    max_pixels=win.settings.screening.max_pixels,
                )
                req_id = win.engine.submit(p.Screen(photo.source, photo.key, case, options))
                self._background[req_id] = photo.key
        return bool(stale or self._background)

    def handle_reply(self, reply: p.Reply) -> bool:
        """A reply to a photo screened again in the background; False if it is not one."""
        key = self._background.pop(reply.req_id, None)
        if key is None:
            return False
        photo = self.session.photos.get(key)
        if photo is not None and reply.ok:
            self.session.add(key, photo.source, reply.value.result, photo.manual)
        elif not reply.ok and reply.error_type != "Interrupted":
            self.win.statusBar().showMessage(
                f"A photo of this visit could not be screened again: {reply.error}", 10000
            )
        self.update_status()
        return True

    def _ready(self, title: str) -> CaseInfo | None:
        """The case details, if the visit's results are complete and current for them."""
        win = self.win
        if not self.session.photos:
            win.dialogs.info(win, title, "Screen a photo first.")
            return None
        if win._screen_id is not None:
            win.dialogs.info(win, title, "A photo is being screened; try again when it is done.")
            return None
        case = self.case()
        if self.rescreen_stale():
            win.dialogs.info(
                win,
                title,
                "The age changed, so the photos are screened again. Try again once the results "
                "are updated.",
            )
            return None
        return case

    def _differential_settled(self, title: str) -> bool:
        """False (and says so) while the Differential tab is ranking: wait for it, so the export
        carries the differential of what is on screen."""
        if self.win.differential.ranking:
            self.win.dialogs.info(
                self.win, title, "The differential is being ranked; try again when it is done."
            )
            return False
        return True

    # -- the case store ----------------------------------------------------------------------------

    def probe_store(self) -> None:
        """Open the store at start-up; if it cannot be, say why once (non-modal)."""
        reason = self.store.probe()
        if reason is not None:
            self._store_unavailable(reason)

    def _store_unavailable(self, reason: str) -> None:
        message = f"Case store unavailable: {reason}."
        self.store_label.setText("⚠ Case store unavailable")
        self.store_label.setToolTip(f"{message} Screening and export work without it.")
        self.store_label.setVisible(True)
        self.win.statusBar().showMessage(f"{message} Screening and export work without it.", 30000)

    def _store_ok(self) -> None:
        self.store_label.setVisible(False)

    def save(self) -> bool:
        """File ▸ Save case. True when everything is filed."""
        win = self.win
        case = self._ready("Save case")
        if case is None:
            return False
        self._sync_phenotype()
        try:
            store = self.store.get()
            self._store_ok()
            filed = file_case(
                store, self.session, case, keep_photos=win.settings.records.keep_photos
            )
        except (DysmorphError, ValueError) as exc:
            if isinstance(exc, StoreError):
                self._store_unavailable(str(exc))
            win.dialogs.error(win, "Save case", f"The case was not saved: {exc}")
            self.update_status()
            return False
        text = {
            "filed": f"Case saved: {filed.photos} photo(s) filed.",
            "added": f"Case saved: {filed.photos} new photo result(s) added to its visit.",
            "refiled": "The patient details changed since the case was saved, so it was filed "
            "again as a new visit (the earlier filing stays in Cases).",
        }[filed.how]
        if filed.hash_only:
            text += f" {filed.hash_only} photo(s) kept as their hash only."
        if filed.differential == "filed":
            text += " The differential was filed with the visit."
        elif filed.differential:
            text += f" The differential was not filed: {filed.differential}."
        win.statusBar().showMessage(text, 8000)
        self.update_status()
        if self.cases_view is not None:
            self.cases_view.refresh()
        self.saved.emit(filed.case_uid)
        return True

    def _filed_visit(self, case: CaseInfo) -> str | None:
        """The stored visit the case on screen is, if it is filed under these details."""
        s = self.session
        if s.visit_uid is None or s.filed_case is None or identity(s.filed_case) != identity(case):
            return None
        return s.visit_uid

    def _study_uid(self, case: CaseInfo) -> str | None:
        visit_uid = self._filed_visit(case)
        if visit_uid is None or self.session.case_uid is None:
            return None
        try:
            record = self.store.get().get_case(self.session.case_uid)
        except DysmorphError:
            return None
        return next((v.study_uid for v in record.visits if v.uid == visit_uid), None)

    # -- export and print --------------------------------------------------------------------------

    def _job(self, kind: str, case: CaseInfo) -> ExportJob:
        options = self.win.settings.report_options(
            colormap=self.win.heatmap.colormap, opacity=self.win.heatmap.alpha
        )
        study = self._study_uid(case) if kind in ("dicom", "fhir") else None
        include_photo = self.win.settings.records.export_photos
        results = self.session.results(case)
        diff = self.win.differential.current_for(results)  # None unless ranked from these
        return ExportJob(kind, results, options, study, include_photo, diff)

    def _export_folder(self) -> Path:
        folder = Path(self.win.settings.report.folder) if self.win.settings.report.folder else None
        return folder if folder is not None and folder.is_dir() else Path.home()

    def export(self, kind: str) -> None:
        win, spec = self.win, KINDS[kind]
        title = f"Export {spec.label.replace('&', '').rstrip('…')}"
        reason = unavailable(kind)
        if reason is not None:
            win.dialogs.info(win, title, reason)
            return
        if self._exporting:
            win.statusBar().showMessage("An export is being written; try again in a moment.", 5000)
            return
        case = self._ready(title)
        if case is None or not self._differential_settled(title):
            return
        default = self._export_folder() / export_name(case, spec.suffix)
        chosen = win.dialogs.save_export(win, title, default, spec.name_filter)
        if not chosen:
            return
        path = Path(chosen)
        if not path.name.lower().endswith(spec.suffix.rsplit(".", 1)[-1]):
            path = path.with_name(path.name + spec.suffix)
        if path.is_dir():
            win.dialogs.error(win, title, f"{path.name} is a folder, not a file name.")
            return
        if path.exists() and win._ask("overwrite", name=path.name) != "overwrite":
            return
        job = self._job(kind, case)
        self._exporting = True
        self._export_note = win.differential.export_note(job.results)
        win.statusBar().showMessage("Writing the export…")
        run_task(
            lambda: write_export(job, path),
            lambda value: self._exported(kind, case, *value),
            lambda exc: self._export_error(title, exc),
        )

    def _exported(self, kind: str, case: CaseInfo, path: Path, sha256: str) -> None:
        self._exporting = False
        done = ExportDone(kind, str(path), sha256)
        visit_uid = self._filed_visit(case)
        recorded = False
        if visit_uid is not None:
            try:
                self.store.get().add_export(visit_uid, kind, str(path), sha256, case.operator)
                recorded = True
            except DysmorphError as exc:
                log.warning("export not recorded in the case store: %s", exc)
        if not recorded:
            self.session.pending_exports.append(done)  # recorded when the case is saved
        note = f" ({self._export_note})" if self._export_note else ""
        self.win.statusBar().showMessage(f"Exported {path.name}{note}.", 10000 if note else 5000)
        self.exported.emit(kind, str(path))
        if kind == "pdf" and self.win.dialogs.report_saved(self.win, str(path)):
            from PySide6.QtCore import QUrl
            from PySide6.QtGui import QDesktopServices

            QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    def _export_error(self, title: str, exc: BaseException) -> None:
        self._exporting = False
        user = isinstance(exc, (DysmorphError, ValueError, OSError))
        if not user:
            log.error("export failed", exc_info=exc)
        details = "" if user else f"{type(exc).__name__}: {exc}"
        self.win.dialogs.error(self.win, title, f"Nothing was written: {exc}", details)
        self.export_failed.emit(str(exc))

    def print_report(self) -> None:
        """File ▸ Print: render the report off the UI thread, then print it (see ``printing``)."""
        case = self._ready("Print")
        if case is None or not self._differential_settled("Print"):
            return
        job = self._job("pdf", case)
        stem = export_name(case, "")
        self.win.statusBar().showMessage("Preparing the report for printing…")
        run_task(
            lambda: pdf_bytes(job.results, job.options, job.differential),
            lambda pdf: self._print(pdf, stem),
            lambda exc: self._export_error("Print", exc),
        )

    def _print(self, pdf: bytes, stem: str) -> None:
        win = self.win
        if printing.has_qtpdf():
            from PySide6.QtPrintSupport import QPrinter

            printer = QPrinter(QPrinter.PrinterMode.HighResolution)
            printer.setDocName(stem)
            if not printing.ask_printer(win, printer):
                win.statusBar().clearMessage()
                return
            try:
                pages = printing.print_pdf(printer, pdf)
            except OSError as exc:
                win.dialogs.error(win, "Print", f"The report was not printed: {exc}")
                return
            win.statusBar().showMessage(f"Report sent to the printer ({pages} page(s)).", 5000)
            self.printed.emit("printer")
        else:  # no QtPdf to draw the pages: the PDF viewer prints it (see printing.py)
            try:
                path = printing.open_in_viewer(pdf, stem)
            except OSError as exc:
                win.dialogs.error(win, "Print", f"The report could not be prepared: {exc}")
                return
            win.statusBar().showMessage(
                "The report is open in your PDF viewer: print it from there.", 10000
            )
            self.printed.emit(str(path))

    # -- the Cases view ----------------------------------------------------------------------------

    def open_cases(self) -> CasesView:
        from dysmorph_desk.gui.cases_view import CasesView

        if self.cases_view is None:
            self.cases_view = CasesView(
                self.store,
                lambda kind, **values: self.win._ask(kind, **values),
                self.win.dialogs,
                self.win,
                operator=lambda: self.win.settings.app.operator,
            )
            self.cases_view.reopen_requested.connect(self.reopen)
            self.cases_view.case_deleted.connect(self.case_deleted)
        self.cases_view.refresh()
        self.cases_view.show()
        self.cases_view.raise_()
        return self.cases_view

    def reopen(self, record: CaseRecord, visit: VisitRecord, photo: PhotoRecord) -> None:
        """Open a stored photo as the case on screen (screened again; filed only on Save)."""
        win = self.win
        path = self.store.get().photo_path(photo)
        if path is None or not path.is_file():
            win.dialogs.info(win, "Re-open photo", "Only this photo's hash was kept in the store.")
            return
        if not self.confirm_discard():
            return
        self.clear()
        case = CaseInfo(
            record.patient_id, visit.age_months, record.sex, visit.operator, visit.notes
        )
        win.case_panel.set_case(case)
        # the visit's own terms come back (not ranked: Rank ranks them against the gallery on
        # screen); the differentials filed with the visit stay in Cases and its exports
        terms = tuple((str(t["id"]), str(t.get("label", ""))) for t in visit.hpo_terms)
        win.differential.restore_terms(terms, f"the visit of {visit.date}")
        self.session.case_uid, self.session.visit_uid = record.uid, visit.uid
        self.session.filed_case = case
        self.session.hpo_terms = self.session.filed_terms = terms
        try:
            self.store.get().record_opened(record.uid, win.settings.app.operator)
        except DysmorphError as exc:
            log.warning("opening not audited: %s", exc)
        win.open_stored(str(path))
        self._reopened = (win.photo_key, photo.id)

    def case_deleted(self, case_uid: str) -> None:
        if self.session.case_uid == case_uid:  # the case on screen is no longer filed
            self.session.case_uid = self.session.visit_uid = self.session.filed_case = None
            self.session.filed_results.clear()
            for photo in self.session.photos.values():
                photo.photo_id = None
            self.update_status()
