"""Gallery test factories: random unit-vector galleries, a stand-in for a bundle (no model run), and
the CLI parser with ``gallery`` registered."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dysmorph_desk.gallery.model import Gallery

SHA = "1" * 64
OTHER_SHA = "2" * 64


@dataclass(frozen=True)
class FakeBundle:
    """What ranking needs of a bundle: its digest and name."""

    sha256: str = SHA
    name: str = "unit-model"


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def random_gallery(
    seed: int = 0,
    *,
    disorders: int = 12,
    max_patients: int = 4,
    max_photos: int = 3,
    dim: int = 16,
    local_every: int = 5,
) -> Gallery:
    """Disorders with 1..max_patients patients of 1..max_photos photos each, random unit vectors;
    every ``local_every``-th disorder has a LOCAL: id. Patient ids are "SECRET-<n>" (the privacy
    tests look for them in outputs)."""
    rng = np.random.default_rng(seed)
    g = Gallery(title="random")
    pid = 0
    for d in range(disorders):
        did = (
            f"LOCAL:fam-{d}"
            if local_every and d % local_every == local_every - 1
            else f"ORPHA:{100 + d}"
        )
        for _ in range(int(rng.integers(1, max_patients + 1))):
            pid += 1
            for v in unit_rows(rng, int(rng.integers(1, max_photos + 1)), dim):
                g.add(
                    did,
                    f"Disorder {d}",
                    f"SECRET-{pid:04d}",
                    {SHA: ("unit-model", v)},
                    source="data",
                )
    return g


def with_gallery_command(original: Callable[[], argparse.ArgumentParser]):
    """``cli.build_parser`` with ``gallery`` registered, whether or not the parser wires it yet."""
    from dysmorph_desk.cli.gallery import register

    def build() -> argparse.ArgumentParser:
        parser = original()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if "gallery" not in sub.choices:
            register(sub)
        return parser

    return build
