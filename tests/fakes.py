"""Model cards, model results and screening results for the tests: real objects, no model run.

Built once here; what a test needs differently is passed as arguments. Also imported by
``tests/records/writer.py``, the subprocess the case-store concurrency and SIGKILL tests start
(from the repository root, so ``tests.`` imports work there too).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np

from dysmorph_desk.bundles.cards import ClassInfo, ModelCard
from dysmorph_desk.faces.types import FaceInfo, QualityCheck
from dysmorph_desk.screening.results import CaseInfo, ModelResult, ScreeningResult

SHA_A = "0123456789abcdef" * 4
SHA_B = "fedcba9876543210" * 4
CREATED = "2024-05-01T10:30:00+00:00"
YAW_REASON = "face turned too far (yaw 41°)"


# -- model cards ----------------------------------------------------------------------------------


def card(
    name: str = "demo",
    *,
    status: str = "demonstration",
    classes: list[ClassInfo] | None = None,
    intended_use: str = "tests",
    training_data: dict[str, Any] | None = None,
    validation_metrics: dict[str, Any] | None = None,
    age_range_months: tuple[float, float] | None = (0, 216),
) -> ModelCard:
    """A resnet18 card at 112 px, threshold 0.5.

    ``None`` gives the defaults: classes Unaffected/Noonan, training data ``{"summary": "none"}``,
    validation metrics recall 0.8 and specificity 0.9 (pass ``{}`` for none).
    """
    if classes is None:
        classes = [
            ClassInfo("unaffected", "Unaffected", False),
            ClassInfo("noonan", "Noonan", True),
        ]
    return ModelCard(
        name=name,
        architecture="resnet18",
        classes=classes,
        input_size=112,
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.25, 0.25),
        alignment_template={"size": 112},
        threshold=0.5,
        status=status,
        intended_use=intended_use,
        training_data={"summary": "none"} if training_data is None else training_data,
        validation_metrics=(
            {"recall": 0.8, "specificity": 0.9}
            if validation_metrics is None
            else validation_metrics
        ),
        age_range_months=age_range_months,
    )


def synthetic_card(name: str, status: str = "demonstration") -> ModelCard:
    """A card without validation metrics or age range ("Noonan syndrome", synthetic training)."""
    return card(
        name,
        status=status,
        classes=[
            ClassInfo("unaffected", "Unaffected", False),
            ClassInfo("noonan", "Noonan syndrome", True),
        ],
        training_data={"summary": "synthetic"},
        validation_metrics={},
        age_range_months=None,
    )


def card_manifest(validation_metrics: dict[str, Any], status: str = "research") -> dict[str, Any]:
    """A card as a bundle's manifest holds it (JSON): mobilenetv2, Control/Noonan."""
    return {
        "name": "t",
        "architecture": "mobilenetv2",
        "classes": [
            {"id": "control", "display_name": "Control", "syndromic": False},
            {"id": "noonan", "display_name": "Noonan", "syndromic": True},
        ],
        "input_size": 112,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
        "alignment_template": {
            "points": [[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]]
        },
        "threshold": 0.5,
        "status": status,
        "intended_use": "tests",
        "training_data": {},
        "validation_metrics": validation_metrics,
    }


# -- model results --------------------------------------------------------------------------------


def assessed(
    card: ModelCard,
    probabilities: dict[str, float],
    *,
    predicted: str,
    syndromic_probability: float,
    bundle_sha256: str = SHA_A,
    flagged: bool | None = None,
    model: str | None = None,
    **extra: Any,
) -> ModelResult:
    """The result of model ``model`` (default ``card.name``) on a photo it assessed; ``flagged``
    defaults to the syndromic probability at or over the card's threshold. ``extra``: the
    optional fields."""
    return ModelResult(
        model=card.name if model is None else model,
        card=card,
        bundle_sha256=bundle_sha256,
        probabilities=probabilities,
        predicted=predicted,
        syndromic_probability=syndromic_probability,
        flagged=syndromic_probability >= card.threshold if flagged is None else flagged,
        assessable=True,
        **extra,
    )


def binary(
    card: ModelCard, probability: float, *, predicted: str | None = None, **extra: Any
) -> ModelResult:
    """:func:`assessed` by an Unaffected/Noonan card, ``probability`` being Noonan's; predicted
    Noonan from 0.5 on unless ``predicted`` says otherwise."""
    if predicted is None:
        predicted = "noonan" if probability >= 0.5 else "unaffected"
    return assessed(
        card,
        {"unaffected": 1 - probability, "noonan": probability},
        predicted=predicted,
        syndromic_probability=probability,
        **extra,
    )


