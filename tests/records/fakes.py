"""Screening results for the case-store tests: real ``ScreeningResult`` objects, no model run.

Also imported by ``writer.py``, the subprocess the concurrency and SIGKILL tests start.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from dysmorph_desk.bundles.cards import ClassInfo, ModelCard
from dysmorph_desk.faces.types import FaceInfo, QualityCheck
from dysmorph_desk.screening.results import CaseInfo, ModelResult, ScreeningResult


def card(name: str = "demo") -> ModelCard:
    return ModelCard(
        name=name,
        architecture="resnet18",
        classes=[ClassInfo("unaffected", "Unaffected", False), ClassInfo("noonan", "Noonan", True)],
        input_size=112,
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.25, 0.25),
        alignment_template={"size": 112},
        threshold=0.5,
        status="demonstration",
        intended_use="tests",
        training_data={"summary": "none"},
        validation_metrics={"recall": 0.8, "specificity": 0.9},
        age_range_months=(0, 216),
    )


def photo_bytes(size: int = 2000) -> bytes:
    """Random bytes that start like a JPEG (the store names the file .jpg)."""
    return b"\xff\xd8\xff\xe0" + os.urandom(size)


def model_result(model: str = "demo", prob: float = 0.7, assessable: bool = True) -> ModelResult:
    return ModelResult(
        model=model,
        card=card(model),
        bundle_sha256=hashlib.sha256(model.encode()).hexdigest(),
        probabilities={"unaffected": 1 - prob, "noonan": prob} if assessable else None,
        predicted=("noonan" if prob >= 0.5 else "unaffected") if assessable else None,
        syndromic_probability=prob if assessable else None,
        flagged=(prob >= 0.5) if assessable else None,
        assessable=assessable,
        cannot_assess_reason=None if assessable else "=face turned too far",
    )


def result(
    data: bytes, case: CaseInfo | None = None, models: tuple[str, ...] = ("demo",), prob=0.7
) -> ScreeningResult:
    return ScreeningResult(
        photo_sha256=hashlib.sha256(data).hexdigest(),
        faces_detected=1,
        face_index=1,
        face=FaceInfo(box=(100.0, 80.0, 220.0, 240.0), landmarks=np.zeros((5, 2)), score=0.99),
        quality=[QualityCheck("face_size", 92.0, "px", 40.0, ">=", True, True)],
        warnings=[],
        results=[model_result(m, prob) for m in models],
        case=case or CaseInfo(),
        created="2024-05-01T10:30:00+00:00",
    )


def case(patient_id: str = "P-0017", sex: str = "female", **kw) -> CaseInfo:
    return CaseInfo(patient_id=patient_id, sex=sex, age_months=kw.pop("age_months", 30.0), **kw)
