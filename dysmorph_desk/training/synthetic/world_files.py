"""What a synthetic syndrome world writes besides its photos: the README (what it is, synthetic,
first; how it was made; which files hold what; the credit the Human Phenotype Ontology asks for),
the entries of syndromes.json, and CSV text."""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import TYPE_CHECKING

from dysmorph_desk.training.synthetic.features import FEATURES, MEASURES, measured_effect
from dysmorph_desk.training.synthetic.hpo_source import HpoData
from dysmorph_desk.training.synthetic.syndromes import (
    FREQUENT,
    FREQUENT_MIN_IDENTITIES,
    GALLERY_FRACTION,
    QUERY_FRACTION,
    RARE_MAX_IDENTITIES,
    Syndrome,
)

if TYPE_CHECKING:
    from dysmorph_desk.training.synthetic.world import WorldSpec


def csv_bytes(header: tuple[str, ...] | list[str], rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def feature_catalogue() -> list[dict]:
    return [
        {
            "feature": f.name,
            "axis": f.axis,
            "hpo_id": f.hpo_id,
            "hpo_name": f.hpo_name,
            "amount": list(f.amount),
            "unit": f.unit,
            "measure": f.measure,
            "measure_description": MEASURES[f.measure][0],
            "effect_on_canonical_face": {
                "level_0": round(measured_effect(f.name, 0.0), 4),
                "level_1": round(measured_effect(f.name, 1.0), 4),
            },
        }
        for f in FEATURES
    ]


def syndrome_json(s: Syndrome, hpo: HpoData, roles: Counter) -> dict:
    return {
        "syndrome": s.key,
        "disorder_id": s.disease_id,
        "disorder_name": s.disease_name,
        "frequency": s.frequency,
        "n_identities": s.n_identities,
        "identities_by_role": dict(sorted(roles.items())),
        "facial_findings": [
            {
                "feature": f.feature,
                "hpo_id": f.hpo_id,
                "hpo_name": hpo.name(f.hpo_id),
                "feature_term": f.spec.hpo_id,
                "level": f.level,
                "effect_on_canonical_face": round(measured_effect(f.feature, f.level), 4),
            }
            for f in s.findings
        ],
        "non_facial_terms": [{"hpo_id": t, "hpo_name": hpo.name(t)} for t in s.body_terms],
        "true_terms": list(s.true_terms),
    }


def _span(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}-{pair[1]}"


def world_readme(
    spec: WorldSpec,
    seed: int,
    hpo_version: str,
    syndromes: list[Syndrome],
    n_children: int,
    n_photos: int,
    roles: Counter,
) -> str:
    """The README text; every number in it is computed from the world just made."""
    n_freq = sum(s.frequency == FREQUENT for s in syndromes)
    t = spec.terms
    levels = "any" if t.ancestor_levels is None else f"at most {t.ancestor_levels}"
    role_text = ", ".join(f"{k} {v}" for k, v in sorted(roles.items()))
    return "\n".join(
        [
            "DysmorphDesk synthetic syndrome world",
            "=====================================",
            "",
            "SYNTHETIC DATA FOR DEMONSTRATION AND MEASUREMENT ONLY. These are not photographs of",
            "patients and the HPO terms are simulated; nothing here is clinical information. Rates",
            "measured on this world test the software's machinery; they are not comparable with",
            "clinical figures (e.g. GestaltMatcher's) and say nothing about real patients.",
            "",
            f"Seed: {seed}    HPO release: {hpo_version}",
            f"Syndromes: {len(syndromes)} ({n_freq} frequent, {len(syndromes) - n_freq} rare)",
            f"Children: {n_children} ({spec.unrelated} with no syndrome)    Photos: {n_photos}",
            f"Photos by role: {role_text}",
            "",
            "Syndromes",
            "---------",
            "Each synthetic syndrome borrows one real OMIM or Orphanet disease from the HPO",
            "annotations (phenotype.hpoa). Its face shows the drawable facial features that disease is",
            f"annotated with (2-{spec.max_features} of them, e.g. Hypertelorism -> wider-set eyes), each a",
            "smooth local warp at a level drawn per syndrome; any two syndromes differ in at least",
            "two features. Its true terms are those facial terms plus up to",
            f"{spec.body_terms} of the disease's terms outside head/neck, eye and ear (more frequent ones",
            "more often). syndromes.json lists every syndrome, its disease, features, levels and terms,",
            "and the catalogue of features with each one's measured effect on the template face.",
            "",
            f"Frequent syndromes have {_span(spec.frequent_identities)} children "
            f"(at least {FREQUENT_MIN_IDENTITIES}); rare ones",
            f"{_span(spec.rare_identities)} (at most {RARE_MAX_IDENTITIES}). "
            f"Each child shows each facial feature with probability {spec.penetrance:g},",
            "at the syndrome's level times 0.75-1.25 (at least one feature always shows).",
            "",
            "Roles (cases.csv, column role; one file per role)",
            "-------------------------------------------------",
            f"  train     frequent syndromes only: the children left after {GALLERY_FRACTION:.0%} gallery and",
            f"            {QUERY_FRACTION:.0%} query (at least one each); for training an embedding model.",
            "  gallery   the disorders' known patients: frequent syndromes' gallery children, all but",
            "            one child of a rare syndrome, and the first photo of a rare syndrome's only child.",
            "  query     children to diagnose: query_type new_patient (a child not in the gallery), or",
            "            same_patient (the other photos of a rare syndrome's only child: easier, since",
            "            that child's first photo is in the gallery; report them apart).",
            "  unrelated children with no syndrome (label 'unrelated'), for the no-match rate.",
            "Train, gallery and query children are disjoint; all photos of a child share its role",
            "except the same_patient case above.",
            "",
            "Faces and photos",
            "----------------",
            "Children are mixed from the two public-domain portraits bundled with DysmorphDesk (Eileen",
            "Collins, NASA; Grace Hopper, U.S. Navy) and their mirrored halves, region by region (eyes,",
            "nose, mouth, rest), with their own skin tone and texture, hair colour and face shape.",
            "Each photo varies pose, size, lighting, background, blur, noise, JPEG quality and a mild",
            "expression (smile, raised brows, squint). masks/ holds the region the syndrome's warp moved",
            "(empty for unrelated children). age_months and sex are random metadata.",
            "",
            "Simulated clinician terms (after Koehler et al. 2009, Am J Hum Genet 85:457)",
            "----------------------------------------------------------------------------",
            f"From a child's true terms (the facial ones it shows, plus its syndrome's others): "
            f"{t.drop:.0%} dropped;",
            f"{t.imprecision:.0%} of the rest replaced by an ancestor ({levels} is_a steps up); then "
            f"{t.noise:g} x that many",
            "unrelated terms added (non-facial, unrelated to the disease's annotation and each other).",
            f"Unrelated children get {t.unrelated_case_terms} such terms. identities.csv records every step.",
            "",
            "Files",
            "-----",
            "cases.csv (path,label,patient_id,age_months,sex,syndrome,disorder_id,disorder_name,",
            "frequency,role,query_type,hpo_terms), train.csv, gallery.csv, query.csv, unrelated.csv",
            "(its rows by role; each readable as a labels CSV), identities.csv, syndromes.json,",
            "images/<disorder>/NNNNN.jpg, masks/<disorder>/NNNNN.png.",
            "",
            "Credits",
            "-------",
            f"Human Phenotype Ontology (release {hpo_version}), https://hpo.jax.org, and its disease",
            "annotations; disease names from OMIM (https://omim.org) and Orphanet",
            "(https://www.orpha.net) as distributed in the HPO annotations. See the HPO licence at",
            "https://hpo.jax.org/license and resources/hpo/LICENSE-NOTICE.txt.",
            "",
        ]
    )
