"""Bounded inputs: only regular files of bounded size are read; text fields are bounded and clean."""

from __future__ import annotations

import os
import random
import sys
import threading
import unicodedata
from pathlib import Path

import pytest

from dysmorph_desk.errors import DataError, ImageRefused, UsageError
from dysmorph_desk.utils import inputs
from dysmorph_desk.utils.inputs import (
    NOTES_MAX,
    PATIENT_ID_MAX,
    TextTooLong,
    clean_text,
    human_bytes,
    open_regular,
    read_csv_rows,
    terminal_safe,
)

POSIX = os.name == "posix"


def _in_thread(fn, timeout: float = 20.0):
    """Run ``fn`` in a daemon thread; fail (instead of hanging the run) if it does not return."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    return thread, box


def _release_fifo(path: Path) -> None:
    """Unblock a reader stuck opening ``path`` (if any) so the thread can end."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    os.close(fd)


def _refused(fn, match: str | None = None, error: type[Exception] = ImageRefused) -> str:
    thread, box = _in_thread(fn)
    assert not thread.is_alive(), "the read blocked"
    exc = box.get("error")
    assert isinstance(exc, error), f"expected {error.__name__}, got {exc!r}"
    msg = str(exc)
    assert "\n" not in msg
    if match is not None:
        assert match in msg, msg
    return msg


# ---------------------------------------------------------------------------------- files


def test_reads_a_regular_file_and_a_symlink_to_one(tmp_path):
    target = tmp_path / "photo.bin"
    target.write_bytes(b"abc" * 1000)
    assert open_regular(target) == b"abc" * 1000
    assert open_regular(str(target), 3000) == b"abc" * 1000  # exactly the limit is fine
    if POSIX:
        link = tmp_path / "link.jpg"
        link.symlink_to(target)
        assert open_regular(link) == b"abc" * 1000


def test_empty_file_is_read_as_empty(tmp_path):
    (tmp_path / "e").write_bytes(b"")
    assert open_regular(tmp_path / "e") == b""


def test_size_limit_refused_before_reading(tmp_path):
    path = tmp_path / "big.jpg"
    path.write_bytes(b"x" * 3_200)
    msg = _refused(lambda: open_regular(path, 1_000))
    assert msg == "the file is 3.2 KB; photos over 1 KB are refused"
    assert str(tmp_path) not in msg
    path.write_bytes(b"x" * 1_001)  # just over: exact sizes, not two equal roundings
    assert _refused(lambda: open_regular(path, 1_000)) == (
        "the file is 1,001 bytes; photos over 1,000 bytes are refused"
    )


