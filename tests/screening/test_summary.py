"""The summary that leads every output: one line per model, one sentence on their agreement."""

from __future__ import annotations

import pytest

from dysmorph_desk.bundles.format import resolve_bundle
from dysmorph_desk.report.formatting import format_percent
from dysmorph_desk.screening.results import ModelResult, ScreeningResult
from dysmorph_desk.screening.summary import DISAGREE_SENTENCE, summarise, summarise_visit
from dysmorph_desk.screening.visit import fuse_visit
from tests.fakes import bare_result, logits_photo


@pytest.fixture(scope="module")
def card():
    return resolve_bundle("demo-mobilenetv2").card  # header only: cheap, torch-free


def _model(card, name: str, synd: float | None, reason: str | None = None, **kw) -> ModelResult:
    if synd is None:
        return ModelResult(
            name, card, "b" * 64, None, None, None, None, False, cannot_assess_reason=reason
        )
    probs = {
        cid: (synd if i in card.syndromic_indices else 1 - synd)
        for i, cid in enumerate(card.class_ids)
    }
    return ModelResult(
        name,
        card,
        "b" * 64,
        probs,
        max(probs, key=probs.get),
        synd,
        synd >= card.threshold,
        True,
        **kw,
    )


def test_two_models_one_flagged_disagree(card):
    s = summarise(bare_result(_model(card, "a", 0.99), _model(card, "b", 0.10)))
    assert (
        s.agreement == DISAGREE_SENTENCE == "Models disagree — review the heatmaps and the photo."
    )
    assert s.overall == "disagree"
    assert [line.verdict for line in s.lines] == ["flagged", "not flagged"]
    text = s.text_lines(format_percent)
    assert text[0] == DISAGREE_SENTENCE
    thr = format_percent(card.threshold)
    assert (
        text[1] == f"a: FLAGGED for clinical review — syndromic probability 99.0% (threshold {thr})"
    )
    assert text[2] == f"b: not flagged — syndromic probability 10.0% (threshold {thr})"


def test_all_agree(card):
    s = summarise(bare_result(*(_model(card, n, 0.2) for n in "abc")))
    assert s.agreement == "The 3 models agree: not flagged." and s.overall == "not flagged"
    s = summarise(bare_result(_model(card, "a", 0.99), _model(card, "b", 0.97)))
    assert (
        s.agreement == "The 2 models agree: flagged for clinical review." and s.overall == "flagged"
    )


def test_one_model_has_only_its_line(card):
    s = summarise(bare_result(_model(card, "solo", 0.3)))
    assert s.agreement is None and s.overall == "not flagged"
    assert s.text_lines(format_percent) == [
        f"solo: not flagged — syndromic probability 30.0% (threshold {format_percent(card.threshold)})"
    ]
    s = summarise(bare_result(_model(card, "solo", None, "face turned too far")))
    assert s.agreement is None and s.overall == "cannot assess"
    assert s.text_lines(format_percent) == ["solo: cannot assess — face turned too far"]


def test_none_can_assess(card):
    s = summarise(
        bare_result(_model(card, "a", None, "too dark"), _model(card, "b", None, "too dark"))
    )
    assert s.overall == "cannot assess"
    assert s.agreement == "Neither of the 2 models can assess this photo; see the reasons below."
    three = summarise(bare_result(*(_model(card, n, None, "blur") for n in "abc")))
    assert three.agreement.startswith("None of the 3 models can assess")


def test_some_cannot_assess(card):
    s = summarise(
        bare_result(_model(card, "a", 0.1), _model(card, "b", 0.2), _model(card, "c", None, "age"))
    )
    assert s.agreement == "The 2 models that can assess agree: not flagged (1 cannot assess)."
    s = summarise(bare_result(_model(card, "a", 0.1), _model(card, "c", None, "age")))
    assert s.agreement == "Only a can assess this photo: not flagged (1 cannot assess)."
    assert s.lines[1].text(format_percent) == "c: cannot assess — age"


def test_forced_assessment_is_said(card):
    s = summarise(bare_result(_model(card, "a", 0.1, forced_assessment=True)))
    assert s.lines[0].text(format_percent).endswith("; assessed despite failed checks")


def test_no_models(card):
    s = summarise(bare_result())
    assert s.lines == () and s.agreement is None and s.overall is None


def test_visit_summary_says_when_photos_disagree(card):
    syn = card.syndromic_indices[0]
    high = [0.0, 0.0]
    high[syn] = 12.0
    low = [0.0, 0.0]
    low[1 - syn] = 12.0
    almost = [0.0, 0.0]
    almost[syn] = 10.0
    visit = fuse_visit([logits_photo(card, high, "a"), logits_photo(card, low, "b")])
    s = summarise_visit(visit)
    assert s.agreement is None  # one model
    assert "the photos disagree (flagged on 1 of 2)" in s.lines[0].text(format_percent)
    agreeing = fuse_visit([logits_photo(card, high, "a"), logits_photo(card, almost, "b")])
    assert summarise_visit(agreeing).lines[0].verdict == "flagged"


def test_visit_summary_says_when_models_disagree(card):
    syn = card.syndromic_indices[0]
    high, low = [0.0, 0.0], [0.0, 0.0]
    high[syn], low[1 - syn] = 12.0, 12.0

    def photo(sha: str) -> ScreeningResult:
        a, b = logits_photo(card, high, sha, "a"), logits_photo(card, low, sha, "b")
        a.results += b.results
        return a

    s = summarise_visit(fuse_visit([photo("a"), photo("b")]))
    assert s.overall == "disagree"
    assert s.agreement == "Models disagree — review each photo's heatmaps and the photos."
