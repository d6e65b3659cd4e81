"""Multiclass results: top-1 accuracy, the confusion matrix and one-vs-rest metrics per class.

A model may distinguish several syndromes (and controls) while screening reduces them to
syndromic vs not; this module reports the finer view, with macro averages over classes, using the
same per-class definitions as the binary metrics (``metrics.metrics_from_predictions``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from dysmorph_desk.training.metrics import metrics_from_predictions

_PER_CLASS_KEYS = ("precision", "recall", "specificity", "f1", "auc")


def multiclass_metrics(y: Any, probs: Any, class_ids: Sequence[str]) -> dict[str, Any]:
    """Top-1 accuracy, confusion matrix and one-vs-rest metrics per class, with macro averages.

    ``y`` holds class indices (or class ids); the prediction is the argmax of ``probs`` (N, C).
    Returns ``{"n", "accuracy", "class_ids", "confusion_matrix" (rows true, columns predicted),
    "per_class": {id: {"support", "precision", "recall", "specificity", "f1", "auc"}},
    "macro": {"precision", "recall", "specificity", "f1", "auc"}}``. Zero denominators give 0.0
    (as sklearn's ``zero_division=0``); a class's AUC is nan when it is absent (or is every
    sample), and macro AUC averages the defined ones.
    """
    class_ids = [str(c) for c in class_ids]
    n_cls = len(class_ids)
    if n_cls < 2:
        raise ValueError("multiclass_metrics needs at least two classes")
    pr = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(y)
    if labels.ndim != 1 or pr.shape != (len(labels), n_cls):
        raise ValueError(f"probs must have shape (len(y), {n_cls}), not {pr.shape}")
    if labels.dtype.kind in "USO":
        index = {c: i for i, c in enumerate(class_ids)}
        unknown = sorted({str(v) for v in labels if str(v) not in index})
        if unknown:
            raise ValueError(f"unknown class ids in y: {', '.join(unknown)}")
        labels = np.array([index[str(v)] for v in labels], dtype=np.int64)
    else:
        labels = labels.astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= n_cls):
            raise ValueError(f"class indices in y must lie in 0..{n_cls - 1}")
    pred = pr.argmax(axis=1) if len(labels) else np.zeros(0, dtype=np.int64)
    cm = np.zeros((n_cls, n_cls), dtype=np.int64)
    np.add.at(cm, (labels, pred), 1)
    per_class: dict[str, dict[str, Any]] = {}
    for k, cid in enumerate(class_ids):
        m = metrics_from_predictions(labels == k, pred == k, pr[:, k])
        per_class[cid] = {
            "support": int(np.sum(labels == k)),
            **{key: m[key] for key in _PER_CLASS_KEYS},
        }
    macro = {}
    for key in _PER_CLASS_KEYS:
        values = [per_class[c][key] for c in class_ids if not math.isnan(per_class[c][key])]
        macro[key] = float(np.mean(values)) if values else float("nan")
    n = len(labels)
    return {
        "n": n,
        "accuracy": float(np.trace(cm) / n) if n else float("nan"),
        "class_ids": class_ids,
        "confusion_matrix": cm.tolist(),
        "per_class": per_class,
        "macro": macro,
    }
