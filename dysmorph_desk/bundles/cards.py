"""The model card: what a bundle says about itself (architecture, classes, status, validation).

Kept free of torch so the GUI, the report and ``dysmorph-desk models`` can read cards cheaply.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from dysmorph_desk.utils.intervals import Rate, predictive_value_range

STATUSES = ("failed-validation", "demonstration", "research", "validated")
# How far a status vouches for a model, lowest first: where models are compared or combined, the
# lowest-ranked one decides what a result may claim. "failed-validation" is a model that was put
# through a clinical validation and did not pass: kept installable (so its results stay readable)
# but ranked below even a demonstration model.
STATUS_RANK = {"failed-validation": 0, "demonstration": 1, "research": 2, "validated": 3}
DEMO_LABEL = "demonstration model — not for clinical use"
FAILED_LABEL = "failed validation — not for clinical use"
# The test-time variants a card may list (screening/stability.py implements them, and again in
# torch training/variants.py). The first is always "original". A name this version does not know is
# refused when the card is read: its metrics were computed on an average this version cannot redo.
TEST_TIME_VARIANTS = ("original", "mirror", "brightness-0.85", "blur-1px")


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
    # the variants the card's metrics were computed on (None: an older card, validated without)
    test_time_variants: list[str] | None = None
    # a photo beyond the 99th percentile of the validation photos' embedding distances cannot be
    # assessed (instead of being assessed with a warning)
    atypical_is_cannot_assess: bool = False

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

    def rates(self) -> Rates | None:
        """Sensitivity and specificity with their exact 95 % intervals and n, counted per child.

        From ``validation_metrics.counts`` when the card has it; an older card's bare
        ``recall``/``specificity`` come back with ``n = None`` and no interval
        (``Rates.interval_unknown``); None when the card states neither.
        """
        return card_rates(self.validation_metrics or {})

    def predictive_value_ranges(self, prevalence: float) -> dict[str, tuple[float, float]] | None:
        """PPV and NPV ranges at ``prevalence`` from the rates' intervals (None: intervals unknown)."""
        r = self.rates()
        return None if r is None else r.predictive_value_ranges(prevalence)

    def subgroup_rates(
        self, age_months: float | None, sex: str | None
    ) -> dict[str, SubgroupRates | None]:
        """The validation within the patient's age band and sex (None where the patient's is unknown)."""
        return subgroup_rates(self.validation_metrics or {}, age_months, sex)

    @property
    def failed_reason(self) -> str:
        """Why the card says ``failed-validation``: the training gate's reason, when it recorded one."""
        gate = (self.validation_metrics or {}).get("gate")
        reason = gate.get("reason") if isinstance(gate, dict) else None
        return reason if isinstance(reason, str) and reason else "its model card says so"


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


# --- validation counted per child: rates with exact intervals, subgroups --------------------------

INTERVAL_UNKNOWN = "interval unknown (n not recorded)"
MIN_CHILDREN_PER_SUBGROUP = 10  # fewer children in a subgroup: "not validated for this group"
AGE_BANDS = ("<1 y", "1-3 y", "3-6 y", "6-12 y", "≥12 y")
_AGE_EDGES = (12.0, 36.0, 72.0, 144.0)  # months; a band includes its lower edge
_SEXES = {"f": "female", "female": "female", "girl": "female", "m": "male", "male": "male"}
_SEXES |= {"boy": "male"}
SUBGROUP_ATTRIBUTES = ("age_band", "sex")  # what a card's subgroups are keyed by


def age_band(age_months: float | None) -> str | None:
    """Age band of the subgroup tables: <1 y, 1-3 y, 3-6 y, 6-12 y, ≥12 y (lower edges inclusive)."""
    if age_months is None or math.isnan(float(age_months)):
        return None
    age = float(age_months)
    if age < 0:
        raise ValueError(f"age in months cannot be negative ({age_months})")
    return AGE_BANDS[bisect.bisect_right(_AGE_EDGES, age)]


def normalise_sex(value: object) -> str | None:
    """``female``/``male`` for the usual spellings (F, girl, M, boy...), else the lower-cased text;
    None for a blank or ``unknown``."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().lower()
    return None if text == "unknown" else _SEXES.get(text, text)


@dataclass(frozen=True)
class Rates:
    """A card's sensitivity and specificity; ``unit`` is ``"child"``, or None when not recorded."""

    sensitivity: Rate
    specificity: Rate
    unit: str | None = None
    n_children: int | None = None
    n_photos: int | None = None

    @property
    def interval_unknown(self) -> bool:
        return not (self.sensitivity.interval_known and self.specificity.interval_known)

    def predictive_value_ranges(self, prevalence: float) -> dict[str, tuple[float, float]] | None:
        """PPV and NPV ranges at ``prevalence`` (None when an interval is unknown)."""
        s, p = self.sensitivity.ci95, self.specificity.ci95
        if s is None or p is None:
            return None
        return predictive_value_range(s, p, prevalence)


def _child_counts(value: object) -> dict[str, int] | None:
    """A ``counts`` object counted per child (the card schema checked it), else None."""
    if not isinstance(value, dict) or value.get("unit") != "child":
        return None
    keys = ("tp", "fp", "tn", "fn")
    if not all(isinstance(value.get(k), int) and value[k] >= 0 for k in keys):
        return None
    return {k: int(value[k]) for k in keys}