def test_error_class_and_kind_are_the_callers(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_bytes(b"x" * 2_000_000)
    with pytest.raises(DataError, match=r"^the file is 2 MB; tables over 1 MB are refused$"):
        open_regular(path, 1_000_000, error=DataError, kind="tables")
    with pytest.raises(UsageError, match="folder"):
        open_regular(tmp_path, error=UsageError)


def test_folder_missing_and_bad_names(tmp_path):
    _refused(lambda: open_regular(tmp_path), "is a folder")
    assert _refused(lambda: open_regular(tmp_path / "nope.jpg")) == "file not found"
    assert _refused(lambda: open_regular(str(tmp_path / "a\0b"))) == "invalid file name"
    assert _refused(lambda: open_regular(str(tmp_path / "\ud800.jpg"))) == "invalid file name"


@pytest.mark.skipif(not POSIX, reason="symlinks and device files")
def test_broken_symlink_and_symlink_loop(tmp_path):
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    assert _refused(lambda: open_regular(tmp_path / "dangling")) == "file not found"
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    _refused(lambda: open_regular(tmp_path / "loop"), "could not read the file")


@pytest.mark.skipif(not POSIX or os.geteuid() == 0, reason="root reads any file")
def test_permission_denied(tmp_path):
    path = tmp_path / "secret.jpg"
    path.write_bytes(b"x")
    path.chmod(0)
    try:
        assert _refused(lambda: open_regular(path)) == "permission denied"
    finally:
        path.chmod(0o600)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_fifo_refused_without_blocking(tmp_path):
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    try:
        _refused(lambda: open_regular(fifo), "named pipe")
    finally:
        _release_fifo(fifo)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_fifo_swapped_in_after_the_check_cannot_block(tmp_path, monkeypatch):
    """The stat check passed (a regular file was there); a FIFO is what gets opened."""
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    monkeypatch.setattr(inputs, "_check_before_open", lambda path, error: None)
    try:
        _refused(lambda: open_regular(fifo), "named pipe")
    finally:
        _release_fifo(fifo)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_devices_refused_directly_and_through_a_symlink(tmp_path):
    _refused(lambda: open_regular("/dev/zero"), "is a device")
    link = tmp_path / "zero.jpg"
    link.symlink_to("/dev/zero")
    _refused(lambda: open_regular(link), "is a device")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_device_swapped_in_after_the_check_is_refused_on_the_descriptor(monkeypatch):
    monkeypatch.setattr(inputs, "_check_before_open", lambda path, error: None)
    _refused(lambda: open_regular("/dev/zero"), "is a device")


def _fake_size(monkeypatch, size: int) -> None:
    """Make fstat report ``size``: the file then 'grows' between the check and the read."""
    real = os.fstat

    def fstat(fd: int) -> os.stat_result:
        st = real(fd)
        fields = list(st[:10])
        fields[6] = size
        return os.stat_result(fields)

    monkeypatch.setattr(inputs.os, "fstat", fstat)


def test_a_file_growing_while_read_is_bounded(tmp_path, monkeypatch):
    path = tmp_path / "growing.jpg"
    path.write_bytes(os.urandom(5_000))
    _fake_size(monkeypatch, 10)
    msg = _refused(lambda: open_regular(path, 1_000))
    assert msg == "the file grew while it was read; photos over 1 KB are refused"
    assert open_regular(path, 6_000) == path.read_bytes()


def test_a_file_shrinking_while_read(tmp_path, monkeypatch):
    path = tmp_path / "shrunk.jpg"
    path.write_bytes(b"abc")
    _fake_size(monkeypatch, 500)
    assert open_regular(path, 1_000) == b"abc"


def test_csv_rows_with_or_without_a_byte_order_mark(tmp_path):
    plain, excel = tmp_path / "plain.csv", tmp_path / "excel.csv"
    plain.write_text("path,label\na.jpg,control\n", encoding="utf-8")
    excel.write_bytes("path,label\r\nb.jpg,syndromic_like\r\n".encode("utf-8-sig"))
    assert read_csv_rows(plain) == [{"path": "a.jpg", "label": "control"}]
    assert read_csv_rows(excel) == [{"path": "b.jpg", "label": "syndromic_like"}]


def test_csv_that_cannot_be_read_is_one_data_error_naming_it(tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"path,label\ncaf\xe9.jpg,control\n")
    with pytest.raises(DataError, match=r"^latin.csv: unreadable CSV \(UnicodeDecodeError\)$"):
        read_csv_rows(latin)
    with pytest.raises(DataError, match=r"^missing\.csv: "):
        read_csv_rows(tmp_path / "missing.csv")
    with pytest.raises(DataError, match=f"^{tmp_path.name}: "):
        read_csv_rows(tmp_path)  # a folder
    big = tmp_path / "big.csv"
    big.write_text("path,label\n" + "x.jpg,control\n" * 100)
    with pytest.raises(DataError):
        read_csv_rows(big, max_bytes=100)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names are bytes")
def test_non_utf8_file_name(tmp_path):
    name = os.fsdecode(b"caf\xe9-\xff.jpg")  # Latin-1 bytes: surrogate escapes in the str
    path = tmp_path / name
    try:
        path.write_bytes(b"data")
    except (OSError, UnicodeError):  # pragma: no cover - a file system that refuses the bytes
        pytest.skip("this file system refuses non-UTF-8 names")
    assert open_regular(path) == b"data"
    assert (
        open_regular(
            os.path.join(os.fsencode(tmp_path), b"caf\xe9-\xff.jpg").decode(
                "utf-8", "surrogateescape"
            )
        )
        == b"data"
    )


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (999, "999 bytes"),
        (1_000, "1 KB"),
        (3_200, "3.2 KB"),
        (100_000_000, "100 MB"),
        (3_200_000_000, "3.2 GB"),
        (999_960, "1 MB"),
    ],
)
def test_human_bytes(n, text):
    assert human_bytes(n) == text


