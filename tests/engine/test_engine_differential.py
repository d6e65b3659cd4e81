"""The engine's Differential requests (``HpoSearch``, ``GalleryInfo``, ``Differential``) through
``WorkerCore.handle``, as the worker process runs them: real HPO arrays, a tiny gallery written in
the test, the gallery cached until its file changes, and one-line refusals."""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os

import numpy as np
import pytest

from dysmorph_desk.engine import protocol as p
from dysmorph_desk.engine.differential import (
    BundleRef,
    bundles_of,
    ranking_copy,
    ranking_key,
)
from dysmorph_desk.engine.worker import WorkerCore
from dysmorph_desk.errors import UsageError
from dysmorph_desk.gallery.errors import GalleryError
from dysmorph_desk.gallery.store import write_gallery
from dysmorph_desk.phenotype import UnknownTermError
from tests.fakes import bare_result, model_result
from tests.gallery.helpers import SHA, random_gallery, unit_rows


def _ask(core: WorkerCore, body, req_id: int = 1) -> p.Reply:
    return core.handle(req_id, body, lambda _msg: None, lambda: False)


def _result_with(vector: np.ndarray, sha: str = SHA, photo: str = "a"):
    m = dataclasses.replace(
        model_result("unit-model"),
        bundle_sha256=sha,
        embedding=np.asarray(vector, np.float32),
        aligned_face=np.zeros((8, 8, 3), np.uint8),
        heatmap_aligned=np.zeros((8, 8), np.float32),
    )
    r = bare_result(m, sha=photo)
    return dataclasses.replace(r, photo=np.zeros((32, 32, 3), np.uint8))


def _error_class(name: str) -> type[Exception]:
    return {
        "UsageError": UsageError,
        "UnknownTermError": UnknownTermError,
        "GalleryError": GalleryError,
    }[name]


def _vector_of(gallery, disorder: str) -> np.ndarray:
    number = next(n for n, e in gallery.entries.items() if e.disorder_id == disorder)
    return gallery.sets[SHA].vector_of(number)


@pytest.fixture
def gallery_file(tmp_path):
    g = random_gallery(7)
    path = tmp_path / "clinic.ddgallery"
    write_gallery(g, path)
    return g, path


def test_hpo_search_finds_names_synonyms_and_ids_in_the_engine():
    core = WorkerCore()
    reply = _ask(core, p.HpoSearch("wide-set eyes", 5))
    assert reply.ok and reply.value.text == "wide-set eyes"
    first = reply.value.hits[0]
    assert (first.id, first.name, first.matched, first.synonym) == (
        "HP:0000316",
        "Hypertelorism",
        "Wide-set eyes",
        True,
    )
    by_id = _ask(core, p.HpoSearch("HP:0000316")).value.hits
    assert [(h.id, h.name) for h in by_id] == [("HP:0000316", "Hypertelorism")]
    assert len(_ask(core, p.HpoSearch("eye", 7)).value.hits) == 7
    refused = _ask(core, p.HpoSearch("--"))
    assert not refused.ok and refused.error_type == "UsageError" and "\n" not in refused.error


def test_gallery_summary_is_read_once_and_again_when_the_file_changes(gallery_file):
    g, path = gallery_file
    core = WorkerCore()
    summary = _ask(core, p.GalleryInfo(str(path))).value
    assert (summary.entries, summary.disorders, summary.status) == (len(g.entries), 12, "clinic")
    assert summary.sha256 == g.digest() and summary.file_bytes == path.stat().st_size
    assert summary.models == ["unit-model"] and summary.trust == "unsigned"
    assert summary.local_disorders == 2
    assert "SECRET-" not in repr(summary)  # counts and hashes only, no patient ids
    assert _ask(core, p.GalleryInfo(str(path))).value == summary
    cache = core._galleries()
    assert cache.reads == 1
    g.add(
        "OMIM:163950",
        "Noonan syndrome 1",
        "P-NEW",
        {SHA: ("unit-model", np.ones(16))},
        source="data",
    )
    write_gallery(g, path, force=True)
    os.utime(path, ns=(1, 1))  # a different mtime even on a coarse clock
    again = _ask(core, p.GalleryInfo(str(path))).value
    assert cache.reads == 2 and again.entries == len(g.entries) == summary.entries + 1


