"""The model card's schema: a bundle's manifest is checked field by field before it is trusted.

A card comes from a file anyone can write (the digest only proves the file is intact, not that its
author meant well), and every field ends up somewhere that assumes it is sane: the threshold in a
comparison, ``mean``/``std`` in a division, the template in an affine fit, the name in a file name
and a terminal. So a card is refused at read time — one ``BundleError`` (exit 4) naming the field —
rather than installed and left to crash, or worse to mislead, on a patient's photo.

Every message has the form ``"{where}: model card field '{field}' {problem}"`` and is one line of
plain text: values from the file are shown by ``repr()`` and cut to ~40 characters, so a hostile
card cannot put escape sequences or pages of text on the user's terminal.

Unknown top-level fields are allowed (a newer DysmorphDesk may add some) but still walked: nothing
in a card may be NaN or infinite, nested deeper than ``MAX_DEPTH`` or hold more than ``MAX_ITEMS``
values. Kept free of torch and Qt, like ``cards.py``.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

from dysmorph_desk.bundles.cards import STATUSES, TEST_TIME_VARIANTS, ClassInfo, ModelCard
from dysmorph_desk.errors import BundleError

MAX_DEPTH = 32  # far more than any real card, far less than Python's recursion limit
MAX_ITEMS = 100_000  # values in the whole card (a real one has about a hundred)
MAX_NAME = 64  # the install file name is derived from the name
MAX_LABEL = 200  # class display names, the architecture
MAX_TEXT = 20_000  # free text: intended use, description...
MIN_CLASSES, MAX_CLASSES = 2, 1000
MIN_INPUT, MAX_INPUT = 16, 1024
MAX_CHANNEL = 1000.0  # |mean|, std: images are normalised on a 0..1 (or at most 0..255) scale
N_POINTS = 5  # faces/align.py: eyes, nose tip, mouth corners
SHOWN = 40  # characters of a user-supplied value shown in a message

REQUIRED = (
    "name",
    "architecture",
    "classes",
    "input_size",
    "mean",
    "std",
    "alignment_template",
    "threshold",
    "status",
    "intended_use",
    "training_data",
)
FREE_TEXT = ("intended_use", "created", "description", "software_version")
_JSON_NAMES: dict[type, str] = {
    dict: "an object",
    list: "an array",
    tuple: "an array",
    str: "a string",
}
_TEXT_CONTROLS = "\t\n\r"  # the only control characters free text may hold


class _Invalid(Exception):
    """One problem with one field; ``validate_manifest`` turns it into the user's BundleError."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(field, problem)
        self.field, self.problem = field, problem


def validate_manifest(manifest: object, where: str) -> ModelCard:
    """The ModelCard for a bundle's manifest (parsed JSON), or a one-line BundleError naming the field.

    Args:
        manifest: the card as ``json.loads`` returned it (any value: the file is untrusted).
        where: what the message starts with, usually the bundle's file name.

    Example:
        >>> validate_manifest([], "x.ddbundle")
        Traceback (most recent call last):
        ...
        dysmorph_desk.errors.BundleError: x.ddbundle: model card must be a JSON object, got an array
    """
    if not isinstance(manifest, dict):
        raise BundleError(f"{where}: model card must be a JSON object, got {_kind(manifest)}")
    try:
        _walk(manifest)
        return _build(manifest)
    except _Invalid as bad:
        raise BundleError(f"{where}: model card field '{bad.field}' {bad.problem}") from None


