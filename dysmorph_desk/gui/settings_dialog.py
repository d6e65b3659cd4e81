"""Settings: clinic name and logo, paper size, default models and CAM method, colours, device,
report folder, and whether photo file names may be remembered. Stored as JSON (``Settings``)."""

from __future__ import annotations

import logging
from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dysmorph_desk.bundles.format import find_bundles
from dysmorph_desk.explain.methods import CAM_CHOICES, CAM_LABELS
from dysmorph_desk.explain.overlay import COLORBLIND_SAFE, COLORMAPS
from dysmorph_desk.gui.help_window import help_link
from dysmorph_desk.gui.model_choice import mark_models_chosen
from dysmorph_desk.settings import Settings
from dysmorph_desk.utils.devices import DEVICE_CHOICES
from dysmorph_desk.utils.inputs import CLINIC_ADDRESS_MAX, CLINIC_MAX, OPERATOR_MAX

log = logging.getLogger(__name__)
DEVICE_LABELS = {
    "auto": "Automatic (GPU if available)",
    "cpu": "CPU",
    "cuda": "CUDA GPU",
    "mps": "Apple GPU (MPS)",
}
DEVICES = tuple((key, DEVICE_LABELS[key]) for key in DEVICE_CHOICES)


def _path_row(edit: QLineEdit, browse) -> QWidget:
    w = QWidget()
    row = QHBoxLayout(w)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    button = QPushButton("Browse…")
    button.clicked.connect(browse)
    row.addWidget(button)
    return w