def test_default_photo_limit_message(tmp_path, monkeypatch):
    path = tmp_path / "huge.jpg"
    path.write_bytes(b"x")
    _fake_size(monkeypatch, 3_200_000_000)
    assert _refused(lambda: open_regular(path)) == (
        "the file is 3.2 GB; photos over 100 MB are refused"
    )


# ---------------------------------------------------------------------------------- text


def _assert_clean(out: str, max_len: int, multiline: bool) -> None:
    assert isinstance(out, str)
    assert len(out) <= max_len
    allowed = {"\n", "\t"} if multiline else set()
    for ch in out:
        code = ord(ch)
        assert not (code < 0x20 or 0x7F <= code <= 0x9F) or ch in allowed, repr(out)
        assert not 0xD800 <= code <= 0xDFFF, repr(out)
        assert ch not in "\u2028\u2029\u202e\u2066\ufeff\ufffe\uffff", repr(out)
    assert out == out.strip()
    assert unicodedata.is_normalized("NFC", out)
    out.encode("utf-8")  # no lone surrogates: always encodable


@pytest.mark.parametrize(
    ("value", "multiline", "expected"),
    [
        ("  P-0042 ", False, "P-0042"),
        ("P\x1b[31m-01\x07", False, "P[31m-01"),
        ("a\nb\r\nc\rd\te", False, "a b c d e"),
        ("a\nb\r\nc\rd\te\u2028f", True, "a\nb\nc\nd\te\nf"),
        ("\x00N\x7fU\x85L\x9bL", False, "NU LL"),
        ("Ре\u0301нэ", False, "Ре\u0301нэ"),  # no precomposed form: kept as typed
        ("Rene\u0301e", False, "Renée"),  # composed (NFC)
        ("\ufeffID\u202e-evil\u2066", False, "ID-evil"),
        ("王小明 · Ζωή", False, "王小明 · Ζωή"),
        (b"Ren\xc3\xa9e", False, "Renée"),
        (b"caf\xe9\xff", False, "caf\ufffd\ufffd"),
        (os.fsdecode(b"caf\xe9"), False, "caf\ufffd"),  # surrogate escape from argv
        ("x\ud800y", False, "x\ufffdy"),  # a lone surrogate that escapes no byte
        ("", False, ""),
    ],
)
def test_clean_text_examples(value, multiline, expected):
    out = clean_text(value, 64, "--patient-id", multiline=multiline)
    assert out == expected
    _assert_clean(out, 64, multiline)


def test_text_too_long_is_a_usage_error_naming_the_field():
    assert clean_text("x" * PATIENT_ID_MAX, PATIENT_ID_MAX, "--patient-id") == "x" * 64
    with pytest.raises(TextTooLong) as err:
        clean_text("x" * 65, PATIENT_ID_MAX, "--patient-id")
    assert str(err.value) == "--patient-id is longer than 64 characters"
    assert isinstance(err.value, UsageError) and isinstance(err.value, ValueError)
    assert err.value.exit_code == 2
    assert (err.value.field, err.value.max_len) == ("--patient-id", 64)
    # Counted after cleaning: control characters do not count, composed accents count once.
    assert clean_text("\x1b" * 30 + "x" * 64, 64, "id") == "x" * 64
    assert clean_text("e\u0301" * 64, 64, "id") == "é" * 64


