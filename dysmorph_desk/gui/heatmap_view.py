"""Grad-CAM heatmaps: one model's map over the aligned face or the original photo (opacity,
colormap incl. colour-blind-safe ones, CAM method and target class) with its colour bar ("less ↔
more influence") and the class it explains. The grid comparing the models is ``compare_view``."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from dysmorph_desk.explain.methods import CAM_CHOICES, CAM_LABELS, DEFAULT_CAM_METHOD
from dysmorph_desk.explain.overlay import (
    COLORBLIND_SAFE,
    COLORMAPS,
    COLOUR_BAR_LABEL,
    DEFAULT_COLORMAP,
    DEFAULT_OPACITY,
    colour_scale,
    overlay_heatmap,
)
from dysmorph_desk.gui.help_window import help_link
from dysmorph_desk.gui.qtutil import ScaledImage, to_pixmap
from dysmorph_desk.screening.results import ModelResult, ScreeningResult


def heat_is_empty(heat: np.ndarray | None) -> bool:
    """No map, or one without signal (the core warns; drawn as a flat tint it would mislead)."""
    return heat is None or not np.isfinite(heat).any() or float(np.nanmax(heat)) <= 1e-6


def _cam_label(method: str | None) -> str | None:
    """The method's display name (its id when it has none)."""
    return CAM_LABELS.get(method, method) if method is not None else None


def render_overlay(
    result: ScreeningResult, model: ModelResult, base: str, colormap: str, opacity: float
) -> np.ndarray | None:
    """The picture to show for one model: heatmap over the aligned face or the photo."""
    if base == "photo":
        if result.photo is None:
            return None
        heat = model.heatmap_on_photo(result.photo.shape)
        if heat is None or heat_is_empty(heat):
            return result.photo
        return overlay_heatmap(result.photo, heat, colormap, opacity, weight_by_heat=True)
    if model.aligned_face is None:
        return None
    heat = model.heatmap_aligned
    if heat is None or heat_is_empty(heat):
        return model.aligned_face
    return overlay_heatmap(model.aligned_face, heat, colormap, opacity)


def looked_for(model: ModelResult) -> str:
    """The class a model's map explains, as said under the map: "where it looked for …"."""
    target = model.class_names.get(model.cam_target, model.cam_target) if model.cam_target else None
    return f"where {model.model} looked for {target}" if target else f"heatmap of {model.model}"


def default_target_label(result: ScreeningResult | None) -> str:
    """The target box's default item: what the pipeline explains when no class is chosen."""
    cards = [r.card for r in result.results] if result is not None else []
    if cards and all(len(c.syndromic_indices) == 1 for c in cards):
        return "Syndromic class (default)"
    if cards and not any(len(c.syndromic_indices) == 1 for c in cards):
        return "Predicted class (default)"
    return "Default class"  # see the box's tooltip


