"""The model card schema: every shipped card passes; each malformed or hostile one is refused with
one printable line naming the field, never another exception (no torch)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dysmorph_desk.bundles.cards import STATUS_RANK, STATUSES, ModelCard
from dysmorph_desk.bundles.container import read_bundle, read_metadata, write_bundle
from dysmorph_desk.bundles.format import find_bundles, load_bundle, read_header, resolve_bundle
from dysmorph_desk.bundles.schema import MAX_DEPTH, validate_manifest
from dysmorph_desk.errors import BundleError

Card = dict[str, Any]


@pytest.fixture(scope="module")
def base() -> Card:
    """The shipped demo-mobilenetv2 card as plain JSON (header only: no weights are read)."""
    return json.loads(read_metadata(resolve_bundle("demo-mobilenetv2").path)["manifest"])


def _refused(manifest: object) -> str:
    with pytest.raises(BundleError) as err:
        validate_manifest(manifest, "b.ddbundle")
    msg = str(err.value)
    assert msg.startswith("b.ddbundle: model card ")
    assert msg.isprintable() and len(msg) < 300, msg  # one terminal-safe line
    return msg


def test_every_shipped_card_validates():
    infos = find_bundles()
    assert infos
    for info in infos:
        raw = json.loads(read_metadata(info.path)["manifest"])
        card = validate_manifest(raw, info.path.name)
        assert card.to_dict() == info.card.to_dict()
        assert validate_manifest(json.loads(json.dumps(card.to_dict())), "again") == card


def test_status_ranks_and_the_failed_validation_label(base):
    assert set(STATUS_RANK) == set(STATUSES)
    assert sorted(STATUSES, key=STATUS_RANK.__getitem__) == [
        "failed-validation",
        "demonstration",
        "research",
        "validated",
    ]
    card = validate_manifest({**base, "status": "failed-validation"}, "b")
    assert card.status_label == "failed validation — not for clinical use"


def test_optional_fields_may_be_left_out_and_cards_stay_constructible(base):
    card = {k: v for k, v in base.items() if k not in ("temperature", "age_range_months")}
    for key in ("validation_metrics", "created", "description", "software_version"):
        card.pop(key)
    parsed = validate_manifest(card, "b")
    assert parsed.temperature == 1.0 and parsed.age_range_months is None
    assert validate_manifest({**base, "age_range_months": None}, "b").age_range_months is None
    assert validate_manifest({**base, "age_range_months": [24, 24]}, "b").age_range_months == (
        24.0,
        24.0,
    )  # training writes (min, max) of the ages: equal for a one-age dataset
    assert validate_manifest({**base, "future_field": {"x": [1, 2]}}, "b").name == base["name"]
    ModelCard.from_dict(base)  # training code still builds cards directly


def _set(key: str, value: object) -> Callable[[Card], None]:
    def edit(card: Card) -> None:
        card[key] = value

    return edit


def _drop(key: str) -> Callable[[Card], None]:
    return lambda card: card.pop(key)


def _class(i: int, key: str, value: object) -> Callable[[Card], None]:
    def edit(card: Card) -> None:
        card["classes"][i][key] = value

    return edit


def _deep(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"x": value}
    return value


nan, inf = float("nan"), float("inf")
MUTATIONS: list[tuple[str, Callable[[Card], None], str]] = [
    ("missing name", _drop("name"), "'name' is missing"),
    ("missing threshold", _drop("threshold"), "'threshold' is missing"),
    ("missing training_data", _drop("training_data"), "'training_data' is missing"),
    ("name not a string", _set("name", 7), "'name' must be a string"),
    ("empty name", _set("name", ""), "'name' must not be empty"),
    ("long name", _set("name", "n" * 65), "'name' must be at most 64"),
    ("escape in name", _set("name", "evil\x1b[31m"), "'name' must not contain control"),
    ("newline in name", _set("name", "a\nb"), "'name' must not contain control"),
    ("C1 control in name", _set("name", "a\x9bb"), "'name' must not contain control"),
    (
        "escape in description",
        _set("description", "x\x1b]0;pwn\x07"),
        "'description' must not contain control",
    ),
    ("architecture null", _set("architecture", None), "'architecture' must be a string"),
    ("classes not a list", _set("classes", {"a": 1}), "'classes' must be an array"),
    ("one class", lambda c: c["classes"].pop(), "'classes' must list 2 to 1000"),
    (
        "too many classes",
        lambda c: c.update(
            classes=[{"id": f"c{i}", "display_name": "", "syndromic": i == 0} for i in range(1001)]
        ),
        "'classes' must list 2 to 1000",
    ),
    (
        "duplicate class ids",
        _class(1, "id", "control"),
        "'classes[1].id' repeats the class id 'control'",
    ),
    ("class not an object", lambda c: c["classes"].__setitem__(0, "x"), "'classes[0]' must be"),
    ("class id missing", lambda c: c["classes"][0].pop("id"), "'classes[0].id' is missing"),
    ("class id empty", _class(0, "id", ""), "'classes[0].id' must not be empty"),
    ("display_name number", _class(0, "display_name", 3), "'classes[0].display_name' must"),
    ("syndromic as string", _class(1, "syndromic", "true"), "'classes[1].syndromic' must be"),
    ("syndromic as 1", _class(1, "syndromic", 1), "'classes[1].syndromic' must be true or"),
    ("no syndromic class", _class(1, "syndromic", False), "'classes' must include at least one"),
    ("only syndromic", _class(0, "syndromic", True), "'classes' must include at least one non"),
    ("input_size float", _set("input_size", 224.0), "'input_size' must be an integer"),
    ("input_size bool", _set("input_size", True), "'input_size' must be an integer"),
    ("input_size tiny", _set("input_size", 8), "'input_size' must be between 16 and 1024"),
    ("input_size huge", _set("input_size", 10**6), "'input_size' must be between 16 and 1024"),
    ("mean of 2", _set("mean", [0.5, 0.5]), "'mean' must be an array of 3 numbers, got 2"),
    ("mean string", _set("mean", "0.5"), "'mean' must be an array of 3"),
    ("mean inf", _set("mean", [0.5, inf, 0.5]), "'mean[1]' must be a finite number"),
    ("std 0", _set("std", [0.2, 0, 0.2]), "'std[1]' must be greater than 0"),
    ("std negative", _set("std", [-0.2, 0.2, 0.2]), "'std[0]' must be greater than 0"),
    ("std null item", _set("std", [0.2, None, 0.2]), "'std[1]' must be a number"),
    ("template list", _set("alignment_template", []), "'alignment_template' must be an object"),
    (
        "template no points",
        lambda c: c["alignment_template"].pop("points"),
        "'alignment_template.points' must be an array of 5 points",
    ),
    (
        "one-point template",
        lambda c: c["alignment_template"].update(points=[[0.5, 0.5]]),
        "'alignment_template.points' must be an array of 5 points, got 1",
    ),
    (
        "three-coordinate point",
        lambda c: c["alignment_template"]["points"].__setitem__(2, [0.5, 0.5, 0.5]),
        "'alignment_template.points[2]' must be an [x, y] pair",
    ),
    (
        "point outside the crop",
        lambda c: c["alignment_template"]["points"].__setitem__(0, [40.0, 50.0]),
        "'alignment_template.points[0]' must lie in 0..1",
    ),
    (
        "coincident points",
        lambda c: c["alignment_template"].update(points=[[0.5, 0.5]] * 5),
        "'alignment_template.points' must not all coincide",
    ),
    (
        "template size 0",
        lambda c: c["alignment_template"].update(size=0),
        "'alignment_template.size' must be positive",
    ),
    ("threshold NaN", _set("threshold", nan), "'threshold' must be a finite number, got nan"),
    ("threshold 5", _set("threshold", 5), "'threshold' must be between 0 and 1 (exclusive), got 5"),
    ("threshold string", _set("threshold", "0.5"), "'threshold' must be a number, got '0.5'"),
    ("threshold True", _set("threshold", True), "'threshold' must be a number, got True"),
    ("threshold 0", _set("threshold", 0), "'threshold' must be between 0 and 1"),
    ("threshold 1", _set("threshold", 1.0), "'threshold' must be between 0 and 1"),
    ("threshold null", _set("threshold", None), "'threshold' must be a number, got None"),
    ("temperature -1", _set("temperature", -1), "'temperature' must be greater than 0"),
    ("temperature 0", _set("temperature", 0.0), "'temperature' must be greater than 0"),
    ("temperature inf", _set("temperature", inf), "'temperature' must be a finite number"),
    ("reversed age range", _set("age_range_months", [144, 6]), "'age_range_months' must satisfy"),
    ("negative age", _set("age_range_months", [-1, 6]), "'age_range_months' must satisfy"),
    ("age range of 3", _set("age_range_months", [1, 2, 3]), "'age_range_months' must be null or"),
    ("age range string", _set("age_range_months", "6-144"), "'age_range_months' must be null or"),
    ("unknown status", _set("status", "approved"), "'status' must be one of failed-validation"),
    ("status number", _set("status", 3), "'status' must be one of"),
    ("training_data list", _set("training_data", []), "'training_data' must be an object"),
    ("metrics string", _set("validation_metrics", "good"), "'validation_metrics' must be an"),
    (
        "NaN in validation_metrics",
        lambda c: c["validation_metrics"].update(auc=nan),
        "'validation_metrics.auc' must be a finite number, got nan",
    ),
    (
        "-Infinity deep in training_data",
        lambda c: c["training_data"].update(per_class_patients={"control": [1, -inf]}),
        "'training_data.per_class_patients.control[1]' must be a finite number",
    ),
    (
        "huge integer in metrics",
        lambda c: c["validation_metrics"].update(n=10**400),
        "'validation_metrics.n' must be a finite number, got a huge integer",
    ),
    (
        "deep nesting",
        lambda c: c["training_data"].update(x=_deep(MAX_DEPTH + 5)),
        "'training_data' is nested more than 32 levels deep",
    ),
    (
        "too many values",
        lambda c: c["training_data"].update(x=[0] * 200_000),
        "'training_data' makes the card too large",
    ),
    (
        "escape in a nested key",
        lambda c: c["training_data"].update({"\x1b[2J": 1}),
        "'training_data.'\\x1b[2J'' must not have control characters in its name",
    ),
    ("intended_use number", _set("intended_use", 1), "'intended_use' must be a string"),
    ("created list", _set("created", []), "'created' must be a string, got an array"),
    ("non-JSON value", _set("description", {1, 2}), "'description' is not a JSON value (set)"),
]


@pytest.mark.parametrize(
    ("edit", "expected"), [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS]
)
def test_a_malformed_card_is_refused_naming_the_field(base, edit, expected):
    card = copy.deepcopy(base)
    edit(card)
    assert expected in _refused(card)


@pytest.mark.parametrize(
    ("manifest", "kind"), [([], "an array"), (None, "null"), ("x", "a string")]
)
def test_a_card_that_is_not_an_object_is_refused(manifest, kind):
    assert _refused(manifest) == f"b.ddbundle: model card must be a JSON object, got {kind}"


def test_user_values_in_messages_are_escaped_and_shortened(base):
    msg = _refused({**base, "status": "\x1b[31m" + "A" * 500})
    assert "\x1b" not in msg and "\\x1b[31m" in msg and "A" * 50 not in msg


def test_a_bad_card_in_a_real_bundle_is_refused_at_read_time(tmp_path):
    """A re-digested bundle (so only the card is wrong) fails read_header, install and the CLI."""
    contents = read_bundle(resolve_bundle("demo-mobilenetv2").path)
    contents.manifest["threshold"] = float("nan")  # json.dumps writes NaN; json.loads reads it
    contents.signature = ""
    path = tmp_path / "bad-card.ddbundle"
    write_bundle(path, contents)
    for read in (read_header, load_bundle):
        with pytest.raises(BundleError, match=r"bad-card\.ddbundle: model card field 'threshold'"):
            read(path)
    from dysmorph_desk.cli import main

    assert main(["models", "--install", str(path)]) == 4
    assert "bad-card" not in {i.path.stem for i in find_bundles()}


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=40,
)
FIELDS = [*ModelCard.__dataclass_fields__, "x"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values)
def test_random_json_validates_or_raises_bundle_error(value):
    try:
        validate_manifest(value, "b")
    except BundleError as exc:
        assert str(exc).isprintable()


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_a_card_with_random_fields_validates_or_raises_bundle_error(base, data):
    """Near-valid cards reach every field's checks, not just the first type test."""
    card = copy.deepcopy(base)
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.sampled_from(FIELDS))
        target = card
        if isinstance(card.get(key), (dict, list)) and data.draw(st.booleans()):
            target, key = card[key], None  # replace or add something one level down
            if isinstance(target, list) and target:
                key = data.draw(st.integers(0, len(target) - 1))
            elif isinstance(target, dict):
                key = data.draw(st.sampled_from([*target, "y"]))
        if key is None:
            continue
        target[key] = data.draw(json_values)
    try:
        parsed = validate_manifest(card, "b")
    except BundleError as exc:
        assert str(exc).isprintable()
    else:
        assert 0 < parsed.threshold < 1 and len(parsed.mean) == 3