def test_huge_input_refused_without_cleaning():
    with pytest.raises(TextTooLong, match=r"^notes is longer than 4000 characters$"):
        clean_text("\x00" * 10_000_000, NOTES_MAX, "notes", multiline=True)
    with pytest.raises(TextTooLong):
        clean_text(b"\xff" * 10_000_000, NOTES_MAX, "notes")


def test_clean_text_refuses_non_text():
    with pytest.raises(TypeError):
        clean_text(None, 10, "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        clean_text(42, 10, "x")  # type: ignore[arg-type]


_SAMPLE = (
    [chr(c) for c in range(0x00, 0xA0)]
    + list("éЖ王ウ\u0301\u0308\u200d\u2028\u2029\u202a\u202e\u2066\u2069\ufeff\ufffe\uffff")
    + ["\ud800", "\udc80", "\udcff", "\udfff", "\U0001f600", "\U000e0001", "\uac00", "\u1100"]
)


def test_clean_text_random_inputs():
    """Seeded fuzzing that runs even without hypothesis: clean text or TextTooLong, nothing else."""
    rng = random.Random(1234)
    for _ in range(3_000):
        multiline = rng.random() < 0.5
        max_len = rng.randint(0, 40)
        if rng.random() < 0.3:
            value: str | bytes = bytes(rng.randrange(256) for _ in range(rng.randint(0, 60)))
        else:
            value = "".join(rng.choice(_SAMPLE) for _ in range(rng.randint(0, 60)))
        try:
            out = clean_text(value, max_len, "field", multiline=multiline)
        except TextTooLong:
            continue
        _assert_clean(out, max_len, multiline)
        assert clean_text(out, max_len, "field", multiline=multiline) == out


def test_clean_text_property():
    hypothesis = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")

    texts = st.text(st.characters(exclude_categories=()), max_size=300)  # surrogates included
    values = st.one_of(texts, st.binary(max_size=300))

    @hypothesis.settings(max_examples=400, deadline=None)
    @hypothesis.given(values, st.integers(0, 200), st.booleans())
    def check(value, max_len, multiline):
        try:
            out = clean_text(value, max_len, "field", multiline=multiline)
        except TextTooLong as exc:
            assert str(exc) == f"field is longer than {max_len} characters"
            return
        _assert_clean(out, max_len, multiline)
        assert clean_text(out, max_len, "field", multiline=multiline) == out  # idempotent

    check()


def test_terminal_safe():
    evil = "photo\x1b]0;pwned\x07\x1b[2J\r\u202egpj.exe" + os.fsdecode(b"\xff") + ".jpg"
    out = terminal_safe(evil)
    assert out == "photo\\x1b]0;pwned\\x07\\x1b[2J\\x0d\\u202egpj.exe\\xff.jpg"
    assert all(ch.isprintable() for ch in out)
    assert terminal_safe("Жанна 王 C:\\photos\\a.jpg") == "Жанна 王 C:\\photos\\a.jpg"
    assert terminal_safe("\U000e0001x") == "\\U000e0001x"
    long = terminal_safe("x" * 500)
    assert len(long) == 200 and long.endswith("…")
    cut = terminal_safe("ab" + "\x1b" * 10, max_len=9)  # an escape is never cut in half
    assert cut == "ab\\x1b…" and len(cut) <= 9
    assert terminal_safe("short", max_len=5) == "short"


def test_limits_in_one_place():
    assert (
        inputs.PATIENT_ID_MAX,
        inputs.OPERATOR_MAX,
        inputs.CLINIC_MAX,
        inputs.NOTES_MAX,
        inputs.CAM_TARGET_MAX,
        inputs.LABEL_MAX,
        inputs.MAX_PHOTO_BYTES,
    ) == (64, 128, 128, 4000, 64, 256, 100_000_000)


def test_inputs_is_stdlib_only():
    import ast

    tree = ast.parse(Path(inputs.__file__).read_text(encoding="utf-8"))
    modules = {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    } | {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert modules <= set(sys.stdlib_module_names) | {"__future__", "dysmorph_desk"}
