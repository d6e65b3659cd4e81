"""Golden outputs: the CLI's JSON, summary and PDF for two photos and every shipped bundle.

Recorded on the tree before the round-2 layout change, so any move or extraction that changes what a
clinician sees fails here. A PDF is never byte-equal (it holds a timestamp), so its extracted text,
page count and embedded image sizes are compared. Floats compare with a tolerance that absorbs the
last-digit differences between CPUs (AVX2 / AVX-512) but not a changed computation.

Regenerate (only for an intended change of output, and say so in the commit):
``DD_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/golden -q``
"""

from __future__ import annotations

import io
import json
import math
import os
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

GOLDEN = Path(__file__).parent / "data"
PHOTOS = ("grace_hopper", "astronaut")
VOLATILE_KEYS = {"created", "software_version", "seconds"}
REL_TOL, ABS_TOL = 2e-3, 2e-4
UPDATE = os.environ.get("DD_UPDATE_GOLDEN") == "1"


def _normalise_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalise_json(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_normalise_json(v) for v in value]
    return value


def _normalise_text(text: str) -> str:
    text = re.sub(
        r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2}|Z| UTC)?", "<TIME>", text
    )
    text = re.sub(r"\b\d{4}-\d{2}-\d{2}\b", "<DATE>", text)
    text = re.sub(r"DysmorphDesk \d+\.\d+\.\d+\S*", "DysmorphDesk <VERSION>", text)
    return text


def _pdf_facts(path: Path) -> dict[str, Any]:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    pages = []
    for page in reader.pages:
        images = sorted([img.image.size[0], img.image.size[1]] for img in page.images)
        pages.append({"text": _normalise_text(page.extract_text() or ""), "images": images})
    return {"page_count": len(reader.pages), "pages": pages}


def _close(a: Any, b: Any, where: str) -> list[str]:
    """Differences between two JSON values, floats within tolerance."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return [] if a == b else [f"{where}: {a!r} != {b!r}"]
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isnan(a) and math.isnan(b):
            return []
        return (
            []
            if math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
            else [f"{where}: {a!r} != {b!r}"]
        )
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{where}: keys {sorted(set(a) ^ set(b))} differ"]
        return [d for k in a for d in _close(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: length {len(a)} != {len(b)}"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _close(x, y, f"{where}[{i}]")
        ]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def _text_close(a: str, b: str) -> bool:
    """Equal text, where every number may differ by the float tolerance (printed rounding)."""
    num = r"-?\d+(?:\.\d+)?"
    if re.sub(num, "#", a) != re.sub(num, "#", b):
        return False
    for x, y in zip(re.findall(num, a), re.findall(num, b), strict=True):
        if x == y:
            continue
        fx, fy = float(x), float(y)
        step = 10.0 ** -len(x.split(".")[1]) if "." in x else 1.0
        if abs(fx - fy) > max(step, REL_TOL * max(abs(fx), abs(fy))) + 1e-12:
            return False
    return True


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, portraits) -> dict[str, Any]:
    """Run the real CLI once over both photos with every shipped bundle."""
    from dysmorph_desk.cli import main

    out = tmp_path_factory.mktemp("golden")
    photos = [str(portraits[name]) for name in PHOTOS]
    stdout, stderr = io.StringIO(), io.StringIO()
    args = [
        "screen",
        *photos,
        "--model",
        "all",
        "--out-dir",
        str(out),
        "--patient-id",
        "GOLD-0001",
        "--age",
        "96",
        "--sex",
        "female",
        "--operator",
        "Dr Golden",
        "--notes",
        "golden test",
    ]
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = main(args)
    facts: dict[str, Any] = {
        "exit_status": code,
        "stdout": _normalise_text(stdout.getvalue()),
        "photos": {},
    }
    for name in PHOTOS:
        data = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        facts["photos"][name] = {
            "json": _normalise_json(data),
            "pdf": _pdf_facts(out / f"{name}.pdf"),
        }
    return facts


def _golden(name: str, value: Any) -> Any:
    path = GOLDEN / f"{name}.json"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(
            json.dumps(value, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def test_cli_summary_and_exit_status_unchanged(outputs):
    golden = _golden("cli", {"exit_status": outputs["exit_status"], "stdout": outputs["stdout"]})
    assert outputs["exit_status"] == golden["exit_status"]
    assert _text_close(outputs["stdout"], golden["stdout"]), outputs["stdout"]


@pytest.mark.parametrize("photo", PHOTOS)
def test_json_unchanged(outputs, photo):
    got = outputs["photos"][photo]["json"]
    golden = _golden(f"{photo}.result", got)
    assert _close(got, golden, photo) == []


@pytest.mark.parametrize("photo", PHOTOS)
def test_pdf_text_pages_and_images_unchanged(outputs, photo):
    got = outputs["photos"][photo]["pdf"]
    golden = _golden(f"{photo}.pdf", got)
    assert got["page_count"] == golden["page_count"]
    for i, (page, gold) in enumerate(zip(got["pages"], golden["pages"], strict=True)):
        assert page["images"] == gold["images"], f"page {i + 1} images"
        assert _text_close(page["text"], gold["text"]), f"page {i + 1} text:\n{page['text']}"
