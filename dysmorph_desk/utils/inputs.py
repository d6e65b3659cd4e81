"""Bounded inputs: files read in bounded time and memory, text fields bounded and sanitised.

Everything the program reads from outside is untrusted: a "photo" may be a named pipe that never
ends, ``/dev/zero``, a symlink to a device, a folder, or a 3 GB file; a patient ID may carry
terminal escape sequences, lone surrogates from a non-UTF-8 command line, or a megabyte of text.

* :func:`open_regular` reads a file only if it is (or a symlink resolves to) a *regular* file no
  larger than a limit: the type is checked before opening, the file is opened non-blocking (a FIFO
  swapped in after the check cannot hang us) and checked again on the open descriptor, and at
  most ``max_bytes + 1`` bytes are ever read.
* :func:`clean_text` turns any ``str``/``bytes`` into valid, NFC-normalised text without control
  characters, or refuses it as too long (:class:`TextTooLong`, exit 2).
* :func:`terminal_safe` makes a name safe to print on a terminal (escapes, no control sequences).
  Text for the PDF goes through ``report.text.markup``, which drops XML-invalid characters and
  escapes.

The length limits live here, in one place. Stdlib only; no Qt.
"""

from __future__ import annotations

import csv
import io
import os
import stat
import unicodedata
from pathlib import Path

from dysmorph_desk.errors import DataError, ImageRefused, UsageError

__all__ = [
    "CAM_TARGET_MAX",
    "CLINIC_ADDRESS_MAX",
    "CLINIC_MAX",
    "LABEL_MAX",
    "MAX_PHOTO_BYTES",
    "NOTES_MAX",
    "OPERATOR_MAX",
    "PATIENT_ID_MAX",
    "TextTooLong",
    "clean_text",
    "human_bytes",
    "open_regular",
    "terminal_safe",
]

# ---------------------------------------------------------------------------------- limits

MAX_PHOTO_BYTES = 100_000_000  # 100 MB: larger "photos" are refused before reading

PATIENT_ID_MAX = 64
OPERATOR_MAX = 128
CLINIC_MAX = 128
CLINIC_ADDRESS_MAX = 256
NOTES_MAX = 4000
CAM_TARGET_MAX = 64
LABEL_MAX = 256  # any other one-line label (file names shown, model names, ...)

# A raw value this many times over its limit is refused without being cleaned, so that cleaning
# time stays bounded by the limit rather than by whatever was pasted. Cleaning can shrink text
# (control characters dropped, combining sequences composed) but never by anything near this.
_RAW_FACTOR = 8
_RAW_SLACK = 64

_CHUNK = 1 << 20

# ---------------------------------------------------------------------------------- files


def human_bytes(n: int) -> str:
    """A size in decimal units as people read them: '512 bytes', '3.2 GB', '100 MB'."""
    if n < 1000:
        return f"{n} byte" + ("" if n == 1 else "s")
    value = float(n)
    for unit in ("KB", "MB", "GB", "TB", "PB"):
        value /= 1000.0
        if value < 999.95 or unit == "PB":
            text = f"{value:.1f}".removesuffix(".0")
            return f"{text} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def kind_of(mode: int) -> str | None:
    """Why a file of this mode is refused, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is not a regular file"


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    reason = exc.strerror or type(exc).__name__
    return f"could not read the file: {reason}"


def _check_before_open(path: str | os.PathLike[str], error: type[Exception]) -> None:
    """Refuse anything but a regular file (symlinks followed) without opening it."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise error(_os_reason(exc)) from None
    except ValueError:  # an embedded NUL, a name the file system cannot encode
        raise error("invalid file name") from None
    reason = kind_of(st.st_mode)
    if reason is not None:
        raise error(reason)


def _too_large(size: int, max_bytes: int, kind: str) -> str:
    shown, limit = human_bytes(size), human_bytes(max_bytes)
    if shown == limit:  # just over: rounded, both would read the same
        shown, limit = f"{size:,} bytes", f"{max_bytes:,} bytes"
    return f"the file is {shown}; {kind} over {limit} are refused"


