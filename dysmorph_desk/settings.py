"""User settings: a typed schema stored as JSON under the platformdirs config folder."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from dysmorph_desk.utils import paths
from dysmorph_desk.utils.atomic import write_text_atomic

log = logging.getLogger(__name__)
SETTINGS_VERSION = 1


@dataclass
class Settings:
    version: int = SETTINGS_VERSION
    clinic_name: str = ""
    clinic_address: str = ""
    logo_path: str = ""
    paper: str = "A4"
    prevalence: float = 0.01  # for PPV/NPV on reports: a clinic's prevalence, not a study's
    default_models: tuple[str, ...] = ("demo-hybrid",)
    cam_method: str = "gradcam"
    colormap: str = "jet"
    opacity: float = 0.45
    device: str = "auto"
    report_folder: str = ""
    max_megapixels: float = 80.0
    remember_photo_names: bool = False
    operator: str = ""

    @classmethod
    def path(cls) -> Path:
        return paths.config_dir() / "settings.json"

    @classmethod
    def load(cls) -> Settings:
        p = cls.path()
        if not p.exists():
            return cls()
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            known = {f.name for f in fields(cls)}
            s = cls(**{k: v for k, v in data.items() if k in known})
            s.default_models = tuple(s.default_models)
            return s
        except (OSError, ValueError, TypeError) as exc:
            log.warning("settings file unreadable (%s); using defaults", exc)
            return cls()

    def save(self) -> Path:
        return write_text_atomic(
            self.path(), json.dumps(asdict(self), indent=2, ensure_ascii=False)
        )