def _build(card: dict[Any, Any]) -> ModelCard:
    for key in REQUIRED:
        if key not in card:
            raise _Invalid(key, "is missing")
    fields: dict[str, Any] = {
        "name": _identifier(card["name"], "name", MAX_NAME),
        "architecture": _identifier(card["architecture"], "architecture", MAX_LABEL),
        "classes": _classes(card["classes"]),
        "input_size": _input_size(card["input_size"]),
        "mean": _triple(card["mean"], "mean", positive=False),
        "std": _triple(card["std"], "std", positive=True),
        "alignment_template": _template(card["alignment_template"]),
        "threshold": _threshold(card["threshold"]),
        "status": _status(card["status"]),
        "training_data": _object(card["training_data"], "training_data"),
    }
    if "validation_metrics" in card:
        fields["validation_metrics"] = _validation_metrics(card["validation_metrics"])
    if "temperature" in card:
        t = _number(card["temperature"], "temperature")
        if t <= 0:
            raise _Invalid("temperature", f"must be greater than 0, got {_show(t)}")
        fields["temperature"] = t
    if "age_range_months" in card:
        fields["age_range_months"] = _age_range(card["age_range_months"])
    if card.get("test_time_variants") is not None:
        fields["test_time_variants"] = _variants(card["test_time_variants"])
    if "atypical_is_cannot_assess" in card:
        flag = card["atypical_is_cannot_assess"]
        if not isinstance(flag, bool):
            raise _Invalid("atypical_is_cannot_assess", f"must be true or false, got {_show(flag)}")
        fields["atypical_is_cannot_assess"] = flag
    for key in FREE_TEXT:
        if key in card:
            fields[key] = _text(card[key], key)
    try:
        return ModelCard(**fields)
    except (TypeError, ValueError) as exc:  # a check here missed what ModelCard checks: say so
        raise _Invalid("(card)", f"is inconsistent ({_show(str(exc))})") from None


# --- the whole card: JSON types, finite numbers, depth and size -----------------------------


