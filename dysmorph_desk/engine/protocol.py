"""Messages between the GUI process and the engine worker process (pickled dataclasses).

No Qt and no torch here: both processes import this module. Requests travel in an ``Envelope``
with an id; the worker answers each with exactly one ``Reply`` (and may send ``Progress`` and
``PhotoReady`` before it). ``ScreeningResult`` and friends are plain dataclasses with numpy
arrays, so they pickle as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from dysmorph_desk.faces.types import FaceInfo
from dysmorph_desk.report.options import ReportOptions
from dysmorph_desk.screening.options import ScreenOptions
from dysmorph_desk.screening.results import CaseInfo, ScreeningResult
from dysmorph_desk.utils.devices import DEFAULT_DEVICE

if TYPE_CHECKING:
    from dysmorph_desk.differential.result import DifferentialResult

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
class HpoSearch:
    """Search HPO terms by name, synonym or id as the clinician types; answered with ``HpoHits``.
    The ontology loads in the worker on the first search, never in the GUI process."""

    text: str
    limit: int = 20


@dataclass
class GalleryInfo:
    """Read (or take from the cache) the gallery at ``path``; answered with ``GallerySummary``."""

    path: str


@dataclass
class Differential:
    """Rank candidate disorders for one photo (one result) or a visit (several).

    ``results`` carry only what ranking reads (``engine.differential.ranking_copy``); the gallery
    is read in the worker and kept until its file changes. Answered with ``DifferentialReady``.
    """

    results: list[ScreeningResult]
    gallery: str | None  # a .ddgallery path, or None for the HPO terms alone
    hpo_terms: list[str] = field(default_factory=list)
    aggregate: str = "nearest"  # or "mean-k" (gallery.ranking.AGGREGATES)


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
class TermHit:
    """One HPO term found: its id and name, the label that matched, and whether it is a synonym."""

    id: str
    name: str
    matched: str
    synonym: bool = False


@dataclass
class HpoHits:
    text: str  # what was searched, so a late answer to older text can be told apart
    hits: list[TermHit]


@dataclass
class GallerySummary:
    """What the Differential panel shows of a gallery: counts and hashes, never patient ids."""

    path: str
    title: str
    status: str  # "clinic" or "demonstration"
    entries: int
    disorders: int
    local_disorders: int
    sha256: str  # the content digest the report prints
    file_bytes: int
    trust: str  # what its signature says ("unsigned", "signed by ...")
    models: list[str]  # the bundles it holds embeddings of


@dataclass
class DifferentialReady:
    result: DifferentialResult
    key: tuple  # engine.differential.ranking_key of the results it was ranked from
    gallery: GallerySummary | None


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
