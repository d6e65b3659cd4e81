"""The answer first: one line per model and one sentence on whether the models agree.

A report with three models used to print three full columns and leave the reader to work out
that one said "flagged" and two did not. :func:`summarise` (one photo) and :func:`summarise_visit`
(a visit's fused result) say it in so many words, and the PDF, the CLI and the app all lead with
the same :class:`Summary`:

* per model: flagged / not flagged / cannot assess, and the syndromic probability against the
  model's own threshold;
* when more than one model was run, one sentence: "The 3 models agree: not flagged.", "Models
  disagree — review the heatmaps and the photo." or that none of them can assess the photo.

Pure: no Qt, no reportlab, and no number formatting of its own. The percentages are formatted by
the caller's ``percent`` function (``report.formatting.format_percent``), so the summary prints
exactly the figures the rest of the report does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from dysmorph_desk.screening.results import ModelResult, ScreeningResult
from dysmorph_desk.screening.visit import ModelVisitResult, VisitResult

Verdict = Literal["flagged", "not flagged", "cannot assess"]
Overall = Literal["flagged", "not flagged", "disagree", "cannot assess"]
Percent = Callable[[float], str]

FLAGGED: Verdict = "flagged"
NOT_FLAGGED: Verdict = "not flagged"
CANNOT_ASSESS: Verdict = "cannot assess"
DISAGREE_SENTENCE = "Models disagree — review the heatmaps and the photo."
DISAGREE_VISIT = "Models disagree — review each photo's heatmaps and the photos."


@dataclass(frozen=True)
class ModelLine:
    """One model's answer in a line: its verdict and the probability it rests on."""

    model: str
    verdict: Verdict
    syndromic_probability: float | None  # None when the model cannot assess
    threshold: float
    reason: str | None = None  # why it cannot assess
    note: str | None = None  # e.g. assessed despite failed checks; the photos of a visit disagree

    def text(self, percent: Percent) -> str:
        """E.g. ``demo-hybrid: not flagged — syndromic probability 0.2% (threshold 98.2%)``."""
        if self.verdict == CANNOT_ASSESS or self.syndromic_probability is None:
            line = f"{self.model}: cannot assess — {self.reason or 'reason not stated'}"
        else:
            verdict = "FLAGGED for clinical review" if self.verdict == FLAGGED else NOT_FLAGGED
            line = (
                f"{self.model}: {verdict} — syndromic probability "
                f"{percent(self.syndromic_probability)} (threshold {percent(self.threshold)})"
            )
        return f"{line}; {self.note}" if self.note else line


@dataclass(frozen=True)
class Summary:
    """Every model's line and, with two models or more, the sentence on their agreement."""

    lines: tuple[ModelLine, ...]
    agreement: str | None  # None for one model (its line says it all) or none at all
    overall: Overall | None  # None when no model was run

    def text_lines(self, percent: Percent) -> list[str]:
        """The agreement sentence (if any) first, then one line per model."""
        head = [self.agreement] if self.agreement else []
        return head + [line.text(percent) for line in self.lines]


def _agreement(
    lines: Sequence[ModelLine], subject: str = "photo"
) -> tuple[str | None, Overall | None]:
    """The sentence on the models' agreement (None for one model) and the overall verdict."""
    if not lines:
        return None, None
    assessed = [line for line in lines if line.verdict != CANNOT_ASSESS]
    verdicts = {line.verdict for line in assessed}
    if not assessed:
        overall: Overall = CANNOT_ASSESS
        if len(lines) == 1:
            return None, overall
        both = "Neither of the 2 models" if len(lines) == 2 else f"None of the {len(lines)} models"
        return f"{both} can assess this {subject}; see the reasons below.", overall
    if len(verdicts) > 1:  # two assessed models at least
        return (DISAGREE_SENTENCE if subject == "photo" else DISAGREE_VISIT), "disagree"
    overall = FLAGGED if verdicts == {FLAGGED} else NOT_FLAGGED
    if len(lines) == 1:
        return None, overall
    said = "flagged for clinical review" if overall == FLAGGED else NOT_FLAGGED
    missing = len(lines) - len(assessed)
    if missing == 0:
        return f"The {len(lines)} models agree: {said}.", overall
    others = f"{missing} cannot assess"
    if len(assessed) == 1:
        return f"Only {assessed[0].model} can assess this {subject}: {said} ({others}).", overall
    return f"The {len(assessed)} models that can assess agree: {said} ({others}).", overall


def _verdict(assessable: bool, flagged: bool | None) -> Verdict:
    if not assessable or flagged is None:
        return CANNOT_ASSESS
    return FLAGGED if flagged else NOT_FLAGGED


def _line(r: ModelResult | ModelVisitResult, note: str | None) -> ModelLine:
    """The line of one model's result on a photo or a visit."""
    return ModelLine(
        model=r.model,
        verdict=_verdict(r.assessable, r.flagged),
        syndromic_probability=r.syndromic_probability if r.assessable else None,
        threshold=float(r.threshold),
        reason=None if r.assessable else (r.cannot_assess_reason or "not stated"),
        note=note,
    )


def summarise(result: ScreeningResult) -> Summary:
    """The summary of one screened photo: a line per model and whether the models agree.

    Example:
        >>> from dysmorph_desk.report.formatting import format_percent  # doctest: +SKIP
        >>> summarise(result).text_lines(format_percent)  # doctest: +SKIP
        ['Models disagree — review the heatmaps and the photo.',
         'demo-hybrid: FLAGGED for clinical review — syndromic probability 99.0% (threshold 98.2%)',
         'demo-resnet18: not flagged — syndromic probability 0.2% (threshold 95.1%)']
    """
    lines = tuple(
        _line(r, "assessed despite failed checks" if r.assessable and r.forced_assessment else None)
        for r in result.results
    )
    agreement, overall = _agreement(lines)
    return Summary(lines, agreement, overall)


def summarise_visit(visit: VisitResult) -> Summary:
    """The same summary for a visit's fused result (one line per model, over the visit's photos)."""
    lines = []
    for m in visit.models:
        note = None
        if m.assessable and m.photos_disagree:
            flagged_on = sum(
                1 for v in m.per_photo if v is not None and v >= m.threshold
            )  # the photos' own verdicts: the same threshold
            note = f"the photos disagree (flagged on {flagged_on} of {m.photos_assessed})"
        elif m.assessable and m.photos_assessed < m.photos_total:
            note = f"on {m.photos_assessed} of {m.photos_total} photos"
        lines.append(_line(m, note))
    agreement, overall = _agreement(lines, "visit")
    return Summary(tuple(lines), agreement, overall)