class ColourBar(QWidget):
    """The heatmap's colour scale, from less (left) to more influence (right), labelled."""

    def __init__(self, colormap: str = DEFAULT_COLORMAP, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QLabel()
        self.bar.setFixedHeight(12)
        self.bar.setMinimumWidth(60)
        self.bar.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.bar.setScaledContents(True)  # stretch the scale to the bar's width
        self.label = QLabel(COLOUR_BAR_LABEL)
        self.label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addWidget(self.bar)
        layout.addWidget(self.label)
        self.colormap = ""
        self.set_colormap(colormap)

    def sizeHint(self) -> QSize:  # as wide as allowed (the picture's width), never wider
        return QSize(min(self.maximumWidth(), 4000), super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(60, super().minimumSizeHint().height())

    def set_colormap(self, colormap: str) -> None:
        if colormap not in COLORMAPS or colormap == self.colormap:
            return
        self.colormap = colormap
        strip = colour_scale(colormap)[None, :, :].repeat(4, axis=0)
        self.bar.setPixmap(to_pixmap(strip))
        self.setToolTip(f"{colormap}: {COLOUR_BAR_LABEL} on the model's score for the class")
        self.setAccessibleName(f"Colour bar, {colormap}: {COLOUR_BAR_LABEL}")


class HeatmapView(QWidget):
    cam_changed = Signal(
        str, str
    )  # method ("none" for no heatmap), target class id ("" = predicted)
    display_changed = Signal()  # colormap, opacity or base changed

    def __init__(
        self,
        colormap: str = DEFAULT_COLORMAP,
        opacity: float = DEFAULT_OPACITY,
        cam_method: str = DEFAULT_CAM_METHOD,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.result: ScreeningResult | None = None
        self._updating = True  # no rendering until every widget exists
        form = QFormLayout()
        self.model_box = QComboBox()
        self.model_box.setToolTip("Which model's heatmap to show")
        self.base_box = QComboBox()
        self.base_box.addItem("Aligned face", "aligned")
        self.base_box.addItem("Original photo", "photo")
        self.base_box.setToolTip(
            "Draw the heatmap over the aligned face the model saw, or over the photo"
        )
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(100 * opacity))
        self.opacity.setToolTip("Heatmap opacity")
        self.opacity.setAccessibleName("Heatmap opacity")
        self.colormap_box = QComboBox()
        self.colormap_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.colormap_box.setMinimumContentsLength(12)
        self.colormap_box.setToolTip("Colour scale of the heatmap")
        self.safe_only = QCheckBox("Colour-blind-safe colours")
        self.safe_only.setToolTip(
            f"Only offer colour scales readable with colour blindness ({', '.join(COLORBLIND_SAFE)})"
        )
        self.safe_only.setChecked(colormap in COLORBLIND_SAFE)
        self.method_box = QComboBox()
        for m in CAM_CHOICES:
            self.method_box.addItem(CAM_LABELS.get(m, m), m)
        self.method_box.setCurrentIndex(max(0, self.method_box.findData(cam_method or "none")))
        self.method_box.setToolTip(
            "How the heatmap is computed (changing it screens the photo again)"
        )
        self.target_box = QComboBox()
        self.target_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.target_box.setMinimumContentsLength(12)
        self.target_box.addItem(default_target_label(None), "")
        self.target_box.setToolTip(
            "Which class the heatmap explains (changing it screens the photo again). By default "
            "the syndromic class of a binary model, so a photo predicted 'Control' still shows "
            "where the model looked for syndromic evidence; the predicted class of a multi-class one."
        )
        form.addRow("&Model:", self.model_box)
        form.addRow("&Show on:", self.base_box)
        form.addRow("&Opacity:", self.opacity)
        form.addRow("&Colours:", self.colormap_box)
        form.addRow("", self.safe_only)
        form.addRow("M&ethod:", self.method_box)
        form.addRow("&Target class:", self.target_box)
        for label_field in (
            self.model_box,
            self.base_box,
            self.opacity,
            self.colormap_box,
            self.method_box,
            self.target_box,
        ):
            lbl = form.labelForField(label_field)
            if isinstance(lbl, QLabel):
                lbl.setBuddy(label_field)
        self.image = ScaledImage("No heatmap yet.")
        self.image.setAccessibleName("Heatmap")
        self.colour_bar = ColourBar(colormap if colormap in COLORMAPS else DEFAULT_COLORMAP)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.help = help_link(
            "heatmaps", "How to read a heatmap", "Open the user guide's page on heatmaps"
        )
        under = QHBoxLayout()
        under.addWidget(self.caption, 1)
        under.addWidget(self.help, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.colour_bar, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addLayout(under)
        self.image.installEventFilter(self)  # the colour bar follows the picture's width
        self.model_box.currentIndexChanged.connect(self.render)
        self.base_box.currentIndexChanged.connect(self._display_changed)
        self.opacity.valueChanged.connect(self._display_changed)
        self.colormap_box.currentIndexChanged.connect(self._display_changed)
        self.safe_only.toggled.connect(lambda _on: self._fill_colormaps(self.colormap))
        self.method_box.activated.connect(self._cam_changed)
        self.target_box.activated.connect(self._cam_changed)
        self._fill_colormaps(colormap)

    # -- state -------------------------------------------------------------------------------------

    @property
    def colormap(self) -> str:
        return self.colormap_box.currentData() or DEFAULT_COLORMAP

    @property
    def alpha(self) -> float:
        return self.opacity.value() / 100.0

    @property
    def base(self) -> str:
        return self.base_box.currentData()

    @property
    def cam_method(self) -> str | None:
        m = self.method_box.currentData()
        return None if m == "none" else m

    @property
    def cam_target(self) -> str | None:
        return self.target_box.currentData() or None

    def _fill_colormaps(self, wanted: str) -> None:
        names = COLORBLIND_SAFE if self.safe_only.isChecked() else tuple(COLORMAPS)
        if wanted not in names:
            wanted = names[0]
        self._updating = True
        self.colormap_box.clear()
        for n in names:
            self.colormap_box.addItem(f"{n} (colour-blind safe)" if n in COLORBLIND_SAFE else n, n)
        self.colormap_box.setCurrentIndex(names.index(wanted))
        self._updating = False
        self._display_changed()

    def set_colormap(self, name: str) -> None:
        if name not in COLORMAPS:
            return
        if name not in COLORBLIND_SAFE:
            self.safe_only.setChecked(False)
        self._fill_colormaps(name)

    def _display_changed(self, *_args) -> None:
        if self._updating:
            return
        self.render()
        self.display_changed.emit()

    def _cam_changed(self, *_args) -> None:
        self.cam_changed.emit(self.method_box.currentData(), self.target_box.currentData() or "")

    # -- content -----------------------------------------------------------------------------------

    def set_result(self, result: ScreeningResult | None) -> None:
        self.result = result
        self._updating = True
        current = self.model_box.currentText()
        self.model_box.clear()
        target = self.target_box.currentData()
        self.target_box.clear()
        self.target_box.addItem(default_target_label(result), "")
        if result is not None:
            for r in result.results:
                self.model_box.addItem(r.model, r.model)
            common = None
            for r in result.results:
                ids = [c.id for c in r.card.classes]
                common = ids if common is None else [c for c in common if c in ids]
            names = result.results[0].class_names if result.results else {}
            for cid in common or []:
                self.target_box.addItem(names.get(cid, cid), cid)
            self.model_box.setCurrentIndex(max(0, self.model_box.findText(current)))
            self.target_box.setCurrentIndex(max(0, self.target_box.findData(target)))
        self._updating = False
        self.render()

    def eventFilter(self, watched, event) -> bool:
        if watched is self.image and event.type() == QEvent.Type.Resize:
            self._fit_colour_bar()
        return super().eventFilter(watched, event)

    def _fit_colour_bar(self) -> None:
        """The bar as wide as the picture shown above it (scaled to fit, aspect ratio kept)."""
        src = self.image.source_pixmap()
        if src is None or src.isNull():
            return
        box = self.image.size()
        scale = min(box.width() / src.width(), box.height() / src.height())
        # a maximum, never a fixed width: the bar must not stop the window from shrinking
        self.colour_bar.setMaximumWidth(max(160, round(src.width() * scale)))

    def current_model(self) -> ModelResult | None:
        if self.result is None or not self.result.results:
            return None
        i = max(0, self.model_box.currentIndex())
        return self.result.results[min(i, len(self.result.results) - 1)]

    def render(self, *_args) -> None:
        if self._updating:
            return
        result, model = self.result, self.current_model()
        self.colour_bar.set_colormap(self.colormap)
        if result is None or model is None:  # no model without a result
            self.image.set_image(None, "No heatmap yet.")
            self.colour_bar.setVisible(False)
            self.caption.setText("")
            return
        self.image.set_image(
            render_overlay(result, model, self.base, self.colormap, self.alpha),
            "Nothing to show.",
        )
        self._fit_colour_bar()
        self.colour_bar.setVisible(not heat_is_empty(model.heatmap_aligned))
        if model.heatmap_aligned is None:
            why = model.cannot_assess_reason if not model.assessable else "no heatmap method chosen"
            self.caption.setText(f"No heatmap for {model.model}: {why}.")
        elif heat_is_empty(model.heatmap_aligned):
            self.caption.setText(
                f"The {_cam_label(model.cam_method)} heatmap of {model.model} "
                "is empty for this class: no region of the face raised it."
            )
        else:
            said = looked_for(model)
            self.caption.setText(
                f"{_cam_label(model.cam_method)}: {said[0].upper()}{said[1:]}. The colour bar "
                "runs from less to more influence on the model's score for that class."
            )
