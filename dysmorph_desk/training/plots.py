"""PNG figures for evaluation reports: ROC band with readers, confusion matrix, curves, calibration.

Drawn on ``matplotlib.figure.Figure`` with the Agg canvas, never through ``pyplot``: pyplot picks
an interactive backend and may load Qt behind the GUI's back (or fail on a headless machine).
Each figure is rendered to bytes first and then written atomically, so a report never links a
half-written image and a failed plot leaves the previous file in place.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dysmorph_desk.training.evaluation import ReaderPoint, ReliabilityTable, RocBand
from dysmorph_desk.utils.atomic import write_bytes_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 120
ROC_SIZE = (6.0, 6.0)  # inches
CURVES_SIZE = (10.0, 4.5)
RELIABILITY_SIZE = (6.0, 6.5)
CMAP = "cividis"  # perceptually uniform and readable with colour-vision deficiencies
# Okabe-Ito palette: distinguishable with the common colour-vision deficiencies
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")
VERDICT_COLOURS = {"above": "#009E73", "below": "#D55E00", "inside": "#555555"}


def confusion_size(n_classes: int) -> tuple[float, float]:
    """Figure size in inches for a confusion matrix, growing with the number of classes."""
    side = max(4.5, 1.5 + 0.6 * n_classes)
    return side + 1.0, side


def _figure(size: tuple[float, float]) -> Figure:
    # matplotlib writes a font cache on first import: keep it in our cache folder (as explain.py)
    from dysmorph_desk.utils import paths

    os.environ.setdefault("MPLCONFIGDIR", str(paths.cache_dir() / "matplotlib"))
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": "DysmorphDesk"})
    return write_bytes_atomic(path, buf.getvalue())


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def plot_roc(
    path: str | Path,
    band: RocBand,
    *,
    title: str,
    readers: Sequence[tuple[ReaderPoint, str]] | None = None,
    subtitle: str | None = None,
) -> Path:
    """The model's ROC with its bootstrap band and readers' points (seed study, Fig. 4).

    ``readers`` pairs each point with its verdict from ``compare_reader_to_band`` ("above",
    "below", "inside"), which is written next to the reader's name.
    """
    fig = _figure(ROC_SIZE)
    ax = fig.add_subplot()
    pct = round(band.level * 100)
    lo, hi = band.auc_ci
    ax.fill_between(
        band.fpr_grid,
        band.tpr_low,
        band.tpr_high,
        color=PALETTE[0],
        alpha=0.2,
        linewidth=0,
        label=f"{pct}% CI band ({band.n_boot} bootstrap resamples)",
    )
    ax.plot(
        band.fpr_grid,
        band.tpr,
        color=PALETTE[0],
        linewidth=2,
        label=f"model, AUC {band.auc:.3f} ({pct}% CI {lo:.3f}–{hi:.3f})",
    )
    ax.plot([0, 1], [0, 1], linestyle="--", color="#999999", linewidth=1, label="chance")
    for point, verdict in readers or ():
        if not (_finite(point.sensitivity) and _finite(point.specificity)):
            continue
        colour = VERDICT_COLOURS.get(verdict, "#000000")
        x, y = 1.0 - point.specificity, point.sensitivity
        ax.scatter(
            [x], [y], s=45, marker="D", color=colour, edgecolor="black", linewidth=0.6, zorder=5
        )
        right = x > 0.7  # keep the label inside the axes
        ax.annotate(
            f"{point.reader} ({verdict})",
            (x, y),
            xytext=(-7 if right else 7, -10 if y > 0.9 else 4),
            textcoords="offset points",
            fontsize=8,
            color=colour,
            ha="right" if right else "left",
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.7, "linewidth": 0},
        )
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("1 − specificity")
    ax.set_ylabel("sensitivity")
    ax.grid(True, linewidth=0.4, alpha=0.5)
    ax.legend(loc="lower right", fontsize=8)
    if subtitle:
        fig.suptitle(title, fontsize=12)
        ax.set_title(subtitle, fontsize=9)
    else:
        ax.set_title(title, fontsize=12)
    return _save(fig, path)


def plot_confusion(
    path: str | Path, matrix: Any, class_names: Sequence[str], *, title: str
) -> Path:
    """Counts per (true, predicted) cell: rows are true classes, columns predicted ones."""
    cm = np.asarray(matrix, dtype=np.int64)
    n = len(class_names)
    if cm.shape != (n, n):
        raise ValueError(f"matrix must be {n}x{n} for {n} class names, not {cm.shape}")
    fig = _figure(confusion_size(n))
    ax = fig.add_subplot()
    image = ax.imshow(cm, cmap=CMAP, vmin=0, vmax=max(int(cm.max()), 1) if cm.size else 1)
    fig.colorbar(image, ax=ax, label="photos")
    top = max(int(cm.max()), 1) if cm.size else 1
    for i in range(n):
        for j in range(n):
            # cividis is dark at the low end: light text there, dark text on the bright end
            colour = "black" if cm[i, j] > 0.6 * top else "white"
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", color=colour, fontsize=10)
    ax.set_xticks(
        range(n),
        labels=list(class_names),
        rotation=45 if n > 3 else 0,
        ha="right" if n > 3 else "center",
    )
    ax.set_yticks(range(n), labels=list(class_names))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=12)
    return _save(fig, path)


def _series(history: Sequence[dict], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for i, entry in enumerate(history):
        value = entry.get(key)
        if value is None or not _finite(value):
            continue
        epoch = entry.get("epoch")
        xs.append(float(epoch) if epoch is not None and _finite(epoch) else float(i + 1))
        ys.append(float(value))
    return xs, ys


def plot_training_curves(
    path: str | Path, histories: Sequence[Sequence[dict]], *, title: str
) -> Path:
    """Loss (train solid, validation dashed) and validation accuracy per fold against epoch.

    Entries lacking a key, or holding None/nan, are skipped for that key only, so a history
    logged before validation accuracy existed still plots its losses.
    """
    fig = _figure(CURVES_SIZE)
    ax_loss, ax_acc = fig.subplots(1, 2)
    drew_loss = drew_acc = False
    for k, history in enumerate(histories):
        colour = PALETTE[k % len(PALETTE)]
        fold = f"fold {k + 1}"
        labelled = False
        for key, style in (("train_loss", "-"), ("val_loss", "--")):
            xs, ys = _series(history, key)
            if xs:
                ax_loss.plot(
                    xs,
                    ys,
                    linestyle=style,
                    color=colour,
                    marker="." if len(xs) < 30 else None,
                    label=None if labelled else fold,
                )
                drew_loss = labelled = True
        xs, ys = _series(history, "val_accuracy")
        if xs:
            ax_acc.plot(xs, ys, color=colour, marker="." if len(xs) < 30 else None, label=fold)
            drew_acc = True
    for ax, drew, ylabel, name in (
        (ax_loss, drew_loss, "loss", "loss"),
        (ax_acc, drew_acc, "validation accuracy", "accuracy"),
    ):
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(True, linewidth=0.4, alpha=0.5)
        if drew:
            ax.legend(fontsize=7, ncols=2 if len(histories) > 5 else 1)
        else:
            ax.text(
                0.5,
                0.5,
                f"no {name} recorded",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color="#777777",
            )
    if drew_acc:
        ax_acc.set_ylim(-0.02, 1.02)
    ax_loss.set_title("loss (solid: train, dashed: validation)", fontsize=9)
    ax_acc.set_title("validation accuracy", fontsize=9)
    fig.suptitle(title, fontsize=12)
    return _save(fig, path)


def plot_reliability(path: str | Path, table: ReliabilityTable, *, title: str) -> Path:
    """Calibration curve (mean predicted vs observed syndromic rate) with the bin counts below."""
    fig = _figure(RELIABILITY_SIZE)
    ax, ax_hist = fig.subplots(2, 1, height_ratios=(3, 1), sharex=True)
    edges = np.asarray(table.edges, dtype=np.float64)
    counts = np.asarray(table.counts, dtype=np.int64)
    used = counts > 0
    mean_p = np.asarray(table.mean_p, dtype=np.float64)[used]
    rate = np.asarray(table.observed_rate, dtype=np.float64)[used]
    ax.plot(
        [0, 1], [0, 1], linestyle="--", color="#999999", linewidth=1, label="perfect calibration"
    )
    ece = f"{table.ece:.3f}" if _finite(table.ece) else "n/a"
    ax.plot(mean_p, rate, color=PALETTE[0], marker="o", label=f"model (ECE {ece})")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("observed syndromic fraction")
    ax.grid(True, linewidth=0.4, alpha=0.5)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title, fontsize=12)
    ax_hist.bar(
        edges[:-1], counts, width=np.diff(edges), align="edge", color=PALETTE[1], edgecolor="white"
    )
    ax_hist.set_xlabel("predicted probability of a syndrome")
    ax_hist.set_ylabel("photos")
    return _save(fig, path)
