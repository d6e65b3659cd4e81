"""Do the heatmaps mean something? Two checks on held-out synthetic photos with known masks.

1. Localisation: how often the heatmap's peak falls inside the changed-region mask of
   syndromic-like photos, against chance (the mask's share of the aligned face).
2. Model randomisation (Adebayo et al. 2018, "Sanity checks for saliency maps"): re-initialise the
   weights and measure how much the heatmaps change (Spearman rank correlation) and whether the
   localisation falls to chance. A heatmap that survives randomisation explains the image, not
   the model.
Used by the tests and by ``benchmarks/cam_sanity.py`` (which prints the rates).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dysmorph_desk.bundles.format import LoadedBundle
from dysmorph_desk.errors import InputRefused
from dysmorph_desk.explain.methods import DEFAULT_CAM_METHOD
from dysmorph_desk.screening.options import ScreenOptions
from dysmorph_desk.screening.pipeline import Screener
from dysmorph_desk.screening.results import CaseInfo


@dataclass
class SaliencyReport:
    n_images: int
    hit_rate: float  # fraction of peaks inside the mask
    chance_rate: float  # mean mask share of the aligned face
    randomised_hit_rate: float
    mean_rank_correlation: float  # trained vs randomised heatmaps (near 0 = they differ)


def _peak_hits(screener: Screener, items: list[tuple[Path, Path]], method: str):
    hits, chance, heats = [], [], []
    for photo, mask_path in items:
        try:
            r = screener.screen(
                photo, CaseInfo(), ScreenOptions(cam_method=method, force_assess=True)
            )
        except InputRefused:
            continue
        m = r.results[0]
        mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        if mask is None or r.photo is None or m.heatmap_aligned is None or m.align_matrix is None:
            raise InputRefused(f"no mask or no heatmap for {photo.name}")
        if r.photo_scale != 1.0:
            mask = cv2.resize(
                mask, (r.photo.shape[1], r.photo.shape[0]), interpolation=cv2.INTER_NEAREST
            )
        s = m.heatmap_aligned.shape[0]
        mask_aligned = cv2.warpAffine(mask, m.align_matrix, (s, s), flags=cv2.INTER_NEAREST) > 127
        y, x = np.unravel_index(int(np.argmax(m.heatmap_aligned)), m.heatmap_aligned.shape)
        hits.append(bool(mask_aligned[y, x]))
        chance.append(float(mask_aligned.mean()))
        heats.append(m.heatmap_aligned)
    return hits, chance, heats


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra = np.argsort(np.argsort(a.ravel())).astype(np.float64)
    rb = np.argsort(np.argsort(b.ravel())).astype(np.float64)
    return float(np.corrcoef(ra, rb)[0, 1])


def syndromic_items(data: Path, limit: int | None = None) -> list[tuple[Path, Path]]:
    rows = [
        r for r in csv.DictReader((data / "labels.csv").open()) if r["label"] == "syndromic_like"
    ]

    def mask_of(rel: str) -> Path:
        return data / (rel.replace("images/", "masks/", 1).rsplit(".", 1)[0] + ".png")

    items = [(data / r["path"], mask_of(r["path"])) for r in rows]
    return items[:limit] if limit else items


def saliency_report(
    bundle: LoadedBundle,
    data: Path,
    *,
    method: str = DEFAULT_CAM_METHOD,
    limit: int | None = None,
    seed: int = 0,
) -> SaliencyReport:
    import dataclasses

    import torch

    from dysmorph_desk.training.bundle_io import TorchModel, load_torch_model

    items = syndromic_items(data, limit)
    hits, chance, heats = _peak_hits(Screener([bundle]), items, method)
    # the randomisation check: the same architecture with re-initialised weights (PyTorch side)
    torch.manual_seed(seed)
    _info, model = load_torch_model(bundle.info.path)
    for module in model.modules():
        reset = getattr(module, "reset_parameters", None)
        if callable(reset):
            reset()
    randomised = TorchModel(model.eval(), bundle.card.architecture)
    rand = dataclasses.replace(bundle, model=randomised)
    r_hits, _, r_heats = _peak_hits(Screener([rand]), items, method)
    n = min(len(heats), len(r_heats))
    rho = float(np.mean([_spearman(heats[i], r_heats[i]) for i in range(n)])) if n else float("nan")
    return SaliencyReport(
        len(hits), float(np.mean(hits)), float(np.mean(chance)), float(np.mean(r_hits)), rho
    )
