"""Statistics for cross-validation and evaluation: bootstrap CIs, ROC bands, calibration, subgroups.

Follows the seed study (VGG-16 vs paediatricians): a ROC curve with a 95 % band from a stratified
bootstrap, and each physician's sensitivity/specificity point judged against that band. Everything
here is numpy only (sklearn for AUC through ``metrics``), with no Qt and no torch, so reports and
the CLI can use it cheaply. The package is split by concern (``roc``, ``calibration``,
``multiclass``, ``subgroups``, ``per_child``, ``readers``, ``prevalence``); callers import the names from here.

Results are plain floats, ints and lists; an undefined value is ``float('nan')`` and the caller
decides how to serialise it.
"""

from dysmorph_desk.training.evaluation._checks import MIN_BOOT
from dysmorph_desk.training.evaluation.calibration import (
    ReliabilityTable,
    expected_calibration_error,
    reliability_table,
)
from dysmorph_desk.training.evaluation.multiclass import multiclass_metrics
from dysmorph_desk.training.evaluation.per_child import (
    CHILD_RULE,
    GateResult,
    child_counts,
    child_subgroup_counts,
    child_validation,
    rates_with_ci,
    validation_gate,
)
from dysmorph_desk.training.evaluation.prevalence import at_prevalence
from dysmorph_desk.training.evaluation.readers import (
    ReaderPoint,
    compare_reader_to_band,
    reader_points,
)
from dysmorph_desk.training.evaluation.roc import RocBand, bootstrap_auc_ci, roc_band
from dysmorph_desk.training.evaluation.subgroups import (
    AGE_BANDS,
    age_band,
    subgroup_metrics,
    summarise_folds,
)

__all__ = [
    "AGE_BANDS",
    "CHILD_RULE",
    "MIN_BOOT",
    "GateResult",
    "ReaderPoint",
    "ReliabilityTable",
    "RocBand",
    "age_band",
    "at_prevalence",
    "bootstrap_auc_ci",
    "child_counts",
    "child_subgroup_counts",
    "child_validation",
    "compare_reader_to_band",
    "expected_calibration_error",
    "multiclass_metrics",
    "rates_with_ci",
    "reader_points",
    "reliability_table",
    "roc_band",
    "subgroup_metrics",
    "summarise_folds",
    "validation_gate",
]
