"""Result dataclasses: the one source of truth that the CLI prints, the GUI shows, the PDF renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from dysmorph_desk import __version__
from dysmorph_desk.bundles.cards import DEFAULT_PREVALENCE, ModelCard, validation_json
from dysmorph_desk.faces.align import AlignedFace
from dysmorph_desk.faces.types import FaceInfo, QualityCheck
from dysmorph_desk.screening.atypicality import Atypicality
from dysmorph_desk.screening.stability import Stability
from dysmorph_desk.utils.inputs import NOTES_MAX, OPERATOR_MAX, PATIENT_ID_MAX, clean_text

SCHEMA_VERSION = 2  # the top-level document: screening/document.py
DISCLAIMER = (
    "This is a screening aid, not a diagnosis. A result must be reviewed by a qualified clinician "
    "and confirmed by clinical examination and genetic testing."
)
SEXES = ("female", "male", "unknown")


def round6(value: float | None) -> float | None:
    """Probabilities as the JSON carries them: six decimals (a floating-point tail says nothing)."""
    return None if value is None else round(float(value), 6)


def probabilities_json(probabilities: dict[str, float] | None) -> dict[str, float | None] | None:
    return None if probabilities is None else {k: round6(v) for k, v in probabilities.items()}


@dataclass
class CaseInfo:
    """Who and what the photo is about. Identifiers are pseudonymous by design.

    The text fields are cleaned on construction (``utils.inputs.clean_text``: valid UTF-8, NFC, no
    control characters, surrounding whitespace stripped; line breaks kept in ``notes`` only), so
    what reaches the JSON, the PDF and the screen is the same bounded text. Over its limit (patient
    ID 64, operator 128, notes 4000 characters) a field raises ``TextTooLong`` (a ``UsageError``,
    exit 2, and a ``ValueError`` like the other checks here).
    """

    patient_id: str = ""
    age_months: float | None = None
    sex: str = "unknown"
    operator: str = ""
    notes: str = ""

    def __post_init__(self) -> None:
        self.patient_id = clean_text(self.patient_id, PATIENT_ID_MAX, "patient ID")
        self.operator = clean_text(self.operator, OPERATOR_MAX, "operator")
        self.notes = clean_text(self.notes, NOTES_MAX, "notes", multiline=True)
        if self.sex not in SEXES:
            raise ValueError(f"sex must be one of {', '.join(SEXES)}")
        if self.age_months is not None and not (0 <= self.age_months <= 12 * 120):
            raise ValueError("age in months must be between 0 and 1440")


@dataclass
class ModelResult:
    """What one model says about one face."""

    model: str
    card: ModelCard
    bundle_sha256: str
    probabilities: dict[str, float] | None
    predicted: str | None
    syndromic_probability: float | None
    flagged: bool | None
    assessable: bool
    cannot_assess_reason: str | None = None
    forced_assessment: bool = False
    cam_method: str | None = None
    cam_target: str | None = None
    aligned_face: np.ndarray | None = (
        None  # uint8 (S, S, 3), the model's input before normalisation
    )
    heatmap_aligned: np.ndarray | None = None  # float32 (S, S) in [0, 1]
    align_matrix: np.ndarray | None = None  # 2x3, displayed-photo pixels -> aligned-face pixels
    embedding: np.ndarray | None = None  # (D,) L2-normalised penultimate features (not in the JSON)
    logits: np.ndarray | None = None  # (C,) raw logits, for fusing a visit's photos (not in JSON)
    # the spread over the test-time variants (screening/stability.py); None when not assessed
    stability: Stability | None = None
    unstable: bool = False  # the spread crosses the threshold or is wider than UNSTABLE_WIDTH
    # the embedding's distance percentile (screening/atypicality.py); None: the bundle has no
    # statistics, or the model did not run
    atypicality: Atypicality | None = None
    seconds: float = 0.0

    @property
    def threshold(self) -> float:
        return self.card.threshold

    def heatmap_on_photo(self, photo_shape: tuple[int, ...]) -> np.ndarray | None:
        """The heatmap warped back onto the displayed photo (H, W), zero outside the face crop.

        Computed on demand: only the app draws heatmaps over the whole photo, so a screening does
        not pay for one full-photo warp per model.
        """
        if self.heatmap_aligned is None or self.align_matrix is None or self.aligned_face is None:
            return None
        size = self.aligned_face.shape[0]
        face = AlignedFace(self.aligned_face, self.align_matrix, size)
        return face.to_photo(self.heatmap_aligned, (photo_shape[0], photo_shape[1]))

    @property
    def class_names(self) -> dict[str, str]:
        return {c.id: c.display_name for c in self.card.classes}

    def to_json(
        self, case: CaseInfo | None = None, prevalence: float = DEFAULT_PREVALENCE
    ) -> dict[str, Any]:
        """The result as JSON; ``case`` and ``prevalence`` shape its ``validation`` object (the
        patient's subgroups; the PPV/NPV ranges)."""
        rnd = round6
        return {
            "model": self.model,
            "model_status": self.card.status,
            "model_status_label": self.card.status_label,
            "architecture": self.card.architecture,
            "bundle_sha256": self.bundle_sha256,
            "probabilities": probabilities_json(self.probabilities),
            "class_names": self.class_names,
            "syndromic_classes": [c.id for c in self.card.classes if c.syndromic],
            "predicted": self.predicted,
            "syndromic_probability": rnd(self.syndromic_probability),
            "threshold": self.threshold,
            "flagged": self.flagged,
            "assessable": self.assessable,
            "cannot_assess_reason": self.cannot_assess_reason,
            "forced_assessment": self.forced_assessment,
            "cam_method": self.cam_method,
            "cam_target": self.cam_target,
            "validation_metrics": self.card.validation_metrics,
            "validation": validation_json(
                self.card,
                assessable=self.assessable and self.probabilities is not None,
                prevalence=prevalence,
                age_months=None if case is None else case.age_months,
                sex=None if case is None else case.sex,
            ),
            "stability": None if self.stability is None else self.stability.to_json(),
            "unstable": self.unstable,
            "atypicality": None if self.atypicality is None else self.atypicality.to_json(),
        }


@dataclass
class ScreeningResult:
    """Everything known about one screened photo."""

    photo_sha256: str
    faces_detected: int
    face_index: int  # 1 = largest
    face: FaceInfo  # in displayed-photo pixels (those of ``photo`` and the heatmaps)
    quality: list[QualityCheck]
    warnings: list[str]
    results: list[ModelResult]
    case: CaseInfo = field(default_factory=CaseInfo)
    photo: np.ndarray | None = None  # uint8 RGB as decoded (possibly reduced size)
    photo_scale: float = 1.0  # displayed-photo pixels per original pixel
    photo_label: str | None = None  # the file name, only when the user asks for it
    disclaimer: str = DISCLAIMER
    software_version: str = __version__
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def quality_failures(self, hard_only: bool = False) -> list[QualityCheck]:
        return [q for q in self.quality if not q.passed and (q.hard or not hard_only)]

    def to_json(self, prevalence: float = DEFAULT_PREVALENCE) -> dict[str, Any]:
        """The photo's JSON (schema 2's ``photos`` entry); ``prevalence`` is the clinic's, for the
        PPV/NPV ranges in each result's ``validation``."""
        data: dict[str, Any] = {
            "software_version": self.software_version,
            "created": self.created,
            "photo_sha256": self.photo_sha256,
            "faces_detected": self.faces_detected,
            "face_index": self.face_index,
            "face": self.face.to_json(self.photo_scale),  # full-resolution pixels
            "case": {
                "patient_id": self.case.patient_id,
                "age_months": self.case.age_months,
                "sex": self.case.sex,
                "operator": self.case.operator,
            },
            "quality": {q.name: q.to_json() for q in self.quality},
            "warnings": list(self.warnings),
            "disclaimer": self.disclaimer,
            "results": [r.to_json(self.case, prevalence) for r in self.results],
        }
        if self.photo_label is not None:
            data["photo_name"] = self.photo_label
        return data
