"""Cross-validation as the seeds ran it, and the bundle trained on all data.

Per fold: train with early stopping on the (inner) validation part, fit the temperature and the
Youden threshold there, then score the untouched test part. The pooled out-of-fold predictions give
the AUC's bootstrap CI, the ROC band, calibration and subgroup metrics. The exported model is
trained on all photos for the median of the folds' best epochs; its temperature and threshold come
from the pooled out-of-fold logits. Every finished fold is written to ``RUN/folds/`` and every
finished epoch to ``RUN/checkpoints/``, so an interrupted run resumes where it stopped.

This module runs the folds; ``crossval_summary`` holds the fold results and pooled metrics and
``crossval_export`` the final model. Their public names are importable from here as well.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from dysmorph_desk.errors import Interrupted, UsageError
from dysmorph_desk.training.config import TrainConfig
from dysmorph_desk.training.crossval_export import CardText, _save_weights, train_final
from dysmorph_desk.training.crossval_summary import (
    FoldResult,
    p_syndromic,
    pooled_out_of_fold,
    protocol_text,
    summarise,
    tested_only,
)
from dysmorph_desk.training.data import FaceSet
from dysmorph_desk.training.loop import (
    Runtime,
    count_parameters,
    fit_temperature,
    predict_logits,
    softmax,
    train_model,
)
from dysmorph_desk.training.metrics import binary_metrics, youden_threshold
from dysmorph_desk.training.splits import FoldPlan, check_enough_patients, plan_folds
from dysmorph_desk.utils.atomic import write_bytes_atomic, write_text_atomic

__all__ = [
    "CardText",
    "FoldResult",
    "cross_validate",
    "p_syndromic",
    "pooled_out_of_fold",
    "protocol_text",
    "run_fold",
    "skipped_list",
    "summarise",
    "tested_only",
    "train_final",
]

log = logging.getLogger(__name__)
Say = Callable[[str], None]


def skipped_list(fs: FaceSet) -> list[list[str]]:
    """Photos without a usable face, by path relative to the data's common folder (listed so
    nothing is dropped silently, without spelling out where the user keeps them)."""
    import os

    if not fs.skipped:
        return []
    root = Path(
        os.path.commonpath(
            [str(s.path.parent) for s in fs.samples] + [str(p.parent) for p, _ in fs.skipped]
        )
    )
    return [
        [str(p.relative_to(root)) if p.is_relative_to(root) else p.name, r] for p, r in fs.skipped
    ]


def _data_fingerprint(fs: FaceSet) -> str:
    h = hashlib.sha256()
    for s in fs.samples:
        h.update(f"{s.path.resolve()}|{s.label}|{s.patient_id}\n".encode())
    return h.hexdigest()[:16]


def _prepare_run_dir(
    out: Path, cfg: TrainConfig, fs: FaceSet, restart: bool, rt: Runtime, say: Say
) -> None:
    """Claim ``out`` for this run, or recognise it as the same run to resume."""
    state = {"config": cfg.fingerprint(), "data": _data_fingerprint(fs), "arch": cfg.arch}
    marker = out / "run.json"
    keep: dict = {}
    if marker.is_file():
        try:
            old = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        same = {k: old.get(k) for k in state} == state
        if restart:
            if rt.is_main:
                for sub in ("folds", "checkpoints"):
                    shutil.rmtree(out / sub, ignore_errors=True)
        elif not same:
            raise UsageError(
                f"{out} holds a run with other settings or data; choose another --out, "
                f"or add --restart to discard it"
            )
        elif (out / "folds").is_dir():
            say(f"resuming the run in {out}")
        if same and not restart and "final" in old:
            keep["final"] = old["final"]
    elif out.exists() and any(out.iterdir()) and not restart:
        raise UsageError(
            f"{out} is not empty and holds no training run; choose another --out (or --restart)"
        )
    if rt.is_main:
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(
            marker,
            json.dumps(
                {**state, **keep, "started": datetime.now(UTC).isoformat(timespec="seconds")}
            ),
        )


def _fold_files(out: Path, k: int) -> tuple[Path, Path]:
    return out / "folds" / f"fold-{k}.json", out / "folds" / f"fold-{k}.npz"


def _load_fold(out: Path, k: int) -> FoldResult | None:
    meta_p, arr_p = _fold_files(out, k)
    if not (meta_p.is_file() and arr_p.is_file()):
        return None
    try:
        meta = json.loads(meta_p.read_text(encoding="utf-8"))
        with np.load(arr_p, allow_pickle=False) as arr:
            test_idx, test_logits = arr["test_idx"], arr["test_logits"]
    except (OSError, ValueError, KeyError):
        return None
    return FoldResult(test_idx=test_idx, test_logits=test_logits, **meta)


def _save_fold(out: Path, r: FoldResult, fs: FaceSet, plan: FoldPlan) -> None:
    """The fold's metrics (JSON) and its test predictions with labels and patient ids (npz), so
    every number can be recomputed and the split audited."""
    import io

    meta_p, arr_p = _fold_files(out, r.index)
    groups = np.array(fs.groups)
    buf = io.BytesIO()
    np.savez(
        buf,
        test_idx=r.test_idx,
        test_logits=r.test_logits,
        test_y=fs.y[plan.test],
        train_patients=np.unique(groups[plan.train]),
        val_patients=np.unique(groups[plan.val]),
        test_patients=np.unique(groups[plan.test]),
    )
    write_bytes_atomic(arr_p, buf.getvalue())
    meta = {k: v for k, v in asdict(r).items() if k not in ("test_idx", "test_logits")}
    write_text_atomic(meta_p, json.dumps(meta, indent=1, default=float))


def run_fold(
    fs: FaceSet,
    plan: FoldPlan,
    cfg: TrainConfig,
    rt: Runtime,
    out: Path,
    say: Say,
    show_bars: bool = True,
) -> FoldResult:
    from dysmorph_desk.nets import get_arch

    done = _load_fold(out, plan.index)
    if done is not None:
        say(f"fold {plan.index}/{cfg.folds}: done earlier (AUC {done.metrics['auc']:.3f})")
        return done
    spec = get_arch(cfg.arch)
    y, groups, pos = fs.y, fs.groups, fs.positive_idx
    sizes = {
        f"n_{part}_photos": len(idx)
        for part, idx in (("train", plan.train), ("val", plan.val), ("test", plan.test))
    }
    sizes.update(
        {
            f"n_{part}_patients": len({groups[i] for i in idx})
            for part, idx in (("train", plan.train), ("val", plan.val), ("test", plan.test))
        }
    )
    say(
        f"fold {plan.index}/{cfg.folds}: {sizes['n_train_photos']} train, {sizes['n_val_photos']} validation, "
        f"{sizes['n_test_photos']} test photos"
    )
    ckpt = out / "checkpoints" / f"fold-{plan.index}.pt"
    trained = train_model(
        cfg,
        fs.faces,
        y,
        plan.train,
        plan.val,
        len(fs.classes),
        rt,
        label=f"fold {plan.index}/{cfg.folds}",
        checkpoint=ckpt,
        say=say,
        show_bars=show_bars,
    )
    val_logits = predict_logits(trained.model, fs.faces[plan.val], spec.mean, spec.std, rt)
    temperature = fit_temperature(val_logits, y[plan.val])
    threshold = youden_threshold(
        fs.is_positive[plan.val], p_syndromic(val_logits, temperature, pos)
    )
    t1 = time.perf_counter()
    test_logits = predict_logits(trained.model, fs.faces[plan.test], spec.mean, spec.std, rt)
    runtime_test = (time.perf_counter() - t1) / max(len(plan.test), 1)
    metrics = binary_metrics(
        fs.is_positive[plan.test], p_syndromic(test_logits, temperature, pos), threshold
    )
    from dysmorph_desk.training.evaluation import multiclass_metrics

    multiclass = multiclass_metrics(y[plan.test], softmax(test_logits, temperature), fs.classes)
    result = FoldResult(
        plan.index,
        metrics,
        threshold,
        temperature,
        trained.best_epoch,
        trained.history,
        trained.runtime_s,
        runtime_test,
        sizes,
        plan.test,
        test_logits,
        multiclass,
    )
    say(
        f"fold {plan.index}/{cfg.folds}: accuracy {metrics['accuracy']:.3f}, recall {metrics['recall']:.3f}, "
        f"specificity {metrics['specificity']:.3f}, AUC {metrics['auc']:.3f} (threshold {threshold:.3f})"
    )
    if rt.is_main:
        if cfg.protocol == "holdout":  # this model is the one exported
            _save_weights(out / "folds" / "holdout-model.safetensors", trained.model)
        _save_fold(out, result, fs, plan)
        ckpt.unlink(missing_ok=True)
    return result


def _fold_hash(fs: FaceSet, plans: list[FoldPlan]) -> str:
    groups = fs.groups
    h = hashlib.sha256()
    for p in plans:
        h.update((",".join(sorted({groups[i] for i in p.test})) + "\n").encode())
    return h.hexdigest()[:16]


def cross_validate(
    fs: FaceSet,
    cfg: TrainConfig,
    out: Path,
    rt: Runtime,
    *,
    say: Say | None = None,
    restart: bool = False,
    show_bars: bool = True,
) -> tuple[dict, list[FoldResult], Any]:
    """Run (or resume) every fold; returns metrics.json's content, the fold results, the ROC band."""
    say = say or (lambda m: None)
    check_enough_patients(fs.patients_per_class(), cfg.folds, cfg.protocol)
    if rt.world > 1:  # the first process claims the folder; the others wait, then find it ready
        import torch.distributed as dist

        if rt.is_main:
            _prepare_run_dir(out, cfg, fs, restart, rt, say)
        dist.barrier()
    else:
        _prepare_run_dir(out, cfg, fs, restart, rt, say)
    plans = plan_folds(
        fs.y,
        fs.groups,
        folds=cfg.folds,
        protocol=cfg.protocol,
        val_fraction=cfg.val_fraction,
        seed=cfg.seed,
    )
    results = []
    for plan in plans:
        try:
            results.append(run_fold(fs, plan, cfg, rt, out, say, show_bars))
        except KeyboardInterrupt:
            raise Interrupted(
                f"interrupted in fold {plan.index}/{cfg.folds}; finished folds and epochs are kept "
                f"in {out}: run the same command again to resume"
            ) from None
    from dysmorph_desk.nets import create_model

    n_params = count_parameters(create_model(cfg.arch, len(fs.classes)))
    metrics, band = summarise(fs, cfg, results, n_params)
    metrics["fold_assignment_sha"] = _fold_hash(fs, plans)
    metrics["config"] = asdict(cfg)
    metrics["skipped"] = skipped_list(fs)
    metrics["precision_used"] = rt.precision
    metrics["device"] = rt.device
    return metrics, results, band
