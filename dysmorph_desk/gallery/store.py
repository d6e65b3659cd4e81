"""The ``.ddgallery`` file: one SQLite database, read whole, verified, and rewritten atomically.

Why SQLite, and why never opened in place:

* **One file, readable anywhere**: the tables below can be inspected with any SQLite tool, and
  nothing is unpickled (embeddings are little-endian float32 blobs, checked for size, finiteness
  and unit length on every read).
* **Read whole, in memory**: the file is read as bytes (a regular file of bounded size; a FIFO or
  a device is refused) and deserialised into an in-memory database, so reading never leaves a
  journal beside the gallery, never takes a lock, and a file changed mid-read cannot tear.
* **Written whole, atomically**: every change builds a fresh database in memory and writes its
  bytes with ``utils.atomic`` (temporary file, fsync, rename). A removed entry's bytes are not
  carried over, and a crash leaves the old gallery or the new one, never a mix. A write refuses
  when the file changed since it was read (another DysmorphDesk wrote it): run the command again.

Tables: ``meta`` (key, value): ``format``, ``format_version`` (1), ``title``, ``status``
(``clinic`` or ``demonstration``), ``created``, ``next_entry``, ``content_sha256``,
``signature``; ``embedding_sets`` (bundle_sha256, bundle_name, dim, threshold JSON or NULL);
``entries`` (number, disorder_id, disorder_name, patient_id, source, case_uid, added, photo);
``embeddings`` (entry, bundle_sha256, vector). See docs/gallery.md.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dysmorph_desk.errors import UsageError
from dysmorph_desk.gallery.errors import GalleryError
from dysmorph_desk.gallery.ids import DISORDER_ID_RE
from dysmorph_desk.gallery.model import (
    FORMAT,
    FORMAT_VERSION,
    SOURCES,
    STATUSES,
    UNIT_TOLERANCE,
    EmbeddingSet,
    Entry,
    Gallery,
    NoMatchThreshold,
    is_case_uid,
    is_sha256,
)
from dysmorph_desk.gallery.signing import GalleryTrust, assess, sign

log = logging.getLogger(__name__)

GALLERY_SUFFIX = ".ddgallery"
MAX_GALLERY_BYTES = 4 * 1024**3  # embeddings of 10,000 entries are ~20 MB; photos make it large
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SCHEMA = {
    "meta": ("key", "value"),
    "embedding_sets": ("bundle_sha256", "bundle_name", "dim", "threshold"),
    "entries": (
        "number",
        "disorder_id",
        "disorder_name",
        "patient_id",
        "source",
        "case_uid",
        "added",
        "photo",
    ),
    "embeddings": ("entry", "bundle_sha256", "vector"),
}
_CREATE = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE embedding_sets (
    bundle_sha256 TEXT PRIMARY KEY, bundle_name TEXT NOT NULL, dim INTEGER NOT NULL,
    threshold TEXT);
CREATE TABLE entries (
    number INTEGER PRIMARY KEY, disorder_id TEXT NOT NULL, disorder_name TEXT NOT NULL,
    patient_id TEXT NOT NULL, source TEXT NOT NULL, case_uid TEXT, added TEXT NOT NULL,
    photo BLOB);
CREATE TABLE embeddings (
    entry INTEGER NOT NULL REFERENCES entries(number),
    bundle_sha256 TEXT NOT NULL REFERENCES embedding_sets(bundle_sha256),
    vector BLOB NOT NULL, PRIMARY KEY (entry, bundle_sha256));
"""


class LoadedGallery(Gallery):
    """A gallery as read from a file: where from, the file's hash then, and its signature's say."""

    path: Path
    file_sha256: str
    read_digest: str
    trust: GalleryTrust

    def info(self) -> dict[str, Any]:
        """What the gallery holds, for ``gallery info --json`` (counts; no patient ids)."""
        entries = list(self.entries.values())
        return {
            "file": self.path.name,
            "title": self.title,
            "status": self.status,
            "created": self.created,
            "content_sha256": self.read_digest,
            "signature": self.trust.to_json(),
            "entries": len(entries),
            "patients": len({(e.disorder_id, e.patient_id) for e in entries}),
            "disorders": len({e.disorder_id for e in entries}),
            "local_disorders": len({e.disorder_id for e in entries if e.local}),
            "photos_kept": sum(e.photo is not None for e in entries),
            "case_store_entries": sum(e.case_uid is not None for e in entries),
            "models": [
                {
                    "bundle": s.bundle_name,
                    "bundle_sha256": s.bundle_sha256,
                    "dim": s.dim,
                    "entries": len(s),
                    "no_match_threshold": None if s.threshold is None else s.threshold.to_json(),
                }
                for s in self.sets.values()
            ],
        }


def _damaged(name: str, why: str) -> GalleryError:
    return GalleryError(f"{name}: the gallery is damaged ({why}); refusing it")


