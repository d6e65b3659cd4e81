"""User settings: a typed, versioned schema stored as JSON under the platformdirs config folder.

Settings are nested by section (as napari's settings are), each section its own dataclass, so every
default is written once, here or in the module that owns the concept (the colormap and opacity in
``explain.overlay``, the pixel limit in ``faces.image``, the CAM method in ``explain.methods``):

- ``report``: what goes on a PDF (clinic, logo, paper, prevalence for PPV/NPV) and where it is saved;
- ``heatmap``: the CAM method, colormap and opacity shown in the app and printed on reports;
- ``screening``: which bundles, on which device, and the largest photo accepted;
- ``app``: the operator's name and whether photo names may be remembered;
- ``records``: where the case store is and whether it keeps the photo files.

``schema_version`` says which layout a file has. Version 1 files (flat keys, written before the
sections existed) are migrated on load; the file is rewritten in the new layout the next time the
settings are saved. Unknown keys are ignored and a value of the wrong type falls back to its default,
each with a line in the log, so a hand-edited file never stops the app from starting.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from dysmorph_desk.explain.methods import DEFAULT_CAM_METHOD
from dysmorph_desk.explain.overlay import DEFAULT_COLORMAP, DEFAULT_OPACITY
from dysmorph_desk.faces.image import DEFAULT_MAX_PIXELS
from dysmorph_desk.report.options import ReportOptions
from dysmorph_desk.utils import paths
from dysmorph_desk.utils.atomic import write_text_atomic
from dysmorph_desk.utils.devices import DEFAULT_DEVICE
from dysmorph_desk.utils.inputs import open_regular

log = logging.getLogger(__name__)
SETTINGS_VERSION = 2
SETTINGS_MAX_BYTES = 1_000_000  # a settings file is a few KB

# Version 1 (flat) key -> (section, field) in version 2.
_V1_KEYS: dict[str, tuple[str, str]] = {
    "clinic_name": ("report", "clinic_name"),
    "clinic_address": ("report", "clinic_address"),
    "logo_path": ("report", "logo_path"),
    "paper": ("report", "paper"),
    "prevalence": ("report", "prevalence"),
    "report_folder": ("report", "folder"),
    "cam_method": ("heatmap", "cam_method"),
    "colormap": ("heatmap", "colormap"),
    "opacity": ("heatmap", "opacity"),
    "default_models": ("screening", "default_models"),
    "device": ("screening", "device"),
    "max_megapixels": ("screening", "max_megapixels"),
    "remember_photo_names": ("app", "remember_photo_names"),
    "operator": ("app", "operator"),
}


@dataclass
class ReportSection:
    """The clinic's report: header, paper, the prevalence PPV/NPV are computed at, save folder."""

    clinic_name: str = ""
    clinic_address: str = ""
    logo_path: str = ""
    paper: str = "A4"
    prevalence: float = 0.01  # a clinic's prevalence, not a study's
    folder: str = ""  # where Export PDF proposes to save; "" = the home folder


@dataclass
class HeatmapSection:
    """How heatmaps are computed and drawn, in the app and on reports."""

    cam_method: str = DEFAULT_CAM_METHOD
    # viridis (colour-blind safe, see explain.overlay); a colormap saved in a user's file, jet
    # included, is theirs and is kept: only a file without one gets the new default
    colormap: str = DEFAULT_COLORMAP
    opacity: float = DEFAULT_OPACITY


@dataclass
class ScreeningSection:
    """Which bundles screen a photo, where they run, and the largest photo accepted."""

    default_models: tuple[str, ...] = ("demo-hybrid",)
    device: str = DEFAULT_DEVICE
    max_megapixels: float = DEFAULT_MAX_PIXELS / 1_000_000
    threads: int = 0  # ONNX Runtime threads per model; 0 = from the machine (one core left free)

    @property
    def max_pixels(self) -> int:
        return int(self.max_megapixels * 1_000_000)


@dataclass
class AppSection:
    """The desktop app's own choices."""

    operator: str = ""
    remember_photo_names: bool = False  # file names can identify patients: off unless chosen


@dataclass
class RecordsSection:
    """The local case store (``records.store.CaseStore``): where it is, and what it keeps."""

    store_path: str = ""  # the store's folder; "" = ``utils.paths.store_dir()``
    keep_photos: bool = True  # keep the photo files (re-open them later); False: their hash only
    export_photos: bool = False  # put the photo into FHIR (Media) and DICOM (VL image) exports


