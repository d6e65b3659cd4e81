"""The .ddgallery file: round trip, integrity (damage, tampering, signatures), atomic rewrites."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from dysmorph_desk.bundles import signing, trust
from dysmorph_desk.errors import UsageError
from dysmorph_desk.gallery.errors import GalleryError
from dysmorph_desk.gallery.model import Gallery, NoMatchThreshold
from dysmorph_desk.gallery.store import read_gallery, serialise, write_gallery
from tests.gallery.helpers import OTHER_SHA, SHA, random_gallery, unit_rows


def _edit(path: Path, sql: str, *params: object) -> None:
    """Change the file behind the gallery's back (as a tool, or an attacker, would)."""
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def _trusted_key(tmp_path: Path):
    priv, pub = signing.new_keypair(tmp_path / "keys" / "clinic.pem", "Clinic A")
    trust.trust_key(signing.load_public(pub), "research")
    return priv


def test_round_trip_keeps_everything(tmp_path):
    g = random_gallery(1)
    g.add(
        "OMIM:163950",
        "Noonan",
        "P-1",
        {SHA: ("unit-model", unit_rows(np.random.default_rng(2), 1, 16)[0])},
        source="photo",
        photo=b"\xff\xd8\xffjpeg",
    )
    g.remove([2, 3])
    t = NoMatchThreshold(0.4, 0.05, 1, 20, g.sets[SHA].entries_digest(), len(g.sets[SHA]), "now")
    g.calibrated(SHA, t)
    path = tmp_path / "g.ddgallery"
    digest = write_gallery(g, path)
    back = read_gallery(path)
    assert back.read_digest == digest == g.digest()
    assert back.entries == g.entries and back.next_entry == g.next_entry
    assert back.title == "random" and back.status == "clinic"
    s, r = g.sets[SHA], back.sets[SHA]
    assert np.array_equal(s.numbers, r.numbers) and np.array_equal(s.matrix, r.matrix)
    assert r.matrix.dtype == np.float32 and r.threshold == t
    assert back.trust.reason == "unsigned"


def test_numbers_are_never_reused(tmp_path):
    g = random_gallery(3, disorders=2)
    last = max(g.entries)
    g.remove([last])
    path = tmp_path / "g.ddgallery"
    write_gallery(g, path)
    back = read_gallery(path)
    entry = back.add("ORPHA:1", "x", "P", {SHA: ("unit-model", np.ones(16))}, source="photo")
    assert entry.number == last + 1


def test_the_file_is_plain_sqlite_with_the_documented_tables(tmp_path):
    path = tmp_path / "g.ddgallery"
    write_gallery(random_gallery(4), path)
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    photos = conn.execute("SELECT COUNT(*) FROM entries WHERE photo IS NOT NULL").fetchone()[0]
    conn.close()
    assert tables == {"meta", "embedding_sets", "entries", "embeddings"}
    assert meta["format"] == "dysmorph-desk-gallery" and meta["format_version"] == "1"
    assert photos == 0  # no photo unless one was given
    assert not list(tmp_path.glob("*-journal")) and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE entries SET disorder_id = 'ORPHA:999999' WHERE number = 1",
        "UPDATE entries SET patient_id = 'someone else' WHERE number = 1",
        "DELETE FROM embeddings WHERE entry = 1",
        "UPDATE embedding_sets SET bundle_name = 'other'",
        "UPDATE meta SET value = 'demonstration' WHERE key = 'status'",
    ],
)
def test_an_edit_is_detected_by_the_content_digest(tmp_path, sql):
    path = tmp_path / "g.ddgallery"
    write_gallery(random_gallery(5), path)
    _edit(path, sql)
    with pytest.raises(GalleryError, match="content SHA-256 mismatch") as err:
        read_gallery(path)
    assert err.value.exit_code == 4


def test_a_swapped_embedding_is_detected(tmp_path):
    path = tmp_path / "g.ddgallery"
    g = random_gallery(6)
    write_gallery(g, path)
    other = unit_rows(np.random.default_rng(9), 1, 16)[0].astype("<f4").tobytes()
    _edit(path, "UPDATE embeddings SET vector = ? WHERE entry = 1", other)
    with pytest.raises(GalleryError, match="content SHA-256 mismatch"):
        read_gallery(path)


