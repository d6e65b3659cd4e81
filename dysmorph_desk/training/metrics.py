"""Screening metrics from labels and syndromic probabilities (binary: syndromic vs not)."""

from __future__ import annotations

import numpy as np

METRIC_KEYS = ("accuracy", "recall", "specificity", "precision", "f1", "mcc", "kappa", "auc")


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) with 1 = syndromic."""
    y_true, y_pred = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    return (
        int(np.sum(y_true & y_pred)),
        int(np.sum(~y_true & y_pred)),
        int(np.sum(y_true & ~y_pred)),
        int(np.sum(~y_true & ~y_pred)),
    )


def _div(a: float, b: float) -> float:
    return float(a / b) if b else 0.0


def binary_metrics(
    y_true: np.ndarray, p_syndromic: np.ndarray, threshold: float
) -> dict[str, float]:
    p = np.asarray(p_syndromic, dtype=np.float64)
    return metrics_from_predictions(y_true, p >= threshold, p)


def metrics_from_predictions(
    y_true: np.ndarray, predicted: np.ndarray, scores: np.ndarray | None = None
) -> dict[str, float]:
    """Screening metrics from given predicted labels (1 = syndromic).

    Split out of ``binary_metrics`` because pooled cross-validation and subgroup analyses carry
    labels predicted at per-fold thresholds, so no single threshold reproduces them. ``auc`` comes
    from ``scores`` and is nan without scores or when only one class is present.
    """
    from sklearn.metrics import roc_auc_score

    y_true = np.asarray(y_true).astype(int)
    tp, fp, fn, tn = confusion(y_true, predicted)
    n = tp + fp + fn + tn
    acc = _div(tp + tn, n)
    rec = _div(tp, tp + fn)
    spec = _div(tn, tn + fp)
    prec = _div(tp, tp + fp)
    f1 = _div(2 * prec * rec, prec + rec)
    mcc_den = np.sqrt(float(tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    mcc = _div(tp * tn - fp * fn, mcc_den)
    pe = _div((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn), n * n)
    kappa = _div(acc - pe, 1 - pe)
    if scores is not None and 0 < y_true.sum() < len(y_true):
        auc = float(roc_auc_score(y_true, np.asarray(scores, dtype=np.float64)))
    else:
        auc = float("nan")
    return {
        "accuracy": acc,
        "recall": rec,
        "specificity": spec,
        "precision": prec,
        "f1": f1,
        "mcc": mcc,
        "kappa": kappa,
        "auc": auc,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "n": n,
    }


def youden_threshold(y_true: np.ndarray, p_syndromic: np.ndarray) -> float:
    """Threshold maximising sensitivity + specificity - 1 (chosen on validation data only)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(np.asarray(y_true).astype(int), p_syndromic)
    j = tpr - fpr
    best = int(np.argmax(j))
    t = float(thr[best])
    return float(min(max(t, 1e-4), 1.0 - 1e-4))