def unassessed(
    card: ModelCard, reason: str = YAW_REASON, *, bundle_sha256: str = SHA_B
) -> ModelResult:
    """The result of model ``card.name`` on a photo it could not assess."""
    return ModelResult(
        model=card.name,
        card=card,
        bundle_sha256=bundle_sha256,
        probabilities=None,
        predicted=None,
        syndromic_probability=None,
        flagged=None,
        assessable=False,
        cannot_assess_reason=reason,
    )


def two_results(probability: float, **extra: Any) -> list[ModelResult]:
    """What the exporters are tested on: "demo-resnet" assessed (:func:`binary`, SHA_A, gradcam;
    ``extra`` to it) and "second-model" (research, SHA_B) that could not assess the photo."""
    return [
        binary(synthetic_card("demo-resnet"), probability, cam_method="gradcam", **extra),
        unassessed(synthetic_card("second-model", status="research")),
    ]


def model_result(model: str = "demo", prob: float = 0.7, assessable: bool = True) -> ModelResult:
    """A :func:`binary` result of the default :func:`card` (or one that could not assess the
    photo), its bundle hash that of the model's name."""
    sha = hashlib.sha256(model.encode()).hexdigest()
    if assessable:
        return binary(card(model), prob, bundle_sha256=sha)
    return unassessed(card(model), "=face turned too far", bundle_sha256=sha)


# -- screening results ----------------------------------------------------------------------------


def face_size_passed() -> QualityCheck:
    return QualityCheck("face_size", 92.0, "px", 40.0, ">=", True, True)


def yaw_failed() -> QualityCheck:
    return QualityCheck("yaw", 41.0, "°", 25.0, "<=", False, True, "face turned too far")


def screening_result(
    results: list[ModelResult],
    *,
    photo_sha256: str = "ab" * 32,
    box: tuple[float, float, float, float] = (100.0, 80.0, 220.0, 240.0),
    score: float = 0.99,
    quality: list[QualityCheck] | None = None,
    warnings: list[str] | None = None,
    case: CaseInfo | None = None,
    photo: np.ndarray | None = None,
    photo_label: str | None = None,
    created: str | None = CREATED,
) -> ScreeningResult:
    """One face found at ``box``; ``quality`` defaults to a passed face-size check, ``created=None``
    to the time of the call (the dataclass default)."""
    when = {} if created is None else {"created": created}
    return ScreeningResult(
        photo_sha256=photo_sha256,
        faces_detected=1,
        face_index=1,
        face=FaceInfo(box=box, landmarks=np.zeros((5, 2)), score=score),
        quality=[face_size_passed()] if quality is None else quality,
        warnings=[] if warnings is None else warnings,
        results=results,
        case=case or CaseInfo(),
        photo=photo,
        photo_label=photo_label,
        **when,
    )


def bare_result(*models: ModelResult, sha: str = "a") -> ScreeningResult:
    """Only model results (no face, no checks, photo hash ``sha`` * 64): summaries and visits."""
    return ScreeningResult(sha * 64, 1, 1, None, [], [], list(models), CaseInfo())  # type: ignore[arg-type]


def logits_photo(
    card: ModelCard, logits: list[float], sha: str, name: str = "m"
) -> ScreeningResult:
    """A :func:`bare_result` whose one model result comes from ``logits`` (softmax at the card's
    temperature; the logits kept, for fusing a visit)."""
    z = np.asarray(logits, np.float64) / card.temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    synd = float(sum(p[i] for i in card.syndromic_indices))
    model = assessed(
        card,
        dict(zip(card.class_ids, map(float, p), strict=True)),
        predicted=card.class_ids[int(np.argmax(p))],
        syndromic_probability=synd,
        bundle_sha256="b" * 64,
        model=name,
        logits=np.asarray(logits, np.float64),
    )
    return bare_result(model, sha=sha)


# -- the case store's screenings ------------------------------------------------------------------


def photo_bytes(size: int = 2000) -> bytes:
    """Random bytes that start like a JPEG (the store names the file .jpg)."""
    return b"\xff\xd8\xff\xe0" + os.urandom(size)


def result(
    data: bytes, case: CaseInfo | None = None, models: tuple[str, ...] = ("demo",), prob=0.7
) -> ScreeningResult:
    """The screening of photo ``data`` by ``models`` (:func:`model_result`)."""
    return screening_result(
        [model_result(m, prob) for m in models],
        photo_sha256=hashlib.sha256(data).hexdigest(),
        case=case,
    )


def case(patient_id: str = "P-0017", sex: str = "female", **kw) -> CaseInfo:
    return CaseInfo(patient_id=patient_id, sex=sex, age_months=kw.pop("age_months", 30.0), **kw)