def _read_bytes(path: Path) -> bytes:
    from dysmorph_desk.utils.inputs import open_regular

    try:
        if not path.exists():
            raise GalleryError(f"gallery not found: {path.name}")
    except (OSError, ValueError):
        raise GalleryError(f"gallery not found: {path.name}") from None
    try:
        return open_regular(path, MAX_GALLERY_BYTES, error=GalleryError, kind="galleries")
    except GalleryError as exc:
        raise GalleryError(f"{path.name}: {exc}") from None


def read_gallery(path: str | Path) -> LoadedGallery:
    """Read, verify and return a gallery.

    The file must be a DysmorphDesk gallery of a format this version reads; every value is
    checked (ids, sources, embedding sizes, finite unit vectors, thresholds); the content SHA-256
    is recomputed and must match the stored one; a signature by a trusted key must verify.

    Args:
        path: the ``.ddgallery`` file.

    Returns:
        The gallery, with ``path``, ``file_sha256`` (of the bytes read), ``read_digest`` and
        ``trust`` (what its signature says).

    Raises:
        GalleryError: missing, not a gallery, damaged, tampered with, from a newer version, or
            signed by a trusted key with a signature that does not match (exit 4).

    Example:
        >>> gallery = read_gallery("clinic.ddgallery")  # doctest: +SKIP
        >>> len(gallery.entries), gallery.trust.reason  # doctest: +SKIP
        (412, 'signed by Clinic A (3f2a9c1e0b7d4e65)')
    """
    path = Path(path)
    name = path.name
    data = _read_bytes(path)
    if not data.startswith(_SQLITE_MAGIC):
        raise GalleryError(f"{name}: not a DysmorphDesk gallery")
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(data)
        conn.execute("PRAGMA trusted_schema = OFF")
        conn.execute("PRAGMA query_only = ON")
        gallery, stored_digest, signature = _load(conn, name)
    except sqlite3.Error as exc:
        raise _damaged(name, f"SQLite: {exc}") from None
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise _damaged(name, str(exc) or exc.__class__.__name__) from None
    finally:
        conn.close()
    digest = gallery.digest()
    if digest != stored_digest:
        raise GalleryError(
            f"{name}: content SHA-256 mismatch — the gallery was modified or damaged; refusing it"
        )
    loaded = LoadedGallery(**{f: getattr(gallery, f) for f in gallery.__dataclass_fields__})
    loaded.signature = signature
    loaded.path = path
    loaded.file_sha256 = hashlib.sha256(data).hexdigest()
    loaded.read_digest = digest
    loaded.trust = assess(signature, digest, name)
    return loaded


