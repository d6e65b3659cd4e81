"""Cross-validation as the seeds ran it, and the bundle trained on all data.

Per fold: train with early stopping on the (inner) validation part, fit the temperature and the
Youden threshold there, then score the untouched test part. The pooled out-of-fold predictions give
the AUC's bootstrap CI, the ROC band, calibration and subgroup metrics. The exported model is
trained on all photos for the median of the folds' best epochs; its temperature and threshold come
from the pooled out-of-fold logits. Every finished fold is written to ``RUN/folds/`` and every
finished epoch to ``RUN/checkpoints/``, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from dysmorph_desk import __version__
from dysmorph_desk.errors import Interrupted, UsageError
from dysmorph_desk.training.config import TrainConfig
from dysmorph_desk.training.data import FaceSet
from dysmorph_desk.training.loop import (
    Runtime,
    count_parameters,
    fit_temperature,
    predict_logits,
    softmax,
    train_model,
)
from dysmorph_desk.training.metrics import METRIC_KEYS, binary_metrics, youden_threshold
from dysmorph_desk.training.splits import FoldPlan, check_enough_patients, plan_folds
from dysmorph_desk.utils.atomic import write_bytes_atomic, write_text_atomic

log = logging.getLogger(__name__)
Say = Callable[[str], None]


@dataclass
class CardText:
    """What the exported bundle's card says about itself beyond the numbers."""

    name: str | None = None
    status: str = "research"
    training_summary: str = ""
    intended_use: str = ""
    class_names: dict[str, str] | None = None


@dataclass
class FoldResult:
    index: int
    metrics: dict[str, Any]
    threshold: float
    temperature: float
    best_epoch: int
    history: list[dict[str, float]]
    runtime_train_s: float
    runtime_test_s_per_image: float
    sizes: dict[str, int]
    test_idx: np.ndarray
    test_logits: np.ndarray
    multiclass: dict[str, Any] = field(
        default_factory=dict
    )  # one-vs-rest per class + macro, this fold

    def summary(self) -> dict[str, Any]:
        d = {k: self.metrics[k] for k in METRIC_KEYS}
        d.update({k: self.metrics[k] for k in ("tp", "fp", "fn", "tn")})
        d.update(
            {
                "fold": self.index,
                "threshold": self.threshold,
                "temperature": self.temperature,
                "best_epoch": self.best_epoch,
                "runtime_train_s": self.runtime_train_s,
                "runtime_test_s_per_image": self.runtime_test_s_per_image,
                **self.sizes,
                "history": self.history,
                "multiclass": self.multiclass,
            }
        )
        return d


def p_syndromic(logits: np.ndarray, temperature: float, positive_idx: list[int]) -> np.ndarray:
    return softmax(logits, temperature)[:, positive_idx].sum(1)


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


def _save_weights(path: Path, model) -> None:
    from safetensors.torch import save

    write_bytes_atomic(
        path, save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})
    )


def pooled_out_of_fold(fs: FaceSet, results: list[FoldResult]) -> dict[str, np.ndarray]:
    """Every photo's prediction from the fold that tested it (fold temperature and threshold)."""
    n, c = len(fs.samples), len(fs.classes)
    logits = np.full((n, c), np.nan)
    probs = np.full((n, c), np.nan)
    predicted = np.zeros(n, dtype=bool)
    fold = np.zeros(n, dtype=int)
    for r in results:
        logits[r.test_idx] = r.test_logits
        probs[r.test_idx] = softmax(r.test_logits, r.temperature)
        predicted[r.test_idx] = probs[r.test_idx][:, fs.positive_idx].sum(1) >= r.threshold
        fold[r.test_idx] = r.index
    return {
        "logits": logits,
        "probs": probs,
        "p": probs[:, fs.positive_idx].sum(1),
        "predicted": predicted,
        "fold": fold,
    }