def open_regular(
    path: str | os.PathLike[str],
    max_bytes: int = MAX_PHOTO_BYTES,
    *,
    error: type[Exception] = ImageRefused,
    kind: str = "photos",
) -> bytes:
    """Read a whole regular file of at most ``max_bytes`` bytes, or raise ``error(reason)``.

    Symlinks are followed, but what they resolve to must be a regular file: folders, named pipes,
    devices (``/dev/zero``) and sockets are refused from ``stat`` before anything is opened. The
    file is then opened non-blocking (where the OS has ``O_NONBLOCK``), so a FIFO put in its place
    after the check cannot block, and checked again on the open descriptor. A file larger than
    ``max_bytes`` is refused before reading; one that grows while read is refused after at most
    ``max_bytes + 1`` bytes.

    Args:
        path: The file (``str`` with surrogate escapes, i.e. a non-UTF-8 name, is fine).
        max_bytes: The largest file accepted, in bytes (default ``MAX_PHOTO_BYTES``, 100 MB).
        error: The exception class raised with the one-line reason (``ImageRefused``, exit 3, by
            default; ``DataError`` or ``UsageError`` for other inputs).
        kind: What is being read, plural, for the size message ("photos over 100 MB are refused").

    Returns:
        The file's bytes (possibly empty: the caller decides whether an empty file is an error).

    Raises:
        ``error``: missing, unreadable, not a regular file, or larger than ``max_bytes``; the
            message is one line without the path (the caller names the file if it may).
        ValueError: ``max_bytes`` is negative.
    """
    if max_bytes < 0:
        raise ValueError("max_bytes must not be negative")
    _check_before_open(path, error)
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NONBLOCK", 0)
        | getattr(os, "O_NOCTTY", 0)
        | getattr(os, "O_CLOEXEC", 0)
        | getattr(os, "O_BINARY", 0)
    )
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise error(_os_reason(exc)) from None
    except ValueError:
        raise error("invalid file name") from None

    try:
        try:
            st = os.fstat(fd)
        except OSError as exc:
            raise error(_os_reason(exc)) from None
        reason = kind_of(st.st_mode)
        if reason is not None:
            raise error(reason)
        if st.st_size > max_bytes:
            raise error(_too_large(st.st_size, max_bytes, kind))
        # Regular files ignore O_NONBLOCK. Read in a loop: network and FUSE file systems may
        # return short reads, and the file may change size while it is read. One byte past the
        # size fstat gave tells us it grew; it is then read on in chunks, never past the limit.
        limit = max_bytes + 1
        want = min(st.st_size + 1, limit)
        chunks: list[bytes] = []
        total = 0
        while True:
            try:
                chunk = os.read(fd, want - total)
            except OSError as exc:
                raise error(_os_reason(exc)) from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total >= limit:
                break
            if total >= want:
                want = min(total + _CHUNK, limit)
        if total > max_bytes:
            raise error(
                f"the file grew while it was read; {kind} over {human_bytes(max_bytes)} are refused"
            )
    finally:
        os.close(fd)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


# ---------------------------------------------------------------------------------- text


class TextTooLong(UsageError, ValueError):
    """A text field over its limit (exit 2). Also a ValueError, as the dataclass checks raise."""

    def __init__(self, field: str, max_len: int) -> None:
        self.field = field
        self.max_len = max_len
        super().__init__(f"{field} is longer than {max_len} characters")


# Characters dropped from every field besides C0/C1 controls: bidi embeddings/overrides/isolates
# (they can make an ID display as another), the BOM / zero-width no-break space, and the
# noncharacters U+FFFE/U+FFFF (invalid in XML, so in the report's markup).
_DROP = frozenset([*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF, 0xFFFE, 0xFFFF])
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


MAX_CSV_BYTES = 50_000_000  # a data or gallery CSV of a few hundred thousand rows


def read_csv_rows(
    path: str | os.PathLike[str], *, max_bytes: int = MAX_CSV_BYTES, kind: str = "CSV files"
) -> list[dict[str, str]]:
    """The rows of a CSV with a header line, as dicts: one reader for every CSV the app takes in.

    Read through :func:`open_regular` (no FIFOs or devices, a size limit), as UTF-8 with or
    without the byte-order mark a spreadsheet writes.

    Raises:
        DataError: not a regular file, too large, not UTF-8, or malformed CSV (exit 3), in one
            line that names the file.
    """
    name = Path(path).name
    try:
        data = open_regular(path, max_bytes, error=DataError, kind=kind)
    except DataError as exc:  # its reasons leave the path out: say which CSV
        raise DataError(f"{name}: {exc}") from None
    try:
        return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{name}: unreadable CSV ({exc.__class__.__name__})") from None


def _from_surrogates(value: str) -> str:
    """Undo surrogate escapes (os.fsdecode of a non-UTF-8 name): bytes -> U+FFFD."""
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # Surrogates that are not escapes of bytes (U+D800..U+DC7F, U+DD00..U+DFFF) cannot be
        # re-encoded at all: replace them first.
        value = "".join(
            "\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF and not 0xDC80 <= ord(ch) <= 0xDCFF else ch
            for ch in value
        )
        raw = value.encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "replace")