def test_a_tampered_gallery_with_a_recomputed_digest_fails_its_trusted_signature(tmp_path):
    key = _trusted_key(tmp_path)
    path = tmp_path / "g.ddgallery"
    g = random_gallery(7)
    write_gallery(g, path, key=key)
    assert read_gallery(path).trust.verified
    signed = read_gallery(path).signature
    g.entries[1] = type(g.entries[1])(**{**g.entries[1].__dict__, "disorder_id": "ORPHA:999"})
    path.write_bytes(serialise(g, signed))  # the digest is recomputed; the signature is the old one
    with pytest.raises(GalleryError, match="modified after signing") as err:
        read_gallery(path)
    assert err.value.exit_code == 4


@pytest.mark.parametrize(
    "data",
    [b"", b"not a gallery", b"SQLite format 3\x00" + os.urandom(3000)],
    ids=["empty", "text", "random-after-magic"],
)
def test_damaged_files_are_refused_in_one_line(tmp_path, data):
    path = tmp_path / "g.ddgallery"
    path.write_bytes(data)
    with pytest.raises(GalleryError) as err:
        read_gallery(path)
    assert "\n" not in str(err.value) and err.value.exit_code == 4


def test_a_truncated_file_is_refused(tmp_path):
    path = tmp_path / "g.ddgallery"
    write_gallery(random_gallery(8), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(GalleryError):
        read_gallery(path)


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("UPDATE embeddings SET vector = zeroblob(12) WHERE entry = 1", "wrong size"),
        ("UPDATE embeddings SET vector = zeroblob(64) WHERE entry = 1", "not a unit vector"),
        ("UPDATE entries SET source = 'elsewhere' WHERE number = 1", "malformed"),
        ("UPDATE meta SET value = '2' WHERE key = 'format_version'", "newer DysmorphDesk"),
        ("DROP TABLE embeddings", "no embeddings table"),
    ],
)
def test_malformed_contents_are_named(tmp_path, sql, why):
    path = tmp_path / "g.ddgallery"
    write_gallery(random_gallery(9), path)
    _edit(path, sql)
    with pytest.raises(GalleryError, match=why):
        read_gallery(path)


def test_missing_and_special_files(tmp_path):
    with pytest.raises(GalleryError, match="gallery not found") as err:
        read_gallery(tmp_path / "none.ddgallery")
    assert err.value.exit_code == 4
    with pytest.raises(GalleryError):
        read_gallery(tmp_path)  # a folder
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.ddgallery"
        os.mkfifo(fifo)
        with pytest.raises(GalleryError, match="pipe"):
            read_gallery(fifo)


def test_signature_kept_while_unchanged_dropped_on_change(tmp_path):
    key = _trusted_key(tmp_path)
    path = tmp_path / "g.ddgallery"
    write_gallery(random_gallery(10), path, key=key)
    g = read_gallery(path)
    assert g.trust.verified and g.trust.key_name == "Clinic A"
    write_gallery(g, path)  # unchanged: still signed
    g = read_gallery(path)
    assert g.trust.verified
    g.remove([1])
    write_gallery(g, path)
    assert read_gallery(path).trust.reason == "unsigned"


def test_a_signature_by_an_untrusted_key_is_said(tmp_path):
    priv, _ = signing.new_keypair(tmp_path / "stranger.pem", "Stranger")
    path = tmp_path / "g.ddgallery"
    write_gallery(random_gallery(11), path, key=priv)
    g = read_gallery(path)
    assert g.trust.signed and not g.trust.verified and "untrusted" in g.trust.reason


def test_a_gallery_signature_is_not_a_bundle_signature(tmp_path):
    """Domain separation: the signed message names the gallery format."""
    from cryptography.exceptions import InvalidSignature

    from dysmorph_desk.gallery import signing as gsigning

    priv = signing.load_private(signing.new_keypair(tmp_path / "k.pem")[0])
    digest = random_gallery(12).digest()
    _, sig = signing.parse_slot(gsigning.sign(priv, digest))
    with pytest.raises(InvalidSignature):
        priv.public_key().verify(sig, signing.signed_message(digest))