@dataclass
class Settings:
    """All user settings, one section per concern.

    Example:
        >>> s = Settings.load()
        >>> s.heatmap.colormap = "viridis"
        >>> s.save()  # doctest: +SKIP
    """

    schema_version: int = SETTINGS_VERSION
    report: ReportSection = field(default_factory=ReportSection)
    heatmap: HeatmapSection = field(default_factory=HeatmapSection)
    screening: ScreeningSection = field(default_factory=ScreeningSection)
    app: AppSection = field(default_factory=AppSection)
    records: RecordsSection = field(default_factory=RecordsSection)

    @classmethod
    def path(cls) -> Path:
        return paths.config_dir() / "settings.json"

    @classmethod
    def load(cls) -> Settings:
        """The saved settings (migrated from older layouts), or the defaults if there are none."""
        p = cls.path()
        if not p.exists():
            return cls()
        try:  # bounded: a FIFO or a huge file in its place must not hang or exhaust the app
            raw = open_regular(p, SETTINGS_MAX_BYTES, error=OSError, kind="settings files")
            data = json.loads(raw.decode("utf-8"))
        except (OSError, ValueError, RecursionError) as exc:  # RecursionError: deep nesting
            log.warning("settings file unreadable (%s); using defaults", exc)
            return cls()
        if not isinstance(data, dict):
            log.warning("settings file is not a JSON object; using defaults")
            return cls()
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        """Settings from a parsed file of any known schema version."""
        data = migrate(data)
        s = cls()
        for f in fields(cls):
            section = getattr(s, f.name)
            if not is_dataclass(section):
                continue
            values = data.get(f.name, {})
            if not isinstance(values, dict):
                log.warning("settings: section %r is not an object; using its defaults", f.name)
                continue
            _fill(section, values, f.name)
        return s

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self) -> Path:
        return write_text_atomic(
            self.path(), json.dumps(self.to_dict(), indent=2, ensure_ascii=False)
        )

    def report_options(self, **overrides: Any) -> ReportOptions:
        """The ``ReportOptions`` these settings give, with per-report ``overrides``.

        One place turns settings into report options, for the CLI and the app alike.

        Args:
            **overrides: any ``ReportOptions`` field, e.g. ``include_photo_name=True`` or the
                colormap and opacity the user has on screen.
        """
        r, h = self.report, self.heatmap
        base: dict[str, Any] = {
            "clinic_name": r.clinic_name,
            "clinic_address": r.clinic_address,
            "logo_path": Path(r.logo_path) if r.logo_path else None,
            "paper": r.paper,
            "prevalence": r.prevalence,
            "colormap": h.colormap,
            "opacity": h.opacity,
        }
        base.update({k: v for k, v in overrides.items() if v is not None})
        return ReportOptions(**base)


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring a parsed settings file to the current schema (version 1 had flat keys)."""
    version = data.get("schema_version", data.get("version", 1))
    if version == 1 or not isinstance(version, int):
        nested: dict[str, Any] = {"schema_version": SETTINGS_VERSION}
        for key, value in data.items():
            if key == "version":
                continue
            if key not in _V1_KEYS:
                log.warning("settings: unknown key %r ignored", key)
                continue
            section, name = _V1_KEYS[key]
            nested.setdefault(section, {})[name] = value
        return nested
    if version > SETTINGS_VERSION:
        log.warning(
            "settings file is from a newer version (schema %s); reading what this version knows",
            version,
        )
    return data


def _fill(section: Any, values: dict[str, Any], where: str) -> None:
    """Set each known field whose value has the default's type (ints pass for floats)."""
    known = {f.name: f for f in fields(section)}
    for key, value in values.items():
        if key not in known:
            log.warning("settings: unknown key %s.%s ignored", where, key)
            continue
        default = getattr(section, key)
        if isinstance(default, tuple):
            ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
            value = tuple(value) if ok else default
        elif isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            value = float(value) if ok else default
        else:
            ok = isinstance(value, type(default))
        if not ok:
            log.warning("settings: %s.%s has the wrong type; using the default", where, key)
            continue
        setattr(section, key, value)