def card_rates(metrics: dict[str, Any]) -> Rates | None:
    """:meth:`ModelCard.rates` on a card's ``validation_metrics``."""
    counts = _child_counts(metrics.get("counts"))
    if counts is not None:
        raw = metrics["counts"]
        return Rates(
            Rate.of(counts["tp"], counts["tp"] + counts["fn"]),
            Rate.of(counts["tn"], counts["tn"] + counts["fp"]),
            "child",
            raw.get("n_children")
            if isinstance(raw.get("n_children"), int)
            else sum(counts.values()),
            raw.get("n_photos") if isinstance(raw.get("n_photos"), int) else None,
        )
    sens = metrics.get("recall", metrics.get("sensitivity"))
    spec = metrics.get("specificity")
    if isinstance(sens, (int, float)) and isinstance(spec, (int, float)):
        return Rates(Rate(float(sens)), Rate(float(spec)))
    return None


@dataclass(frozen=True)
class SubgroupRates:
    """The card's validation within one group of the patient's (an age band, a sex).

    ``n_children`` is None when the card records no subgroups at all; below ``minimum`` children the
    group counts as not validated and its rates are not given.
    """

    attribute: str
    group: str
    n_children: int | None
    minimum: int
    sensitivity: Rate | None = None
    specificity: Rate | None = None

    @property
    def recorded(self) -> bool:
        return self.n_children is not None

    @property
    def validated(self) -> bool:
        return self.n_children is not None and self.n_children >= self.minimum

    @property
    def note(self) -> str | None:
        """Why no rates are given for this group (None when they are)."""
        if self.n_children is None:
            return "subgroups not recorded on the model card"
        if not self.validated:
            return (
                f"not validated for this group ({self.n_children} children; "
                f"at least {self.minimum} needed)"
            )
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "n_children": self.n_children,
            "min_children": self.minimum,
            "validated": self.validated,
            "sensitivity": None if self.sensitivity is None else self.sensitivity.to_json(),
            "specificity": None if self.specificity is None else self.specificity.to_json(),
            "note": self.note,
        }


def subgroup_rates(
    metrics: dict[str, Any], age_months: float | None, sex: str | None
) -> dict[str, SubgroupRates | None]:
    """:meth:`ModelCard.subgroup_rates` on a card's ``validation_metrics``."""
    recorded = metrics.get("subgroups")
    minimum = metrics.get("min_children_per_subgroup")
    if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 1:
        minimum = MIN_CHILDREN_PER_SUBGROUP
    patient = {"age_band": age_band(age_months), "sex": normalise_sex(sex)}
    out: dict[str, SubgroupRates | None] = {}
    for attribute, group in patient.items():
        if group is None:
            out[attribute] = None
            continue
        if not isinstance(recorded, dict):
            out[attribute] = SubgroupRates(attribute, group, None, minimum)
            continue
        groups = recorded.get(attribute)
        entry = groups.get(group) if isinstance(groups, dict) else None
        counts = _child_counts(entry)
        if counts is None:
            out[attribute] = SubgroupRates(attribute, group, 0, minimum)
            continue
        n = sum(counts.values())
        rates = SubgroupRates(attribute, group, n, minimum)
        if rates.validated:
            rates = SubgroupRates(
                attribute,
                group,
                n,
                minimum,
                Rate.of(counts["tp"], counts["tp"] + counts["fn"]),
                Rate.of(counts["tn"], counts["tn"] + counts["fp"]),
            )
        out[attribute] = rates
    return out


DEFAULT_PREVALENCE = 0.01  # the report's default (settings.ReportSettings.prevalence)


def validation_json(
    card: ModelCard,
    *,
    assessable: bool,
    prevalence: float = DEFAULT_PREVALENCE,
    age_months: float | None = None,
    sex: str | None = None,
) -> dict[str, Any]:
    """A result's ``validation`` object (JSON schema 2, ``$defs/model_result``).

    Sensitivity and specificity with their 95 % CI and n (children), the PPV/NPV ranges at
    ``prevalence`` (null for a result that cannot be assessed, or when the intervals are unknown),
    and the validation within the patient's age band and sex (null where not given).
    """
    rates = card.rates()
    ranges = rates.predictive_value_ranges(prevalence) if rates is not None and assessable else None
    subgroups = card.subgroup_rates(age_months, sex)
    interval = None
    if rates is not None:
        interval = (
            "unknown (n not recorded)" if rates.interval_unknown else "exact 95% (Clopper-Pearson)"
        )
    out: dict[str, Any] = {
        "unit": None if rates is None else rates.unit,
        "sensitivity": None if rates is None else rates.sensitivity.to_json(),
        "specificity": None if rates is None else rates.specificity.to_json(),
        "interval": interval,
        "n_children": None if rates is None else rates.n_children,
        "prevalence": prevalence,
        "ppv_range": None if ranges is None else [round(v, 6) for v in ranges["ppv"]],
        "npv_range": None if ranges is None else [round(v, 6) for v in ranges["npv"]],
        "subgroup": {k: None if v is None else v.to_json() for k, v in subgroups.items()},
    }
    if card.status == "failed-validation":
        out["warning"] = f"{FAILED_LABEL} ({card.failed_reason})"
    return out