def test_differential_ranks_in_the_engine_with_real_hpo_terms(gallery_file):
    g, path = gallery_file
    core = WorkerCore()
    result = _result_with(_vector_of(g, "ORPHA:102"))
    sent = ranking_copy(result)
    assert sent.photo is None and sent.results[0].aligned_face is None
    assert sent.results[0].heatmap_aligned is None
    assert np.array_equal(sent.results[0].embedding, result.results[0].embedding)
    reply = _ask(core, p.Differential([sent], str(path), ["HP:0000316", "HP:0000494"]))
    assert reply.ok, reply.error
    ready = reply.value
    assert ready.key == ranking_key([result])  # what the app compares before exporting
    diff = ready.result
    assert [(t.id, t.label) for t in diff.hpo_terms] == [
        ("HP:0000316", "Hypertelorism"),
        ("HP:0000494", "Downslanted palpebral fissures"),
    ]
    assert diff.hpo_release and diff.gallery is not None and diff.gallery.sha256 == g.digest()
    own = next(r for r in diff.rows if r.disorder_id == "ORPHA:102")
    assert own.gestalt_distance == pytest.approx(0.0, abs=1e-5)
    assert any(r.phenotype_score is not None for r in diff.rows)
    assert ready.gallery is not None and ready.gallery.entries == len(g.entries)
    # the reply crosses the process boundary as the worker sends it
    a, b = mp.Pipe()
    a.send(reply)
    back = b.recv()
    assert back.value.result == diff and back.value.key == ready.key
    assert "SECRET-" not in repr(back.value)
    # terms alone, no gallery
    alone = _ask(core, p.Differential([sent], None, ["HP:0000316"])).value.result
    assert alone.gallery is None and all(r.phenotype_score is not None for r in alone.rows)
    assert core._galleries().reads == 1


def test_differential_refusals_are_one_line(gallery_file, tmp_path):
    g, path = gallery_file
    core = WorkerCore()
    ok = ranking_copy(_result_with(_vector_of(g, "ORPHA:100")))
    cases = [
        (p.Differential([ok], str(path), ["HP:9999999"]), "UnknownTermError", "HP:9999999"),
        (p.Differential([], str(path), []), "UsageError", "screen a photo first"),
        (p.Differential([ok], None, []), "UsageError", "gallery"),
        (
            p.Differential([ranking_copy(_result_with(np.ones(16), sha="9" * 64))], str(path)),
            "GalleryError",
            "not comparable",
        ),
        (p.Differential([ok], str(tmp_path / "gone.ddgallery")), "GalleryError", "not found"),
        (p.Differential([ok], str(path), aggregate="median"), "UsageError", "aggregate"),
    ]
    for body, kind, words in cases:
        reply = _ask(core, body)
        assert not reply.ok and reply.user_error, reply
        assert reply.error_type == kind and words in reply.error and "\n" not in reply.error
        assert _error_class(kind).exit_code == (4 if kind == "GalleryError" else 2)
    damaged = tmp_path / "damaged.ddgallery"
    data = bytearray(path.read_bytes())
    data[-200] ^= 0xFF
    damaged.write_bytes(bytes(data))
    reply = _ask(core, p.GalleryInfo(str(damaged)))
    assert not reply.ok and reply.error_type == "GalleryError" and "\n" not in reply.error


def test_the_ranking_key_follows_photo_face_models_and_embedding():
    rng = np.random.default_rng(0)
    v, w = unit_rows(rng, 2, 16)
    base = _result_with(v)
    key = ranking_key([base])
    assert ranking_key([dataclasses.replace(base, case=base.case)]) == key
    assert ranking_key([ranking_copy(base)]) == key  # what travels keys the same
    assert ranking_key([_result_with(v, photo="b")]) != key
    assert ranking_key([dataclasses.replace(base, face_index=2)]) != key
    assert ranking_key([_result_with(w)]) != key
    assert ranking_key([_result_with(v, sha="3" * 64)]) != key
    assert ranking_key([base, base]) != key
    assert bundles_of([base, _result_with(w)]) == [BundleRef(SHA, "unit-model")]
