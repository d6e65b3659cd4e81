"""The engine's side of the app's Differential panel: HPO search, the gallery, the ranking.

Everything heavy happens here, in the worker process, on first use: the HPO ontology arrays
(``phenotype.load_ontology``, ~0.1 s, kept for the life of the process) and the clinic gallery
(``gallery.store.read_gallery``: verified, then kept until its file changes — its modification
time or size). The GUI process never loads either.

Screening results travel to the engine the way they come from it (pickled dataclasses), but only
what ranking needs (:func:`ranking_copy`: embeddings, not photos or heatmaps). A differential is
tied to exactly what it was ranked from by :func:`ranking_key`, so the app can refuse to export a
differential of another photo, another face or another set of models.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dysmorph_desk.engine import protocol as p
from dysmorph_desk.errors import UsageError
from dysmorph_desk.screening.results import ScreeningResult

if TYPE_CHECKING:
    from dysmorph_desk.gallery.store import LoadedGallery

log = logging.getLogger(__name__)

RankingKey = tuple[tuple[Any, ...], ...]


def ranking_key(results: Sequence[ScreeningResult]) -> RankingKey:
    """What a differential depends on, per photo: its SHA-256, the face screened, and per model
    its bundle digest, whether it assessed the face and a hash of the embedding it gave.

    Two result lists with the same key give the same ranking; a new photo, another face, hand-placed
    landmarks, another model set or a model that now cannot assess (a new age) all change it.
    """
    out = []
    for r in results:
        models = tuple(
            (
                m.bundle_sha256,
                bool(m.assessable),
                None
                if m.embedding is None
                else hashlib.sha256(np.ascontiguousarray(m.embedding, "<f4").tobytes()).hexdigest(),
            )
            for m in r.results
        )
        out.append((r.photo_sha256, int(r.face_index), models))
    return tuple(out)


def ranking_copy(result: ScreeningResult) -> ScreeningResult:
    """``result`` without its photo and per-model images (aligned faces, heatmaps): what ranking
    reads (embeddings, digests, assessability) in a fraction of the bytes."""
    models = []
    for m in result.results:
        images: dict[str, Any] = {
            f.name: None
            for f in dataclasses.fields(m)
            if f.name != "embedding" and isinstance(getattr(m, f.name), np.ndarray)
        }
        models.append(dataclasses.replace(m, **images))
    return dataclasses.replace(result, photo=None, results=models)


@dataclass(frozen=True)
class BundleRef:
    """A bundle as ranking needs it (``gallery.ranking.BundleLike``): its digest and name."""

    sha256: str
    name: str


def bundles_of(results: Sequence[ScreeningResult]) -> list[BundleRef]:
    """The models that screened ``results``, in their order: the gallery's embedding set is picked
    from these, not from the models loaded now (they may have changed since)."""
    seen: dict[str, BundleRef] = {}
    for r in results:
        for m in r.results:
            seen.setdefault(m.bundle_sha256, BundleRef(m.bundle_sha256, m.model))
    return list(seen.values())


def search_hits(req: p.HpoSearch) -> p.HpoHits:
    """Search-as-you-type over HPO names and synonyms (the ontology loads on the first search)."""
    from dysmorph_desk.phenotype import search

    hits = search(req.text, limit=req.limit)
    return p.HpoHits(req.text, [p.TermHit(h.id, h.name, h.matched, h.synonym) for h in hits])


def summary_of(gallery: LoadedGallery, file_bytes: int) -> p.GallerySummary:
    """What the panel shows of a gallery: no patient ids, counts and hashes only."""
    info = gallery.info()
    return p.GallerySummary(
        path=str(gallery.path),
        title=str(info["title"]),
        status=str(info["status"]),
        entries=int(info["entries"]),
        disorders=int(info["disorders"]),
        local_disorders=int(info["local_disorders"]),
        sha256=str(info["content_sha256"]),
        file_bytes=file_bytes,
        trust=gallery.trust.reason,
        models=[str(m["bundle"]) for m in info["models"]],
    )


class GalleryCache:
    """The last gallery read, kept while its file is unchanged (same path, mtime and size)."""

    def __init__(self) -> None:
        self._stamp: tuple[str, int, int] | None = None
        self._gallery: LoadedGallery | None = None
        self._summary: p.GallerySummary | None = None
        self.reads = 0  # how often a file was read (tests)

    def get(self, path: str) -> tuple[LoadedGallery, p.GallerySummary]:
        """The gallery at ``path``, read again only when the file changed.

        Raises:
            GalleryError: missing, damaged, tampered with (one line; exit class 4).
        """
        from dysmorph_desk.gallery.errors import GalleryError
        from dysmorph_desk.gallery.store import read_gallery

        resolved = Path(path).expanduser()
        try:
            st = resolved.stat()
        except OSError:
            raise GalleryError(f"gallery not found: {resolved.name}") from None
        stamp = (str(resolved.resolve()), st.st_mtime_ns, st.st_size)
        if stamp != self._stamp or self._gallery is None or self._summary is None:
            self._gallery, self._summary, self._stamp = None, None, None
            gallery = read_gallery(resolved)
            self.reads += 1
            log.info("gallery read: %d entries", len(gallery.entries))
            self._gallery, self._summary = gallery, summary_of(gallery, st.st_size)
            self._stamp = stamp
        return self._gallery, self._summary


def rank(req: p.Differential, cache: GalleryCache) -> p.DifferentialReady:
    """The differential of the photo(s) in ``req`` (one photo, or a visit's) against the gallery
    and the HPO terms; ``build_differential`` checks every input (one-line errors)."""
    from dysmorph_desk.differential.service import build_differential

    if not req.results:
        raise UsageError("screen a photo first: a differential ranks a screened face")
    gallery, summary = (None, None) if not req.gallery else cache.get(req.gallery)
    diff = build_differential(
        req.results,
        gallery=gallery,
        bundles=bundles_of(req.results),
        hpo_terms=list(req.hpo_terms),
        aggregate=req.aggregate,
    )
    return p.DifferentialReady(diff, ranking_key(req.results), summary)
