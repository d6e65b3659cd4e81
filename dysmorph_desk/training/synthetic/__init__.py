"""A synthetic two-class face dataset that DysmorphDesk generates itself, for demonstration models.

Nothing here is clinical. The two public-domain sample portraits are aligned into a canonical canvas
(the alignment template scaled to 224 px, centred in a 320 px canvas so hair and background stay in
view), multiplied into many synthetic "identities" (mirrored half-faces, cross-dissolves between
portraits, a small random smooth identity warp, a skin-tone shift) and each identity is given one
class-defining geometric change:

``syndromic_like``
    wider-set eyes (hypertelorism-like), up-slanted palpebral fissures and a shorter, wider nose
    (flat-midface-like), all anchored at the identity's landmarks;
``control``
    displacements of the same kinds and magnitude distribution, and about the same area, placed
    away from the eyes and nose (temples, cheeks, jaw, ear/hair region, forehead, chin), so that a
    classifier cannot win by spotting "some warp".

Every change is a smooth forward displacement field (a sum of Gaussian-weighted local affine
displacements) applied with ``cv2.remap``; the region it changed (displacement > 1 px, slightly
dilated) is written as a mask. Each identity is then photographed several times: random similarity
(roll, scale, position), a mild yaw/pitch homography, a random background outside the canvas,
lighting, blur, sensor noise and JPEG compression. The mask follows exactly the same geometry.

Everything is drawn from ``numpy.random.Generator`` streams derived from one seed, so a given seed
and version give the same labels and pixel-identical files.

The package is split by stage: ``params`` (fixed ranges), ``warps`` (displacement fields),
``faces`` (base faces, identity and class warps), ``render`` (identities and photographs) and
``dataset`` (``make_synthetic`` and the files it writes); callers import the names from here.

A second generator, ``make_syndrome_world`` (``make-synthetic --syndromes N``), writes a world of
many synthetic syndromes for measuring a gallery differential: ``features`` (drawable facial
changes, each with its HPO term), ``hpo_source`` (hp.obo and phenotype.hpoa), ``syndromes``
(signatures tied to real OMIM/Orphanet diseases, frequency classes, roles), ``clinician`` (noisy,
imprecise HPO terms after Köhler et al. 2009), ``variation`` (wider identity variation and
expressions) and ``world`` (the files). It leaves the two-class set's output unchanged.
"""

from dysmorph_desk.training.synthetic.dataset import SyntheticSummary, make_synthetic

# Private names that tests reach through the package (the recorded portrait landmarks are checked
# against the face detector); the explicit "as" marks them as re-exported.
from dysmorph_desk.training.synthetic.faces import _KNOWN_LANDMARKS as _KNOWN_LANDMARKS
from dysmorph_desk.training.synthetic.faces import _portrait_files as _portrait_files
from dysmorph_desk.training.synthetic.faces import base_faces, class_warp, identity_warp
from dysmorph_desk.training.synthetic.params import (
    AGE_RANGE_MONTHS,
    CANVAS,
    CLASSES,
    FACE_SIZE,
    GENERATOR_VERSION,
    OFFSET,
    SEXES,
    canonical_landmarks,
)
from dysmorph_desk.training.synthetic.render import Identity, make_identity, render_photo
from dysmorph_desk.training.synthetic.warps import Bump, Warp, landmark_warp, warp_image
from dysmorph_desk.training.synthetic.world import WorldSpec, WorldSummary, make_syndrome_world

__all__ = [
    "AGE_RANGE_MONTHS",
    "CANVAS",
    "CLASSES",
    "FACE_SIZE",
    "GENERATOR_VERSION",
    "OFFSET",
    "SEXES",
    "Bump",
    "Identity",
    "SyntheticSummary",
    "Warp",
    "WorldSpec",
    "WorldSummary",
    "base_faces",
    "canonical_landmarks",
    "class_warp",
    "identity_warp",
    "landmark_warp",
    "make_identity",
    "make_syndrome_world",
    "make_synthetic",
    "render_photo",
    "warp_image",
]