def test_a_concurrent_change_is_not_overwritten(tmp_path):
    path = tmp_path / "g.ddgallery"
    write_gallery(random_gallery(13), path)
    first, second = read_gallery(path), read_gallery(path)
    first.remove([1])
    write_gallery(first, path)
    second.remove([2])
    with pytest.raises(UsageError, match="changed while this command ran"):
        write_gallery(second, path)
    assert 1 not in read_gallery(path).entries and 2 in read_gallery(path).entries


def test_an_existing_file_is_not_replaced_without_force(tmp_path):
    path = tmp_path / "g.ddgallery"
    path.write_text("keep me")
    with pytest.raises(UsageError, match="exists"):
        write_gallery(random_gallery(14), path)
    assert path.read_text() == "keep me"
    write_gallery(random_gallery(14), path, force=True)
    assert len(read_gallery(path).entries) == len(random_gallery(14).entries)


def test_empty_and_wrong_bundle_galleries_are_refused(tmp_path):
    path = tmp_path / "g.ddgallery"
    write_gallery(Gallery(), path)
    empty = read_gallery(path)
    with pytest.raises(GalleryError, match="empty") as err:
        empty.set_for(SHA, "unit-model")
    assert err.value.exit_code == 4
    g = random_gallery(15)
    with pytest.raises(GalleryError, match="not comparable"):
        g.set_for(OTHER_SHA, "other-model")
    g.remove(list(g.entries))
    with pytest.raises(GalleryError, match="empty"):
        g.set_for(SHA, "unit-model")


def test_invalid_entries_are_refused_before_anything_is_added():
    g = random_gallery(16, disorders=1)
    n = len(g.entries)
    with pytest.raises(UsageError):
        g.add("omim:1", "x", "P", {SHA: ("unit-model", np.ones(16))}, source="photo")
    with pytest.raises(ValueError, match="zero or holds invalid"):
        g.add("ORPHA:1", "x", "P", {SHA: ("unit-model", np.zeros(16))}, source="photo")
    with pytest.raises(ValueError, match="16 are expected"):
        g.add("ORPHA:1", "x", "P", {SHA: ("unit-model", np.ones(8))}, source="photo")
    with pytest.raises(ValueError, match="case uid"):
        g.add("ORPHA:1", "x", "P", {SHA: ("unit-model", np.ones(16))}, source="case")
    assert len(g.entries) == n and len(g.sets[SHA]) == n


def test_a_shareable_copy_keeps_embeddings_only(tmp_path):
    from dysmorph_desk.gallery.ranking import rank
    from tests.gallery.helpers import FakeBundle

    g = random_gallery(17)
    uid = "ab" * 16
    g.add(
        "ORPHA:1",
        "x",
        "P-case",
        {SHA: ("unit-model", np.ones(16))},
        source="case",
        case_uid=uid,
        photo=b"\xff\xd8\xffjpeg",
    )
    calibrate = NoMatchThreshold(0.3, 0.05, 1, 20, g.sets[SHA].entries_digest(), len(g.sets[SHA]))
    g.calibrated(SHA, calibrate)
    path = tmp_path / "shared.ddgallery"
    write_gallery(g.shareable(), path)
    copy = read_gallery(path)
    assert set(copy.entries) == set(g.entries)
    assert all(
        e.photo is None and e.case_uid is None and e.source == "shared"
        for e in copy.entries.values()
    )
    assert not {e.patient_id for e in g.entries.values()} & {
        e.patient_id for e in copy.entries.values()
    }
    pairs = {(g.entries[n].patient_id, copy.entries[n].patient_id) for n in g.entries}
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})  # one per patient
    q = np.random.default_rng(3).normal(size=16)
    a, b = rank(q, g, FakeBundle()), rank(q, copy, FakeBundle())
    assert a.disorders == b.disorders and b.threshold_current
