"""``train`` and ``compare`` end to end: faces, folds, final bundle, and the files in ``RUN/``."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from dysmorph_desk.bundles.cards import DEMO_LABEL
from dysmorph_desk.errors import DataError
from dysmorph_desk.training.config import TrainConfig
from dysmorph_desk.training.crossval import (
    CardText,
    cross_validate,
    pooled_out_of_fold,
    tested_only,
    train_final,
)
from dysmorph_desk.training.data import FaceSet, load_faceset
from dysmorph_desk.training.datasets import Sample
from dysmorph_desk.training.loop import make_runtime
from dysmorph_desk.utils.atomic import write_text_atomic

Say = Callable[[str], None]


def json_safe(obj: Any) -> Any:
    """NaN/inf become null and numpy scalars plain numbers, so metrics.json is strict JSON."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(json_safe(data), indent=2, ensure_ascii=False))


def write_figures(out: Path, fs: FaceSet, metrics: dict, results, band) -> list[Path]:
    """ROC with its band, confusion matrices, training curves and reliability diagram as PNG."""
    from dysmorph_desk.training import plots

    oof = tested_only(pooled_out_of_fold(fs, results))
    written = []
    title = f"{metrics['arch']} — {metrics['protocol']}"
    if metrics.get("status") == "demonstration":
        title = f"{DEMO_LABEL}; {title}"
    plots.plot_roc(
        out / "roc.png", band, title=f"ROC, pooled out-of-fold ({metrics['arch']})", subtitle=title
    )
    is_pos = fs.is_positive[oof["index"]]
    pred = oof["predicted"]
    binary = [
        [int(np.sum(~is_pos & ~pred)), int(np.sum(~is_pos & pred))],
        [int(np.sum(is_pos & ~pred)), int(np.sum(is_pos & pred))],
    ]
    plots.plot_confusion(
        out / "confusion.png",
        binary,
        ["not syndromic", "syndromic"],
        title=f"Confusion at each fold's threshold ({metrics['arch']})",
    )
    written += [out / "roc.png", out / "confusion.png"]
    if len(fs.classes) > 2:
        plots.plot_confusion(
            out / "confusion_classes.png",
            metrics["multiclass"]["confusion_matrix"],
            fs.classes,
            title=f"Confusion by class, arg-max ({metrics['arch']})",
        )
        written.append(out / "confusion_classes.png")
    plots.plot_training_curves(
        out / "training_curves.png",
        [r.history for r in results],
        title=f"Training curves per fold ({metrics['arch']})",
    )
    from dysmorph_desk.training.evaluation import reliability_table

    plots.plot_reliability(
        out / "reliability.png",
        reliability_table(is_pos, oof["p"]),
        title=f"Calibration after temperature scaling ({metrics['arch']})",
    )
    return [*written, out / "training_curves.png", out / "reliability.png"]


def run_training(
    samples: list[Sample],
    cfg: TrainConfig,
    out: Path,
    *,
    card: CardText | None = None,
    say: Say | None = None,
    restart: bool = False,
    export: bool = True,
    faceset: FaceSet | None = None,
) -> tuple[dict, Path | None]:
    """Cross-validate ``cfg.arch`` and (``export``) train the bundle on all data; returns
    (metrics, bundle path)."""
    from dysmorph_desk.nets import get_arch
    from dysmorph_desk.training.tables import cv_table

    say = say or (lambda m: None)
    rt = make_runtime(cfg.device, cfg.precision)
    say(
        f"device {rt.device}, precision {rt.precision}"
        + (f", DDP with {rt.world} processes" if rt.world > 1 else "")
    )
    spec = get_arch(cfg.arch)
    fs = faceset if faceset is not None else _faces(samples, spec.input_size, cfg, rt, say)
    metrics, results, band = cross_validate(fs, cfg, out, rt, say=say, restart=restart)
    metrics["status"] = (card or CardText()).status
    say(
        f"{cfg.arch}: mean AUC {metrics['mean']['auc']:.3f} ± {metrics['std']['auc']:.3f}, "
        f"95% CI {metrics['auc_ci95'][0]:.3f}–{metrics['auc_ci95'][1]:.3f}"
    )
    bundle = (
        train_final(fs, cfg, out, rt, metrics, results, card or CardText(), say=say)
        if export
        else None
    )
    if rt.is_main:
        write_figures(out, fs, metrics, results, band)
        write_text_atomic(out / "table.md", cv_table(metrics))
        write_json(out / "metrics.json", metrics)
    return metrics, bundle


def _faces(samples: list[Sample], size: int, cfg: TrainConfig, rt, say: Say) -> FaceSet:
    """Align once: under torchrun the first process aligns and fills the cache, the others read it."""
    if rt.world > 1:
        import torch.distributed as dist

        if not rt.is_main:
            dist.barrier()
        fs = load_faceset(samples, size, cfg.positive, say if rt.is_main else None)
        if rt.is_main:
            dist.barrier()
        return fs
    return load_faceset(samples, size, cfg.positive, say)


def run_compare(
    samples: list[Sample],
    cfg: TrainConfig,
    archs: list[str],
    out: Path,
    *,
    say: Say | None = None,
    restart: bool = False,
    export: bool = False,
    card: CardText | None = None,
) -> Path:
    """The same folds for every architecture; ``RUN/compare.md`` and ``RUN/compare.json``."""
    from dysmorph_desk.nets import get_arch
    from dysmorph_desk.training.tables import compare_table

    say = say or (lambda m: None)
    rt = make_runtime(cfg.device, cfg.precision)
    # Align at every input size first: the folds must be the same photos for every architecture.
    facesets = {}
    for size in sorted({get_arch(a).input_size for a in archs}):
        facesets[size] = _faces(samples, size, cfg, rt, say)
    usable = {size: [str(s.path) for s in fs.samples] for size, fs in facesets.items()}
    if len({tuple(v) for v in usable.values()}) > 1:
        raise DataError(
            "some photos have a usable face at one input size but not another "
            f"({', '.join(f'{k} px: {len(v)} photos' for k, v in usable.items())}); "
            "compare architectures with the same input size, or remove those photos"
        )
    runs = []
    for arch in archs:
        say(f"== {arch} ==")
        sub_card = (
            replace(card, name=f"{card.name}-{arch}" if card.name else None) if card else None
        )
        metrics, _ = run_training(
            samples,
            replace(cfg, arch=arch),
            out / arch,
            say=say,
            restart=restart,
            export=export,
            card=sub_card,
            faceset=facesets[get_arch(arch).input_size],
        )
        runs.append(metrics)
    hashes = {m["fold_assignment_sha"] for m in runs}
    if len(hashes) != 1:
        raise DataError("the architectures ended up with different folds; see each metrics.json")
    if not rt.is_main:
        return out / "compare.md"
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "compare.md", compare_table(runs))
    write_json(
        out / "compare.json",
        {
            "archs": archs,
            "fold_assignment_sha": hashes.pop(),
            "runs": [
                {
                    k: m[k]
                    for k in (
                        "arch",
                        "mean",
                        "std",
                        "auc_ci95",
                        "runtime_train_s",
                        "runtime_test_s_per_image",
                        "n_parameters",
                    )
                }
                for m in runs
            ],
        },
    )
    return out / "compare.md"
