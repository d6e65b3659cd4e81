"""Messages between the GUI process and the engine worker process (pickled dataclasses).

No Qt and no torch here: both processes import this module. Requests travel in an ``Envelope``
with an id; the worker answers each with exactly one ``Reply`` (and may send ``Progress`` and
``PhotoReady`` before it). ``ScreeningResult`` and friends are plain dataclasses with numpy
arrays, so they pickle as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dysmorph_desk.faces.types import FaceInfo
from dysmorph_desk.report.options import ReportOptions
from dysmorph_desk.screening.options import ScreenOptions
from dysmorph_desk.screening.results import CaseInfo, ScreeningResult
from dysmorph_desk.utils.devices import DEFAULT_DEVICE

# --- requests -----------------------------------------------------------------------------------


@dataclass
class Configure:
    """Load these bundles (names or .ddbundle paths) on this device; answered with ``Configured``."""

    models: list[str]
    device: str = DEFAULT_DEVICE
    threads: int = 0  # ONNX Runtime threads per model; 0 = from the machine


@dataclass
class Screen:
    """Screen one photo. ``photo_key`` names the photo: a repeated key reuses the decoded image
    and the detected faces (choosing another face, another CAM method, a new age)."""

    source: str | bytes | np.ndarray  # file path, file bytes, or an RGB uint8 frame
    photo_key: str
    case: CaseInfo = field(default_factory=CaseInfo)
    options: ScreenOptions = field(default_factory=ScreenOptions)


@dataclass
class Preview:
    """Detect faces on a live frame (downscaled in the worker) and give a quality hint."""

    frame: np.ndarray  # RGB uint8
    detect_long_side: int = 320


@dataclass
class InstallBundle:
    path: str
    force: bool = False


@dataclass
class ExportReport:
    """Write the PDF of a result the worker holds (``Screened.result_id``) for ``case``.

    Only the id travels, not the result: the worker keeps its last result, so a report can only
    carry a result it computed. ``case`` is what the clinician sees now (ID, operator, notes may be
    edited after screening); its age must be the age the result was screened for.
    """

    result_id: int
    case: CaseInfo
    path: str
    options: ReportOptions


@dataclass
class Cancel:
    req_id: int


@dataclass
class Shutdown:
    pass


@dataclass
class Crash:
    """Make the worker die in native code (tests of the dead-worker path)."""

    how: str = "exit"  # "exit" or "segfault"


@dataclass
class Envelope:
    req_id: int
    body: Any


# --- responses ----------------------------------------------------------------------------------


@dataclass
class Hello:
    pid: int


@dataclass
class Progress:
    req_id: int
    stage: str
    fraction: float


@dataclass
class PhotoReady:
    """Sent during a ``Screen`` once the photo is decoded and faces are found, before the models."""

    req_id: int
    photo: np.ndarray  # decoded RGB
    photo_scale: float  # decoded pixels per original pixel
    faces: list[FaceInfo]  # in decoded-photo pixels, largest first


@dataclass
class BundleSummary:
    name: str
    path: str
    source: str
    status: str


@dataclass
class Configured:
    device: str
    bundles: list[BundleSummary]
    errors: list[str]  # one line per bundle that could not be loaded


@dataclass
class Screened:
    result: ScreeningResult
    result_id: int  # what ExportReport names (the Screen request's id)
    faces: list[FaceInfo]  # decoded-photo pixels; empty with hand-placed landmarks


@dataclass
class PreviewInfo:
    faces: list[FaceInfo]  # frame pixels
    hint: str  # "" when the face looks fine
    seconds: float = 0.0


@dataclass
class Reply:
    req_id: int
    ok: bool
    value: Any = None
    error: str = ""  # the one-line reason
    error_type: str = (
        ""  # exception class name: ImageRefused, FaceRefused, BundleError, Interrupted...
    )
    details: str = ""  # a traceback for unexpected errors
    user_error: bool = True  # False: a bug (logged, "copy details" offered)