def _walk(card: dict[Any, Any]) -> None:
    """Check every value in the card without recursion (a deep card must not blow the stack)."""
    stack: list[tuple[Any, str, str, int]] = [(card, "", "(card)", 0)]
    count = 0
    while stack:
        value, path, top, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _Invalid(top, f"is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, (dict, list, tuple)):
            count += len(value)  # counted before they are stacked: the stack stays bounded too
            if count > MAX_ITEMS:
                raise _Invalid(top, f"makes the card too large (over {MAX_ITEMS} values)")
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise _Invalid(path or "(card)", f"has a non-string key {_show(key)}")
                child = f"{path}.{_key(key)}" if path else _key(key)
                if _bad_controls(key, _TEXT_CONTROLS):
                    raise _Invalid(child, "must not have control characters in its name")
                stack.append((item, child, top if path else child, depth + 1))
        elif isinstance(value, (list, tuple)):
            stack.extend((item, f"{path}[{i}]", top, depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            if _bad_controls(value, _TEXT_CONTROLS):
                raise _Invalid(path, f"must not contain control characters, got {_show(value)}")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise _Invalid(path, f"must be a finite number, got {_show(value)}")
        elif isinstance(value, int) and not isinstance(value, bool):
            _as_float(value, path)
        elif value is not None and not isinstance(value, bool):
            raise _Invalid(path, f"is not a JSON value ({type(value).__name__})")


# --- one field each -------------------------------------------------------------------------


def _identifier(value: object, field: str, limit: int) -> str:
    """A short name shown everywhere (and, for ``name``, made a file name): no control characters."""
    if not isinstance(value, str):
        raise _Invalid(field, f"must be a string, got {_show(value)}")
    if not value.strip():
        raise _Invalid(field, "must not be empty")
    if len(value) > limit:
        raise _Invalid(field, f"must be at most {limit} characters, got {len(value)}")
    if _bad_controls(value, ""):
        raise _Invalid(field, f"must not contain control characters, got {_show(value)}")
    return value


def _text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise _Invalid(field, f"must be a string, got {_show(value)}")
    if len(value) > MAX_TEXT:
        raise _Invalid(field, f"must be at most {MAX_TEXT} characters, got {len(value)}")
    return value  # control characters were refused by _walk


def _classes(value: object) -> list[ClassInfo]:
    if not isinstance(value, list):
        raise _Invalid("classes", f"must be an array, got {_show(value)}")
    if not MIN_CLASSES <= len(value) <= MAX_CLASSES:
        raise _Invalid(
            "classes", f"must list {MIN_CLASSES} to {MAX_CLASSES} classes, got {len(value)}"
        )
    out: list[ClassInfo] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        where = f"classes[{i}]"
        if not isinstance(item, dict):
            raise _Invalid(where, f"must be an object, got {_show(item)}")
        for key in ("id", "display_name", "syndromic"):
            if key not in item:
                raise _Invalid(f"{where}.{key}", "is missing")
        cid = _identifier(item["id"], f"{where}.id", MAX_NAME)
        if cid in seen:
            raise _Invalid(f"{where}.id", f"repeats the class id {_show(cid)}")
        seen.add(cid)
        label = item["display_name"]
        if not isinstance(label, str):
            raise _Invalid(f"{where}.display_name", f"must be a string, got {_show(label)}")
        if len(label) > MAX_LABEL or _bad_controls(label, ""):
            raise _Invalid(
                f"{where}.display_name",
                f"must be at most {MAX_LABEL} characters, none of them control characters",
            )
        if not isinstance(item["syndromic"], bool):
            raise _Invalid(
                f"{where}.syndromic", f"must be true or false, got {_show(item['syndromic'])}"
            )
        out.append(ClassInfo(cid, label, item["syndromic"]))
    # the syndromic probability is the sum over syndromic classes: all or none makes it constant
    if not any(c.syndromic for c in out):
        raise _Invalid("classes", "must include at least one syndromic class")
    if all(c.syndromic for c in out):
        raise _Invalid("classes", "must include at least one non-syndromic class")
    return out


def _input_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid("input_size", f"must be an integer, got {_show(value)}")
    if not MIN_INPUT <= value <= MAX_INPUT:
        raise _Invalid(
            "input_size", f"must be between {MIN_INPUT} and {MAX_INPUT}, got {_show(value)}"
        )
    return value


def _triple(value: object, field: str, *, positive: bool) -> tuple[float, float, float]:
    """Per-channel normalisation: three finite numbers (``std`` strictly positive: it divides)."""
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        got = f"{len(value)} values" if isinstance(value, (list, tuple)) else _show(value)
        raise _Invalid(field, f"must be an array of 3 numbers, got {got}")
    a, b, c = (_number(v, f"{field}[{i}]") for i, v in enumerate(value))
    for i, v in enumerate((a, b, c)):
        if positive and not 0.0 < v <= MAX_CHANNEL:
            raise _Invalid(
                f"{field}[{i}]",
                f"must be greater than 0 and at most {MAX_CHANNEL:g}, got {_show(v)}",
            )
        if not positive and not -MAX_CHANNEL <= v <= MAX_CHANNEL:
            raise _Invalid(f"{field}[{i}]", f"must be within +-{MAX_CHANNEL:g}, got {_show(v)}")
    return a, b, c


def _template(value: object) -> dict[str, Any]:
    """The face template ``faces/align.py`` warps to: 5 points in normalised (0..1) coordinates."""
    field = "alignment_template"
    if not isinstance(value, dict):
        raise _Invalid(field, f"must be an object, got {_show(value)}")
    points = value.get("points")
    if not isinstance(points, list) or len(points) != N_POINTS:
        got = f"{len(points)} points" if isinstance(points, list) else _show(points)
        raise _Invalid(f"{field}.points", f"must be an array of {N_POINTS} points, got {got}")
    xy: list[tuple[float, float]] = []
    for i, p in enumerate(points):
        where = f"{field}.points[{i}]"
        if not isinstance(p, list) or len(p) != 2:
            raise _Invalid(where, f"must be an [x, y] pair, got {_show(p)}")
        x, y = (_number(v, where) for v in p)
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise _Invalid(where, f"must lie in 0..1 (a fraction of the crop), got [{x:g}, {y:g}]")
        xy.append((x, y))
    xs, ys = [x for x, _ in xy], [y for _, y in xy]
    if max(max(xs) - min(xs), max(ys) - min(ys)) < 1e-3:
        raise _Invalid(f"{field}.points", "must not all coincide (the alignment would collapse)")
    landmarks = value.get("landmarks")
    if landmarks is not None and not (
        isinstance(landmarks, list)
        and len(landmarks) == N_POINTS
        and all(isinstance(n, str) for n in landmarks)
    ):
        raise _Invalid(f"{field}.landmarks", f"must be an array of {N_POINTS} names")
    for key, size in value.items():
        sized = key == "size" or key.endswith("_size")
        if sized and _number(size, f"{field}.{_key(key)}") <= 0:
            raise _Invalid(f"{field}.{_key(key)}", f"must be positive, got {_show(size)}")
    if "name" in value and not isinstance(value["name"], str):
        raise _Invalid(f"{field}.name", f"must be a string, got {_show(value['name'])}")
    return value


def _threshold(value: object) -> float:
    t = _number(value, "threshold")
    if not 0.0 < t < 1.0:
        raise _Invalid("threshold", f"must be between 0 and 1 (exclusive), got {_show(value)}")
    return t


def _status(value: object) -> str:
    if not isinstance(value, str) or value not in STATUSES:
        raise _Invalid("status", f"must be one of {', '.join(STATUSES)}, got {_show(value)}")
    return value


def _object(value: object, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(field, f"must be an object, got {_show(value)}")
    return value  # its contents were walked: JSON values, finite numbers


def _age_range(value: object) -> tuple[float, float] | None:
    field = "age_range_months"
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise _Invalid(field, f"must be null or [youngest, oldest], got {_show(value)}")
    lo, hi = (_number(v, field) for v in value)
    # lo == hi is allowed: training writes (min(ages), max(ages)), equal for a one-age dataset
    if not 0.0 <= lo <= hi:
        raise _Invalid(field, f"must satisfy 0 <= youngest <= oldest, got [{lo:g}, {hi:g}]")
    return lo, hi


def _variants(value: object) -> list[str]:
    """The test-time variants the metrics were computed on: known names, ``original`` first."""
    field = "test_time_variants"
    if not isinstance(value, list) or not value:
        raise _Invalid(field, f"must be a non-empty array of variant names, got {_show(value)}")
    for i, name in enumerate(value):
        if name not in TEST_TIME_VARIANTS:
            raise _Invalid(
                f"{field}[{i}]",
                f"must be one of {', '.join(TEST_TIME_VARIANTS)} (a variant this version can "
                f"reproduce), got {_show(name)}",
            )
    if value[0] != "original" or len(set(value)) != len(value):
        raise _Invalid(field, "must start with 'original' and name each variant once")
    return list(value)


# --- validation metrics: counts per child, intervals, subgroups -----------------------------

_COUNT_KEYS = ("tp", "fp", "tn", "fn", "n_children", "n_photos")


def _validation_metrics(value: object) -> dict[str, Any]:
    """Free-form, except the fields screening reads: ``counts``, the 95 % intervals, subgroups."""
    field = "validation_metrics"
    metrics = _object(value, field)
    counts = metrics.get("counts")
    if counts is not None:
        _counts(counts, f"{field}.counts")
    for key, rate in (("sensitivity_ci95", ("tp", "fn")), ("specificity_ci95", ("tn", "fp"))):
        if key in metrics:
            lo, hi = _interval(metrics[key], f"{field}.{key}")
            if isinstance(counts, dict) and counts[rate[0]] + counts[rate[1]] > 0:
                point = counts[rate[0]] / (counts[rate[0]] + counts[rate[1]])
                if not lo - 1e-4 <= point <= hi + 1e-4:  # the card rounds to 4 decimals
                    raise _Invalid(
                        f"{field}.{key}", f"must contain the rate of the counts ({point:.4f})"
                    )
    if metrics.get("auc_ci95") is not None and metrics["auc_ci95"] != [None, None]:
        _interval(metrics["auc_ci95"], f"{field}.auc_ci95")
    if "min_children_per_subgroup" in metrics:
        minimum = metrics["min_children_per_subgroup"]
        if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 1:
            raise _Invalid(
                f"{field}.min_children_per_subgroup",
                f"must be a positive integer, got {_show(minimum)}",
            )
    subgroups = metrics.get("subgroups")
    if subgroups is not None:
        where = f"{field}.subgroups"
        for attribute, groups in _object(subgroups, where).items():
            inner = f"{where}.{_key(attribute)}"
            for group, group_counts in _object(groups, inner).items():
                _counts(group_counts, f"{inner}.{_key(group)}")
    return metrics


def _counts(value: object, field: str) -> None:
    """Confusion counts per child: non-negative integers that add up to ``n_children``."""
    if not isinstance(value, dict):
        raise _Invalid(field, f"must be an object, got {_show(value)}")
    for key in _COUNT_KEYS:
        v = value.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise _Invalid(f"{field}.{key}", f"must be a non-negative integer, got {_show(v)}")
    if value.get("unit") != "child":
        raise _Invalid(f"{field}.unit", f"must be 'child', got {_show(value.get('unit'))}")
    total = sum(value[k] for k in ("tp", "fp", "tn", "fn"))
    if total != value["n_children"]:
        raise _Invalid(
            field, f"must add up to n_children ({value['n_children']}): tp+fp+tn+fn is {total}"
        )
    if value["n_photos"] < value["n_children"]:
        raise _Invalid(f"{field}.n_photos", "must be at least n_children (a child has a photo)")


def _interval(value: object, field: str) -> tuple[float, float]:
    """A 95 % interval: ``[low, high]`` with 0 <= low <= high <= 1."""
    if not isinstance(value, list) or len(value) != 2:
        raise _Invalid(field, f"must be [low, high], got {_show(value)}")
    lo, hi = (_number(v, field) for v in value)
    if not 0.0 <= lo <= hi <= 1.0:
        raise _Invalid(field, f"must satisfy 0 <= low <= high <= 1, got [{lo:g}, {hi:g}]")
    return lo, hi


# --- helpers --------------------------------------------------------------------------------


def _number(value: object, field: str) -> float:
    """A finite int or float; ``True`` is not a number here, nor is ``"0.5"``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(field, f"must be a number, got {_show(value)}")
    f = _as_float(value, field)
    if not math.isfinite(f):
        raise _Invalid(field, f"must be a finite number, got {_show(value)}")
    return f


def _as_float(value: int | float, field: str) -> float:
    try:
        return float(value)
    except OverflowError:  # an int with hundreds of digits: JSON allows it, float() does not
        raise _Invalid(field, "must be a finite number, got a huge integer") from None


def _bad_controls(text: str, allowed: str) -> bool:
    """Control characters (C0, DEL, C1) other than ``allowed``: what terminal escapes are made of."""
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return _JSON_NAMES.get(type(value), type(value).__name__)


def _show(value: object) -> str:
    """A user-supplied value for a message: repr() (escapes controls), cut to ~SHOWN characters."""
    if isinstance(value, (dict, list, tuple)):
        return _kind(value)
    if isinstance(value, str):
        text = repr(value[: SHOWN + 1])
    else:
        try:
            text = repr(value)
        except ValueError:  # int too long to print (sys.get_int_max_str_digits)
            return "a huge integer"
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def _key(key: str) -> str:
    """A key as part of a field path: as is when short and plain, else its shortened repr()."""
    if key.isprintable() and len(key) <= SHOWN and "'" not in key:
        return key
    return _show(key)
