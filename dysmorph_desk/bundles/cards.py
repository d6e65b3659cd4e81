"""The model card: what a bundle says about itself (architecture, classes, status, validation).

Kept free of torch so the GUI, the report and ``dysmorph-desk models`` can read cards cheaply.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STATUSES = ("failed-validation", "demonstration", "research", "validated")
# How far a status vouches for a model, lowest first: where models are compared or combined, the
# lowest-ranked one decides what a result may claim. "failed-validation" is a model that was put
# through a clinical validation and did not pass: kept installable (so its results stay readable)
# but ranked below even a demonstration model.
STATUS_RANK = {"failed-validation": 0, "demonstration": 1, "research": 2, "validated": 3}
DEMO_LABEL = "demonstration model — not for clinical use"
FAILED_LABEL = "failed validation — not for clinical use"


@dataclass(frozen=True)
class ClassInfo:
    id: str
    display_name: str
    syndromic: bool


@dataclass
class ModelCard:
    name: str
    architecture: str
    classes: list[ClassInfo]
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    alignment_template: dict[str, Any]
    threshold: float
    status: str
    intended_use: str
    training_data: dict[str, Any]
    validation_metrics: dict[str, Any] = field(default_factory=dict)
    age_range_months: tuple[float, float] | None = None
    created: str = ""
    temperature: float = 1.0
    description: str = ""
    software_version: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")
        self.classes = [c if isinstance(c, ClassInfo) else ClassInfo(**c) for c in self.classes]
        if not any(c.syndromic for c in self.classes):
            raise ValueError("a model card needs at least one syndromic class")
        # JSON gives lists: keep the fixed-length tuples the fields promise
        m0, m1, m2 = (float(v) for v in self.mean)
        s0, s1, s2 = (float(v) for v in self.std)
        self.mean, self.std = (m0, m1, m2), (s0, s1, s2)
        if self.age_range_months is not None:
            lo, hi = self.age_range_months
            self.age_range_months = (lo, hi)

    @property
    def class_ids(self) -> list[str]:
        return [c.id for c in self.classes]

    @property
    def syndromic_indices(self) -> list[int]:
        return [i for i, c in enumerate(self.classes) if c.syndromic]

    @property
    def status_label(self) -> str:
        """What every output shows next to the model's name."""
        if self.status == "demonstration":
            return DEMO_LABEL
        if self.status == "research":
            return "research model — not validated for clinical use"
        if self.status == "failed-validation":
            return FAILED_LABEL
        return "validated model"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def sensitivity_specificity(self) -> tuple[float, float] | None:
        """The card's sensitivity and specificity, when its validation metrics have both."""
        m = self.validation_metrics or {}
        sens = m.get("recall", m.get("sensitivity"))
        spec = m.get("specificity")
        if isinstance(sens, (int, float)) and isinstance(spec, (int, float)):
            return float(sens), float(spec)
        return None


def predictive_values(
    sensitivity: float, specificity: float, prevalence: float
) -> tuple[float, float]:
    """PPV and NPV by Bayes' rule at a stated prevalence (a clinic's, not the study's)."""
    tp = sensitivity * prevalence
    fp = (1.0 - specificity) * (1.0 - prevalence)
    fn = (1.0 - sensitivity) * prevalence
    tn = specificity * (1.0 - prevalence)
    ppv = tp / (tp + fp) if tp + fp > 0 else float("nan")
    npv = tn / (tn + fn) if tn + fn > 0 else float("nan")
    return ppv, npv
