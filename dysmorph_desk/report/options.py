"""How a report looks: the clinic's choices. No reportlab here, so the GUI process can import it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from dysmorph_desk.errors import UsageError
from dysmorph_desk.explain.overlay import COLORMAPS, DEFAULT_COLORMAP, DEFAULT_OPACITY
from dysmorph_desk.utils.inputs import CLINIC_ADDRESS_MAX, CLINIC_MAX, clean_text

PAPER_NAMES = ("A4", "LETTER")


@dataclass
class ReportOptions:
    """How a report looks; the clinic's choices, persisted by the GUI and passed by the CLI."""

    clinic_name: str = ""
    clinic_address: str = ""
    logo_path: Path | None = None
    paper: str = "A4"  # or "Letter"
    prevalence: float = 0.01  # for PPV/NPV; stated on the report
    include_photo_name: bool = False
    colormap: str = DEFAULT_COLORMAP
    opacity: float = DEFAULT_OPACITY
    print_dpi: int = 150

    def validated(self) -> ReportOptions:
        """Refuse options that would give a wrong or unreadable report (user-facing reason).

        Returns the options with the clinic's name and address cleaned (``clean_text``: no control
        characters, NFC); over 128 / 256 characters they are refused (``TextTooLong``, exit 2).
        """
        if self.paper.upper() not in PAPER_NAMES:
            raise UsageError(f"paper must be A4 or Letter, not {self.paper!r}")
        if not (isinstance(self.prevalence, (int, float)) and 0.0 < self.prevalence < 1.0):
            raise UsageError("prevalence must be a fraction between 0 and 1 (e.g. 0.01 for 1%)")
        if self.colormap not in COLORMAPS:
            raise UsageError(
                f"unknown colormap {self.colormap!r}; choose from {', '.join(COLORMAPS)}"
            )
        if not 0.0 <= self.opacity <= 1.0:
            raise UsageError("opacity must be between 0 and 1")
        if not 50 <= int(self.print_dpi) <= 600:
            raise UsageError("print resolution must be between 50 and 600 dpi")
        return replace(
            self,
            clinic_name=clean_text(self.clinic_name, CLINIC_MAX, "clinic name"),
            clinic_address=clean_text(
                self.clinic_address, CLINIC_ADDRESS_MAX, "clinic address", multiline=True
            ),
        )
