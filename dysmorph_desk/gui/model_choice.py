"""Which models the app runs when it starts, and remembering the user's choices (the models, the
heatmap method) for the next start.

Until the user chooses, every installed bundle of the demonstration status runs, so that "Compare
models" has something to compare out of the box. Once they choose (Models dialog, or the default
models in Settings), their choice is saved as ``settings.screening.default_models`` and used from
then on, even when it equals the built-in default. Whether a choice was made is kept beside the
window geometry (``window.ini``): the settings file cannot tell a chosen "demo-hybrid" from the
default one, since every save writes every field.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dysmorph_desk.bundles.format import BundleInfo, find_bundles
from dysmorph_desk.gui.window_layout import window_state
from dysmorph_desk.settings import ScreeningSection, Settings

if TYPE_CHECKING:
    from dysmorph_desk.gui.main_window import MainWindow

log = logging.getLogger(__name__)
CHOSEN_KEY = "models/chosen"


def remember(win: MainWindow, **sections: Any) -> None:
    """Replace settings ``sections`` of ``win`` and save them; a failure is said, not raised.

    Example:
        >>> remember(win, heatmap=replace(win.settings.heatmap, cam_method="gradcam++"))  # doctest: +SKIP
    """
    win.settings = replace(win.settings, **sections)
    try:
        win.settings.save()
    except OSError as exc:
        log.warning("settings not saved: %s", exc)
        win.statusBar().showMessage(f"The choice could not be saved for next time: {exc}", 10000)


def models_chosen() -> bool:
    """Whether the user has ever chosen the models (Models dialog or Settings)."""
    return bool(window_state().value(CHOSEN_KEY, False, type=bool))


def mark_models_chosen() -> None:
    state = window_state()
    state.setValue(CHOSEN_KEY, True)
    state.sync()


def demonstration_models(infos: list[BundleInfo]) -> list[str]:
    """The installed bundles whose (effective) status is demonstration, in listing order."""
    return [i.name for i in infos if i.card.status == "demonstration"]


def models_at_start(
    settings: Settings, chosen: bool | None = None, infos: list[BundleInfo] | None = None
) -> list[str]:
    """The models to run when the app starts without ``--models``.

    Args:
        settings: the user's settings (their ``screening.default_models``).
        chosen: whether the user chose models (default: ``models_chosen()``).
        infos: the installed bundles (default: ``find_bundles()``).

    Example:
        >>> models_at_start(Settings(), chosen=False)  # doctest: +SKIP
        ['demo-gestalt', 'demo-hybrid', 'demo-mobilenetv2', 'demo-resnet18']
    """
    saved = list(settings.screening.default_models)
    if chosen is None:
        chosen = models_chosen()
    if chosen or tuple(saved) != ScreeningSection().default_models:
        return saved  # a choice: the user's, or a settings file written with other models
    demo = demonstration_models(find_bundles() if infos is None else infos)
    return demo or saved