def tested_only(oof: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The photos some fold tested (all of them in k-fold; the test part under holdout)."""
    idx = np.flatnonzero(oof["fold"] > 0)
    return {"index": idx, **{k: v[idx] for k, v in oof.items()}}


def summarise(
    fs: FaceSet, cfg: TrainConfig, results: list[FoldResult], n_parameters: int
) -> tuple[dict, Any]:
    """metrics.json's numbers (without the final model) and the ROC band for the plot."""
    from dysmorph_desk.training import evaluation as ev
    from dysmorph_desk.training.metrics import metrics_from_predictions

    oof = tested_only(pooled_out_of_fold(fs, results))  # every photo, except under holdout
    tested = oof["index"]
    is_pos = fs.is_positive[tested]
    folds = [r.summary() for r in results]
    mean, std = ev.summarise_folds([r.metrics for r in results])
    tested_groups = [fs.groups[i] for i in tested]
    by_patient = len(set(tested_groups)) < len(
        tested_groups
    )  # several photos of a child: resample children
    band = ev.roc_band(
        is_pos,
        oof["p"],
        n_boot=cfg.n_boot,
        seed=cfg.seed,
        groups=tested_groups if by_patient else None,
    )
    pooled = metrics_from_predictions(is_pos, oof["predicted"], oof["p"])
    raw_p = softmax(oof["logits"])[:, fs.positive_idx].sum(1)
    samples = [fs.samples[i] for i in tested]
    attributes = {
        "age_band": [ev.age_band(s.age_months) for s in samples],
        "sex": [s.sex for s in samples],
        "ethnicity": [s.ethnicity for s in samples],
    }
    metrics = {
        "arch": cfg.arch,
        "protocol": protocol_text(cfg),
        "classes": fs.classes,
        "positive": fs.positive,
        "n_photos": len(fs.samples),
        "n_patients": len(set(fs.groups)),
        "n_tested_photos": len(samples),  # all of them, except under holdout (its test part)
        "patients_per_class": fs.patients_per_class(),
        "folds": folds,
        "mean": {k: mean[k] for k in METRIC_KEYS},
        "std": {k: std[k] for k in METRIC_KEYS},
        "auc_ci95": list(band.auc_ci),
        "auc_ci95_method": (
            f"{'patient' if by_patient else 'photo'}-level stratified bootstrap of the pooled "
            f"out-of-fold predictions, {band.n_boot} resamples"
        ),
        "pooled": pooled,
        "multiclass": ev.multiclass_metrics(fs.y[tested], oof["probs"], fs.classes),
        "multiclass_folds": _multiclass_over_folds(results),
        "calibration": {
            "ece_uncalibrated": ev.expected_calibration_error(is_pos, raw_p),
            "ece_calibrated": ev.expected_calibration_error(is_pos, oof["p"]),
            "reliability": ev.reliability_table(is_pos, oof["p"]).to_dict(),
        },
        "subgroups": ev.subgroup_metrics(is_pos, oof["p"], oof["predicted"], attributes),
        "at_prevalence": ev.at_prevalence(pooled["recall"], pooled["specificity"], cfg.prevalence),
        "roc": band.to_dict(),
        "runtime_train_s": float(sum(r.runtime_train_s for r in results)),
        "runtime_test_s_per_image": float(np.mean([r.runtime_test_s_per_image for r in results])),
        "n_parameters": n_parameters,
    }
    return metrics, band


def _multiclass_over_folds(results: list[FoldResult]) -> dict[str, Any]:
    """Mean and SD over folds of the top-1 accuracy and the macro one-vs-rest metrics."""
    from dysmorph_desk.training.evaluation import summarise_folds

    rows = [
        {"accuracy": r.multiclass["accuracy"], **r.multiclass["macro"]}
        for r in results
        if r.multiclass
    ]
    if not rows:
        return {}
    keys = tuple(rows[0])
    mean, std = summarise_folds(rows, keys)
    return {"mean": mean, "std": std}


def protocol_text(cfg: TrainConfig) -> str:
    if cfg.protocol == "holdout":
        return "one patient-grouped stratified train/validation/test split 3:1:1; metrics on the test part"
    if cfg.protocol == "3:1:1":
        return (
            f"{cfg.folds}-fold patient-grouped stratified cross-validation, train/validation/test "
            f"{cfg.folds - 2}:1:1 per fold (seed 003)"
        )
    return (
        f"{cfg.folds}-fold patient-grouped stratified cross-validation, inner validation "
        f"{cfg.val_fraction:.0%} of each training part"
    )


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


def _final_done(out: Path, name: str | None) -> dict | None:
    """The exported bundle of an earlier run of the same command, if it is still there, intact."""
    from dysmorph_desk.bundles.format import read_header
    from dysmorph_desk.errors import BundleError

    try:
        final = json.loads((out / "run.json").read_text(encoding="utf-8")).get("final")
        if not final or (name and Path(final["bundle"]).stem != name):
            return None
        return final if read_header(final["bundle"]).sha256 == final["sha256"] else None
    except (OSError, ValueError, KeyError, BundleError):
        return None


def _holdout_model(fs: FaceSet, cfg: TrainConfig, out: Path, result: FoldResult):
    """The single split's own model, with the temperature and threshold fitted on its validation part."""
    from safetensors.torch import load_file

    from dysmorph_desk.nets import create_model
    from dysmorph_desk.training.loop import Trained

    model = create_model(cfg.arch, len(fs.classes))
    model.load_state_dict(load_file(str(out / "folds" / "holdout-model.safetensors")))
    model.eval()
    return (
        Trained(model=model, best_epoch=result.best_epoch),
        result.best_epoch,
        result.temperature,
        result.threshold,
    )


def train_final(
    fs: FaceSet,
    cfg: TrainConfig,
    out: Path,
    rt: Runtime,
    metrics: dict,
    results: list[FoldResult],
    text: CardText,
    *,
    say: Say | None = None,
    show_bars: bool = True,
) -> Path:
    """Train on all photos, calibrate on the pooled out-of-fold logits, write the bundle."""
    from dysmorph_desk.bundles.cards import ClassInfo, ModelCard
    from dysmorph_desk.bundles.format import save_bundle
    from dysmorph_desk.faces.align import template_description
    from dysmorph_desk.nets import get_arch

    say = say or (lambda m: None)
    spec = get_arch(cfg.arch)
    done = _final_done(out, text.name)
    if done is not None:
        say(
            f"final model: done earlier ({Path(done['bundle']).name}; --restart retrains everything)"
        )
        metrics["final"] = done
        return Path(done["bundle"])
    if cfg.protocol == "holdout":
        trained, epochs, temperature, threshold = _holdout_model(fs, cfg, out, results[0])
        say(
            f"exporting the model of the split (trained on its training part); temperature {temperature:.3f} "
            f"and threshold {threshold:.3f} from its validation part"
        )
    else:
        epochs = max(1, round(statistics.median(r.best_epoch for r in results)))
        oof = pooled_out_of_fold(fs, results)
        temperature = fit_temperature(oof["logits"], fs.y)
        threshold = youden_threshold(
            fs.is_positive, p_syndromic(oof["logits"], temperature, fs.positive_idx)
        )
        say(
            f"final model: all {len(fs.samples)} photos, {epochs} epochs (median best epoch of the folds); "
            f"temperature {temperature:.3f} and threshold {threshold:.3f} from the out-of-fold predictions"
        )
        try:
            trained = train_model(
                cfg,
                fs.faces,
                fs.y,
                np.arange(len(fs.samples)),
                np.array([], dtype=int),
                len(fs.classes),
                rt,
                label="final",
                checkpoint=out / "checkpoints" / "final.pt",
                fixed_epochs=epochs,
                say=say,
                show_bars=show_bars,
            )
        except KeyboardInterrupt:
            raise Interrupted(
                f"interrupted while training the final model; run the same command again to resume "
                f"(the folds are kept in {out})"
            ) from None
    name = text.name or f"{cfg.arch}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    names = text.class_names or {}
    ages = [s.age_months for s in fs.samples if s.age_months is not None]
    mean, std = metrics["mean"], metrics["std"]
    card_metrics: dict[str, Any] = {"protocol": metrics["protocol"], "n_folds": cfg.folds}
    card_metrics.update({k: round(float(v), 4) for k, v in mean.items() if np.isfinite(v)})
    card_metrics["auc_ci95"] = [round(float(v), 4) for v in metrics["auc_ci95"]]
    if cfg.folds > 1:
        card_metrics["sd"] = {k: round(float(v), 4) for k, v in std.items() if np.isfinite(v)}
    card_metrics["ece"] = round(float(metrics["calibration"]["ece_calibrated"]), 4)
    card_metrics["n_photos"], card_metrics["n_patients"] = (
        metrics["n_photos"],
        metrics["n_patients"],
    )
    card = ModelCard(
        name=name,
        architecture=cfg.arch,
        classes=[
            ClassInfo(c, names.get(c, c.replace("_", " ")), c in fs.positive) for c in fs.classes
        ],
        input_size=spec.input_size,
        mean=spec.mean,
        std=spec.std,
        alignment_template=template_description(),
        threshold=threshold,
        status=text.status,
        intended_use=text.intended_use
        or "Research use: screening aid for review by a clinician; not a diagnosis.",
        training_data={
            "summary": text.training_summary or fs.summary(),
            "n_photos": len(fs.samples),
            "n_patients": len(set(fs.groups)),
            "n_skipped": len(fs.skipped),
            "per_class_patients": fs.patients_per_class(),
        },
        validation_metrics=card_metrics,
        age_range_months=(min(ages), max(ages)) if ages else None,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        temperature=temperature,
        description=spec.description,
        software_version=__version__,
    )
    bundle_path = out / f"{name}.ddbundle"
    if rt.is_main:
        info = save_bundle(bundle_path, trained.model, card, force=True)
        metrics["final"] = {
            "epochs": epochs,
            "temperature": temperature,
            "threshold": threshold,
            "runtime_train_s": trained.runtime_s,
            "bundle": str(bundle_path),
            "sha256": info.sha256,
        }
        marker = out / "run.json"
        state = json.loads(marker.read_text(encoding="utf-8"))
        write_text_atomic(marker, json.dumps({**state, "final": metrics["final"]}))
        (out / "checkpoints" / "final.pt").unlink(missing_ok=True)
    return bundle_path