def _check_schema(conn: sqlite3.Connection, name: str) -> None:
    kinds = dict(
        conn.execute("SELECT name, type FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    )
    for table, columns in _SCHEMA.items():
        if kinds.get(table) != "table":
            raise GalleryError(f"{name}: not a DysmorphDesk gallery (no {table} table)")
        have = tuple(r[1] for r in conn.execute(f"PRAGMA table_info({table})"))
        if have != columns:
            raise ValueError(f"the {table} table has columns {', '.join(have)}")


def _load(conn: sqlite3.Connection, name: str) -> tuple[Gallery, str, str]:
    _check_schema(conn, name)
    meta = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
    if meta.get("format") != FORMAT:
        raise GalleryError(f"{name}: not a DysmorphDesk gallery")
    version = int(meta.get("format_version", "0"))
    if version > FORMAT_VERSION:
        raise GalleryError(
            f"{name}: gallery format {version} was written by a newer DysmorphDesk; update it"
        )
    if version != FORMAT_VERSION:
        raise GalleryError(f"{name}: gallery format {version} is not supported")
    if meta.get("status") not in STATUSES or not is_sha256(meta.get("content_sha256", "")):
        raise ValueError("its metadata are incomplete")
    gallery = Gallery(
        title=meta.get("title", ""),
        status=meta["status"],
        created=meta["created"],
        next_entry=int(meta["next_entry"]),
    )
    for sha, bundle_name, dim, threshold in conn.execute(
        "SELECT bundle_sha256, bundle_name, dim, threshold FROM embedding_sets"
    ):
        if not is_sha256(str(sha)) or not isinstance(dim, int) or not 1 <= dim <= 65536:
            raise ValueError("an embedding set is malformed")
        t = None if threshold is None else NoMatchThreshold.from_stored(str(threshold))
        gallery.sets[sha] = EmbeddingSet(sha, str(bundle_name), dim, threshold=t)
    for row in conn.execute(
        "SELECT number, disorder_id, disorder_name, patient_id, source, case_uid, added, photo"
        " FROM entries ORDER BY number"
    ):
        number, did, dname, pid, source, case_uid, added, photo = row
        if not isinstance(number, int) or not 1 <= number < gallery.next_entry:
            raise ValueError("an entry number is out of range")
        if not DISORDER_ID_RE.fullmatch(str(did)) or source not in SOURCES or not str(pid):
            raise ValueError(f"entry {number} is malformed")
        if (source == "case") != (case_uid is not None) or (
            case_uid is not None and not is_case_uid(str(case_uid))
        ):
            raise ValueError(f"entry {number} has a malformed case reference")
        if photo is not None and not isinstance(photo, bytes):
            raise ValueError(f"entry {number} has a malformed photo")
        gallery.entries[number] = Entry(
            number, str(did), str(dname), str(pid), str(source), case_uid, str(added), photo
        )
    for sha, s in gallery.sets.items():
        found = conn.execute(
            "SELECT entry, vector FROM embeddings WHERE bundle_sha256 = ? ORDER BY entry", (sha,)
        ).fetchall()
        numbers = np.array([r[0] for r in found], np.int64)
        blobs = [r[1] for r in found]
        if not all(isinstance(b, bytes) and len(b) == 4 * s.dim for b in blobs):
            raise ValueError(f"an embedding of {s.bundle_name} has the wrong size")
        if not np.all(np.isin(numbers, list(gallery.entries))):
            raise ValueError("an embedding belongs to no entry")
        vectors = np.frombuffer(b"".join(blobs), dtype="<f4").astype(np.float32)
        vectors = vectors.reshape(len(blobs), s.dim)
        norms = np.linalg.norm(vectors.astype(np.float64), axis=1)
        if not np.all(np.isfinite(vectors)) or np.any(np.abs(norms - 1.0) > UNIT_TOLERANCE):
            raise ValueError(f"an embedding of {s.bundle_name} is not a unit vector")
        gallery.sets[sha] = EmbeddingSet(
            s.bundle_sha256, s.bundle_name, s.dim, numbers, vectors, s.threshold
        )
    (orphans,) = conn.execute(
        "SELECT COUNT(*) FROM embeddings WHERE bundle_sha256 NOT IN"
        " (SELECT bundle_sha256 FROM embedding_sets)"
    ).fetchone()
    if orphans:
        raise ValueError("an embedding belongs to no set")
    return gallery, meta["content_sha256"], meta.get("signature", "")


def serialise(gallery: Gallery, signature: str) -> bytes:
    """The gallery as the bytes of a fresh SQLite database (content digest and signature set)."""
    digest = gallery.digest()
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(_CREATE)
        meta = {
            "format": FORMAT,
            "format_version": str(FORMAT_VERSION),
            "title": gallery.title,
            "status": gallery.status,
            "created": gallery.created,
            "next_entry": str(gallery.next_entry),
            "content_sha256": digest,
            "signature": signature,
        }
        conn.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
        conn.executemany(
            "INSERT INTO embedding_sets VALUES (?, ?, ?, ?)",
            [
                (
                    s.bundle_sha256,
                    s.bundle_name,
                    s.dim,
                    None if s.threshold is None else s.threshold.stored(),
                )
                for s in gallery.sets.values()
            ],
        )
        conn.executemany(
            "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    e.number,
                    e.disorder_id,
                    e.disorder_name,
                    e.patient_id,
                    e.source,
                    e.case_uid,
                    e.added,
                    e.photo,
                )
                for e in sorted(gallery.entries.values(), key=lambda e: e.number)
            ],
        )
        for s in gallery.sets.values():
            conn.executemany(
                "INSERT INTO embeddings VALUES (?, ?, ?)",
                [
                    (int(n), s.bundle_sha256, np.ascontiguousarray(v, "<f4").tobytes())
                    for n, v in zip(s.numbers, s.matrix, strict=True)
                ],
            )
        conn.commit()
        return bytes(conn.serialize())
    finally:
        conn.close()


def write_gallery(
    gallery: Gallery,
    path: str | Path,
    *,
    force: bool = False,
    key: Ed25519PrivateKey | str | Path | None = None,
) -> str:
    """Write ``gallery`` to ``path`` atomically; returns its content SHA-256.

    The signature is kept only while the content is what was signed (a gallery read and written
    unchanged); any change drops it unless ``key`` signs the new content.

    Args:
        gallery: the gallery (a ``LoadedGallery`` read from ``path`` may replace it).
        path: the ``.ddgallery`` file.
        force: replace an existing file that is not the gallery read from ``path``.
        key: an Ed25519 private key, or the path of its PEM file, to sign with.

    Raises:
        UsageError: the file exists (without ``force``), or changed since it was read.
        OutputError: it cannot be written (exit 2).
    """
    from dysmorph_desk.utils.atomic import write_bytes_atomic

    path = Path(path)
    digest = gallery.digest()
    same_file = isinstance(gallery, LoadedGallery) and _same(gallery.path, path)
    if same_file:
        assert isinstance(gallery, LoadedGallery)
        try:
            now = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            now = ""
        if now != gallery.file_sha256:
            raise UsageError(
                f"{path.name} changed while this command ran (another DysmorphDesk wrote it); "
                "run the command again"
            )
    if key is not None:
        signature = sign(key, digest)
    elif isinstance(gallery, LoadedGallery) and gallery.read_digest == digest:
        signature = gallery.signature
    else:
        signature = ""
    data = serialise(gallery, signature)
    write_bytes_atomic(path, data, force=force or same_file, keep_mode=True, sync_dir=True)
    if isinstance(gallery, LoadedGallery) and same_file:
        gallery.file_sha256 = hashlib.sha256(data).hexdigest()
        gallery.read_digest = digest
        gallery.signature = signature
    return digest


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