class SettingsDialog(QDialog):
    saved = Signal(object)  # the new Settings

    def __init__(
        self,
        settings: Settings,
        dialogs,
        parent: QWidget | None = None,
        start_models: list[str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        self.dialogs = dialogs
        # what runs at the next start (every demonstration model until the user chooses)
        self.start_models = list(start_models or settings.screening.default_models)
        self.clinic = QLineEdit(settings.report.clinic_name)
        self.clinic.setMaxLength(CLINIC_MAX)
        self.clinic.setToolTip("Printed in the report header")
        self.address = QLineEdit(settings.report.clinic_address)
        self.address.setMaxLength(CLINIC_ADDRESS_MAX)
        self.logo = QLineEdit(settings.report.logo_path)
        self.logo.setToolTip("PNG or JPEG printed in the report header")
        self.paper = QComboBox()
        self.paper.addItems(["A4", "Letter"])
        self.paper.setCurrentText("Letter" if settings.report.paper.upper() == "LETTER" else "A4")
        self.prevalence = QDoubleSpinBox()
        self.prevalence.setRange(0.001, 99.0)
        self.prevalence.setDecimals(3)
        self.prevalence.setSuffix(" %")
        self.prevalence.setValue(100 * settings.report.prevalence)
        self.prevalence.setToolTip(
            "Your clinic's prevalence, for the predictive values on the report"
        )
        self.models = QListWidget()
        self.models.setToolTip("Models that screen each photo when the app starts")
        self.models.setMaximumHeight(110)
        names = [i.name for i in find_bundles()]
        for name in names + [n for n in self.start_models if n not in names]:
            item = QListWidgetItem(name if name in names else f"{name} (not installed)")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if name in self.start_models else Qt.CheckState.Unchecked
            )
            self.models.addItem(item)
        self.cam = QComboBox()
        for m in CAM_CHOICES:
            self.cam.addItem(CAM_LABELS.get(m, m), m)
        self.cam.setCurrentIndex(max(0, self.cam.findData(settings.heatmap.cam_method)))
        self.colormap = QComboBox()
        for n in COLORMAPS:
            self.colormap.addItem(f"{n} (colour-blind safe)" if n in COLORBLIND_SAFE else n, n)
        self.colormap.setCurrentIndex(max(0, self.colormap.findData(settings.heatmap.colormap)))
        self.device = QComboBox()
        for key, label in DEVICES:
            self.device.addItem(label, key)
        self.device.setCurrentIndex(max(0, self.device.findData(settings.screening.device)))
        self.device.setToolTip("Where the models run; changing it restarts the models")
        self.folder = QLineEdit(settings.report.folder)
        self.folder.setToolTip("Where Export PDF suggests saving reports")
        self.operator = QLineEdit(settings.app.operator)
        self.operator.setMaxLength(OPERATOR_MAX)
        self.remember = QCheckBox("Remember photo file names (recent files, logs)")
        self.remember.setToolTip("File names can identify patients; off by default")
        self.remember.setChecked(settings.app.remember_photo_names)
        self.store = QLineEdit(settings.records.store_path)
        self.store.setPlaceholderText("the default folder (see docs/records.md)")
        self.store.setToolTip("The case store's folder; takes effect when the app starts again")
        self.keep_photos = QCheckBox("Keep a copy of each photo in the case store")
        self.keep_photos.setToolTip("Off: the store keeps the photos' SHA-256 only (no re-opening)")
        self.keep_photos.setChecked(settings.records.keep_photos)
        self.export_photos = QCheckBox("Put the photo into FHIR and DICOM exports")
        self.export_photos.setToolTip(
            "The photo identifies the child: off by default (FHIR Media; DICOM VL image per photo)"
        )
        self.export_photos.setChecked(settings.records.export_photos)
        form = QFormLayout()
        form.addRow("&Clinic name:", self.clinic)
        form.addRow("Clinic &address:", self.address)
        form.addRow("&Logo:", _path_row(self.logo, self._browse_logo))
        form.addRow("&Paper size:", self.paper)
        form.addRow("Pre&valence:", self.prevalence)
        form.addRow("Default &models:", self.models)
        form.addRow("&Heatmap method:", self.cam)
        form.addRow("Heatmap c&olours:", self.colormap)
        form.addRow("&Device:", self.device)
        form.addRow("&Report folder:", _path_row(self.folder, self._browse_folder))
        form.addRow("Default o&perator:", self.operator)
        form.addRow(self.remember)
        form.addRow(help_link("privacy", "What the app keeps, and where", "The guide on privacy"))
        form.addRow("Case s&tore folder:", _path_row(self.store, self._browse_store))
        form.addRow(self.keep_photos)
        form.addRow(self.export_photos)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _browse_logo(self) -> None:
        path = self.dialogs.open_image(self, "Clinic logo")
        if path:
            self.logo.setText(path)

    def _browse_folder(self) -> None:
        path = self.dialogs.choose_folder(self, "Report folder", self.folder.text())
        if path:
            self.folder.setText(path)

    def _browse_store(self) -> None:
        path = self.dialogs.choose_folder(self, "Case store folder", self.store.text())
        if path:
            self.store.setText(path)

    def checked_models(self) -> tuple[str, ...]:
        return tuple(
            self.models.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.models.count())
            if self.models.item(i).checkState() == Qt.CheckState.Checked
        )

    def models_changed(self) -> bool:
        """Whether the user changed the default models (then they are their choice from now)."""
        models = self.checked_models()
        return bool(models) and set(models) != set(self.start_models)

    def values(self) -> Settings:
        models = self.checked_models() if self.models_changed() else ()
        s = self.settings
        return replace(
            s,
            report=replace(
                s.report,
                clinic_name=self.clinic.text().strip(),
                clinic_address=self.address.text().strip(),
                logo_path=self.logo.text().strip(),
                paper=self.paper.currentText(),
                prevalence=self.prevalence.value() / 100.0,
                folder=self.folder.text().strip(),
            ),
            heatmap=replace(
                s.heatmap, cam_method=self.cam.currentData(), colormap=self.colormap.currentData()
            ),
            screening=replace(
                s.screening,
                default_models=models or s.screening.default_models,
                device=self.device.currentData(),
            ),
            app=replace(
                s.app,
                operator=self.operator.text().strip(),
                remember_photo_names=self.remember.isChecked(),
            ),
            records=replace(
                s.records,
                store_path=self.store.text().strip(),
                keep_photos=self.keep_photos.isChecked(),
                export_photos=self.export_photos.isChecked(),
            ),
        )

    def save(self) -> None:
        new = self.values()
        try:
            new.save()
        except OSError as exc:
            self.dialogs.error(self, "Settings", f"The settings could not be saved: {exc}")
            return
        if self.models_changed():
            mark_models_chosen()
        self.settings = new
        self.saved.emit(new)
        self.accept()
