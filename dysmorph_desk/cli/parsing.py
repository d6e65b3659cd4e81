"""The CLI's argument parser: one-line usage errors, defaults in ``--help``, forgiving spellings.

``DeskParser`` is the parser class of every ``dysmorph-desk`` command and subcommand
(``add_subparsers`` makes its subparsers of the same class). A bad argument ends in one line,
``dysmorph-desk: error: <what> (see `dysmorph-desk screen --help`)``, and exit 2 — never the
usage dump argparse prints by default; an unknown choice names the nearest one ("did you mean").

``DefaultsFormatter`` shows each option's default in ``--help`` where it means something (not
``None``, ``False`` or an empty list), unless the help text already says it.
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from dysmorph_desk.errors import UsageError
from dysmorph_desk.utils.inputs import terminal_safe
from dysmorph_desk.utils.patient_fields import parse_age_months, parse_sex


class ArgumentUsageError(UsageError):
    """A command line argparse refused (exit 2); ``str()`` is the one line shown after ``error:``."""


# argparse's own wording -> ours (argparse names the type function that failed: "invalid int value")
_TYPE_WORDS = {"int": "a whole number", "float": "a number", "Path": "a path"}
_INVALID_VALUE = re.compile(r"invalid (?P<type>\w+) value: (?P<value>.*)$", re.DOTALL)
_INVALID_CHOICE = re.compile(
    r"invalid choice: (?P<value>'.*?'|\".*?\") \(choose from (?P<choices>.*)\)$", re.DOTALL
)
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def nearest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word`` (a typo, other case), or None when none is close.

    Example:
        >>> nearest("demo-hybird", ["demo-hybrid", "demo-resnet18"])
        'demo-hybrid'
    """
    options = list(candidates)
    folded = {c.casefold(): c for c in options}
    if word.casefold() in folded:
        return folded[word.casefold()]
    match = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=0.6)
    return folded[match[0]] if match else None


def _reworded(message: str) -> str:
    """argparse's message in plain words, with a "did you mean" for an unknown choice."""
    choice = _INVALID_CHOICE.search(message)
    if choice is not None:
        value = choice["value"][1:-1]
        choices = _QUOTED.findall(choice["choices"])
        head = message[: choice.start()]
        listed = ", ".join(choices)
        guess = nearest(value, choices)
        hint = f"; did you mean {guess!r}?" if guess else ""
        return f"{head}{value!r} is not one of {listed}{hint}"
    bad = _INVALID_VALUE.search(message)
    if bad is not None and bad["type"] in _TYPE_WORDS:
        return f"{message[: bad.start()]}{bad['value']} is not {_TYPE_WORDS[bad['type']]}"
    return message


class DefaultsFormatter(argparse.HelpFormatter):
    """Adds ``(default: X)`` to an option's help when the default means something.

    Skipped for ``None``, ``False``, ``""`` and ``[]`` (no "(default: None)" noise), for flags,
    and when the help already mentions its default (``(default from settings)``).
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            not text
            or "default" in text.lower()
            or default is None
            or default is argparse.SUPPRESS
            or isinstance(default, bool)
            or default in ("", [], ())
            or action.nargs == 0  # flags (store_true, count...): their default is implied
            or (not action.option_strings and action.nargs not in ("?", "*"))
        ):
            return text
        return f"{text} (default: %(default)s)"


class DeskParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line and exit 2 (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        """As argparse, but an unknown option is reported by the (sub)command it was given to,
        with the nearest option it has ("--sexx": "did you mean --sex?")."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = self._chosen(parsed)
            first = extras[0].split("=", 1)[0]
            options = [o for action in parser._actions for o in action.option_strings]
            guess = nearest(first, options) if first.startswith("-") else None
            hint = f"; did you mean {guess}?" if guess else ""
            plural = "s" if len(extras) > 1 else ""
            parser.error(f"unrecognized argument{plural}: {' '.join(extras)}{hint}")
        return parsed

    def _chosen(self, parsed: argparse.Namespace) -> argparse.ArgumentParser:
        """The innermost subcommand parser the command line chose (``keys new``: its parser)."""
        parser: argparse.ArgumentParser = self
        while True:
            subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            name = getattr(parsed, subs[0].dest, None) if subs else None
            if not subs or name not in subs[0].choices:
                return parser
            parser = subs[0].choices[name]

    def error(self, message: str) -> NoReturn:
        """Raise instead of printing usage: ``main`` prints the one line and returns 2."""
        text = terminal_safe(_reworded(message), 300)
        raise ArgumentUsageError(f"{text} (see `{self.prog} --help`)")


def typed(parse: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    """An argparse ``type`` from a parser raising ``ValueError``: its message becomes the error."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name
    return convert


sex_arg = typed(parse_sex, "sex")
age_arg = typed(parse_age_months, "age")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text[:20]!r} is not a number; give a fraction such as 0.01") from None
    if not 0 < value < 1:
        raise ValueError(f"{text[:20]!r} must be between 0 and 1, exclusive (0.01 = 1 in 100)")
    return value


fraction_arg = typed(_fraction, "fraction")