def _is_control(code: int) -> bool:
    return code < 0x20 or 0x7F <= code <= 0x9F


def clean_text(value: str | bytes, max_len: int, field: str, *, multiline: bool = False) -> str:
    """Bounded, sanitised text from anything a user, a file or the command line gave us.

    * ``bytes`` are decoded as UTF-8 (invalid sequences become U+FFFD); a ``str`` carrying lone
      surrogates (``os.fsdecode``/``sys.argv`` of non-UTF-8 bytes) is re-decoded the same way.
    * NFC normalisation (an "é" typed two ways is one ID).
    * C0/C1 control characters (ESC, NUL, DEL...) are removed. Line breaks (``\\r\\n``, ``\\r``,
      U+2028...) become ``\\n`` and tabs stay in a ``multiline`` field; in a one-line field both
      become a space. Bidi overrides, the BOM and the noncharacters U+FFFE/U+FFFF are removed.
    * Leading and trailing whitespace is stripped.

    Args:
        value: The text (``str`` or UTF-8 ``bytes``).
        max_len: Most characters (code points, after cleaning) accepted.
        field: The field as the user knows it, for the error ("--patient-id", "Patient ID").
        multiline: Keep line breaks and tabs (notes, an address).

    Returns:
        The cleaned text, at most ``max_len`` characters, without control characters except
        ``\\n``/``\\t`` in a multiline field.

    Raises:
        TextTooLong: the cleaned text is longer than ``max_len`` (or the raw text is far longer,
            over ``8 * max_len + 64``: refused without cleaning, to bound the work).
        TypeError: ``value`` is neither ``str`` nor ``bytes``.

    Example:
        >>> clean_text("  P-01\\x1b[31m\\n", 64, "--patient-id")
        'P-01[31m'
        >>> clean_text(b"Ren\\xc3\\xa9e\\xff", 64, "--operator")
        'Renée\\ufffd'
    """
    if max_len < 0:
        raise ValueError("max_len must not be negative")
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if len(raw) > _RAW_FACTOR * 4 * max_len + _RAW_SLACK:
            raise TextTooLong(field, max_len)
        text = raw.decode("utf-8", "replace")
    elif isinstance(value, str):
        text = value
    else:
        raise TypeError(f"{field} must be text, not {type(value).__name__}")
    if len(text) > _RAW_FACTOR * max_len + _RAW_SLACK:
        raise TextTooLong(field, max_len)
    text = _from_surrogates(text)
    text = text.replace("\r\n", "\n")

    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if ch in _LINE_BREAKS:
            out.append("\n" if multiline else " ")
        elif ch == "\t":
            out.append("\t" if multiline else " ")
        elif _is_control(code) or code in _DROP:
            continue
        else:
            out.append(ch)
    # NFC after filtering: composition never produces a control or a dropped character.
    cleaned = unicodedata.normalize("NFC", "".join(out)).strip()
    if len(cleaned) > max_len:
        raise TextTooLong(field, max_len)
    return cleaned


def terminal_safe(s: str, max_len: int = 200) -> str:
    """A name fit to print on a terminal or in a log line: escapes instead of control sequences.

    Control characters (ESC, CR, BEL...), bidi and other invisible format characters, and
    anything else not printable become ``\\x1b``/``\\u202e``-style escapes; surrogate escapes of a
    non-UTF-8 file name show the original byte (``\\xff``). The result is cut to ``max_len``
    characters, ending in "…" when cut (an escape is never cut in half).
    """
    if max_len < 1:
        raise ValueError("max_len must be at least 1")
    pieces: list[str] = []
    length = 0
    cut = False
    for ch in str(s):
        code = ord(ch)
        if ch == " " or ch.isprintable():
            piece = ch
        elif 0xDC80 <= code <= 0xDCFF:
            piece = f"\\x{code - 0xDC00:02x}"
        elif code <= 0xFF:
            piece = f"\\x{code:02x}"
        elif code <= 0xFFFF:
            piece = f"\\u{code:04x}"
        else:
            piece = f"\\U{code:08x}"
        if length + len(piece) > max_len:
            cut = True
            break
        pieces.append(piece)
        length += len(piece)
    if cut:
        while pieces and length + 1 > max_len:
            length -= len(pieces.pop())
        pieces.append("…")
    return "".join(pieces)


def is_inside(path: Path, root: Path) -> bool:
    """Does ``path`` (symlinks resolved) lie inside ``root``? A photo a data file links from
    outside its folder is not read (``train``, ``gallery build``, ``evaluate-gallery``)."""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):
        return False
    return True
