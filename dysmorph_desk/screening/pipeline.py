"""Screening one photo: load -> detect -> align -> quality -> every model (+ Grad-CAM) -> result.

Pure core: no Qt, no printing. The CLI, the GUI and the report all consume ``ScreeningResult``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from dysmorph_desk.bundles.cards import DEMO_LABEL, ModelCard
from dysmorph_desk.bundles.format import LoadedBundle
from dysmorph_desk.bundles.sessions import ForwardOut
from dysmorph_desk.errors import Interrupted, UsageError
from dysmorph_desk.explain.numpy_cam import CamMap, cam_from_gradients, score_cam
from dysmorph_desk.faces.align import AlignedFace, align_face
from dysmorph_desk.faces.detect import FaceDetector
from dysmorph_desk.faces.image import LoadedImage, load_image
from dysmorph_desk.faces.pipeline import QUALITY_SIZE, detect_and_align
from dysmorph_desk.faces.types import FaceInfo
from dysmorph_desk.screening.atypicality import ATYPICAL_TEXT, Atypicality, Reference
from dysmorph_desk.screening.options import ScreenOptions
from dysmorph_desk.screening.results import CaseInfo, ModelResult, ScreeningResult
from dysmorph_desk.screening.stability import (
    NOT_VALIDATED_TEXT,
    assess_stability,
    card_variants,
    normalise_batch,
    variant_images,
)

log = logging.getLogger(__name__)
Progress = Callable[[str, float], None]  # (stage, fraction 0..1)
INVALID_NUMBER = "the model returned an invalid number (NaN or infinity)"


def normalise(aligned: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """An aligned uint8 RGB face as the (1, 3, S, S) float32 input every graph takes."""
    x = np.ascontiguousarray(aligned, dtype=np.float32).transpose(2, 0, 1) / 255.0
    m = np.asarray(mean, np.float32).reshape(3, 1, 1)
    s = np.asarray(std, np.float32).reshape(3, 1, 1)
    return ((x - m) / s)[None].astype(np.float32)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    with np.errstate(all="ignore"):  # non-finite logits give NaN, which the caller refuses
        z = np.asarray(logits, dtype=np.float64) / max(float(temperature), 1e-6)
        z = np.exp(z - z.max())
        return z / z.sum()


def merge_model_notes(warnings: list[str], models: Sequence[str]) -> list[str]:
    """One line for a note several models repeat ("a: X", "b: X" -> "a, b: X"), where the first
    of them stood: three identical lines per photo would bury the warnings that differ."""
    by_text: dict[str, list[str]] = {}
    for w in warnings:
        for m in models:
            if w.startswith(f"{m}: "):
                by_text.setdefault(w[len(m) + 2 :], []).append(m)
                break
    merged: list[str] = []
    done: set[str] = set()
    for w in warnings:
        model = next((m for m in models if w.startswith(f"{m}: ")), None)
        text = w[len(model) + 2 :] if model is not None else None
        if text is None or len(by_text[text]) < 2:
            merged.append(w)
        elif text not in done:
            done.add(text)
            merged.append(f"{', '.join(by_text[text])}: {text}")
    return merged


class Screener:
    """Holds the detector and loaded bundles so a batch pays model loading once."""

    def __init__(self, bundles: list[LoadedBundle], detector: FaceDetector | None = None) -> None:
        if not bundles:
            raise UsageError("no model selected")
        self.bundles = bundles
        self.detector = detector or FaceDetector(device="cpu")

    def find_faces(self, image: LoadedImage) -> list[FaceInfo]:
        return self.detector.detect(image.rgb)

    def screen(
        self,
        source: str | Path | bytes | LoadedImage,
        case: CaseInfo | None = None,
        options: ScreenOptions | None = None,
        *,
        faces: list[FaceInfo] | None = None,
        progress: Progress | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> ScreeningResult:
        """Screen one photo with every loaded bundle.

        Args:
            source: a path, the file's bytes, or an already decoded ``LoadedImage``.
            case: who the photo is of (pseudonymous ID, age in months, sex); the age is checked
                against each bundle's validated range.
            options: which face, which heatmap, limits (defaults: ``ScreenOptions()``).
            faces: faces already detected on the decoded image (the app's engine reuses them when
                only the face, the CAM method or the age changes).
            progress: called with (stage, fraction 0..1).
            should_cancel: polled between stages; True raises ``Interrupted``.

        Returns:
            A ``ScreeningResult`` with one ``ModelResult`` per bundle; a model that cannot assess
            the face says why instead of giving probabilities.

        Raises:
            ImageRefused, FaceRefused: the photo or its face cannot be screened (exit 3).

        Example:
            >>> screener = Screener([load_bundle(resolve_bundle("demo-hybrid").path)])  # doctest: +SKIP
            >>> result = screener.screen("child.jpg", CaseInfo(age_months=30))  # doctest: +SKIP
            >>> result.results[0].syndromic_probability  # doctest: +SKIP
        """
        opt = options or ScreenOptions()
        case = case or CaseInfo()
        report = progress or (lambda stage, frac: None)

        def check_cancel() -> None:
            if should_cancel and should_cancel():
                raise Interrupted("screening cancelled")

        report("loading", 0.0)
        image = (
            source
            if isinstance(source, LoadedImage)
            else load_image(
                source, max_pixels=opt.max_pixels, working_long_side=opt.working_long_side
            )
        )
        check_cancel()
        report("detecting", 0.1)
        finding = detect_and_align(
            image.rgb,
            self.detector,
            scale=image.scale,
            faces=faces,
            face_index=opt.face_index,
            manual_landmarks=opt.manual_landmarks,
            limits=opt.limits,
        )
        face = finding.face
        warnings: list[str] = list(finding.warnings)
        aligned: dict[int, AlignedFace] = {QUALITY_SIZE: finding.aligned}
        quality = finding.quality
        hard = [q.message for q in finding.hard_failures]
        warnings += [q.message for q in finding.soft_failures]

        results = []
        for i, bundle in enumerate(self.bundles):
            check_cancel()
            report(f"model {bundle.name}", 0.2 + 0.8 * i / len(self.bundles))
            results.append(
                self._run_model(
                    bundle, image, face, aligned, hard, case, opt, warnings, should_cancel
                )
            )
        report("done", 1.0)
        warnings = merge_model_notes(warnings, [b.name for b in self.bundles])
        return ScreeningResult(
            photo_sha256=image.sha256,
            faces_detected=len(finding.faces),
            face_index=opt.face_index,
            face=face,
            quality=quality,
            warnings=warnings,
            results=results,
            case=case,
            photo=image.rgb,
            photo_scale=image.scale,
        )

    def _run_model(
        self,
        bundle: LoadedBundle,
        image: LoadedImage,
        face: FaceInfo,
        aligned: dict[int, AlignedFace],
        hard_failures: list[str],
        case: CaseInfo,
        opt: ScreenOptions,
        warnings: list[str],
        should_cancel: Callable[[], bool] | None,
    ) -> ModelResult:
        t0 = time.perf_counter()
        card = bundle.card
        if card.status == "demonstration":
            note = f"{bundle.name}: {DEMO_LABEL}"
            if note not in warnings:
                warnings.append(note)
        size = card.input_size
        if size not in aligned:
            aligned[size] = align_face(
                image.rgb, face.landmarks, size, np.asarray(card.alignment_template["points"])
            )
        face_img = aligned[size]
        reasons = list(hard_failures)
        if card.age_range_months is not None:
            lo, hi = card.age_range_months
            if case.age_months is None:
                warnings.append(
                    f"{bundle.name}: age not given; the model is validated for {lo:g}-{hi:g} months"
                )
            elif not lo <= case.age_months <= hi:
                reasons.append(
                    f"age {case.age_months:g} months is outside the validated range {lo:g}-{hi:g} months"
                )
        base = functools.partial(
            ModelResult,
            model=bundle.name,
            card=card,
            bundle_sha256=bundle.sha256,
            aligned_face=face_img.image,
            align_matrix=face_img.matrix,
        )

        def cannot_assess(reason: str, atypicality: Atypicality | None = None) -> ModelResult:
            return base(
                probabilities=None,
                predicted=None,
                syndromic_probability=None,
                flagged=None,
                assessable=False,
                cannot_assess_reason=reason,
                atypicality=atypicality,
                seconds=time.perf_counter() - t0,
            )

        if reasons and not opt.force_assess:
            return cannot_assess("; ".join(reasons))
        if reasons:
            warnings.append(
                f"{bundle.name}: assessed despite {'; '.join(reasons)} (--force-assess)"
            )

        # The original face and its benign variants in ONE batched forward; the result is the
        # mean of their logits, their spread says how stable it is (screening/stability.py).
        variants, validated = card_variants(card)
        batch = normalise_batch(variant_images(face_img.image, variants), card.mean, card.std)
        x = batch[:1]  # the original face: the heatmap and the embedding are its own
        fwd = bundle.model.forward(batch)
        if not np.all(np.isfinite(fwd.logits)):
            # NaN weights or a broken graph: never a probability, never "not flagged"
            log.warning("%s returned non-finite logits", bundle.name)
            return cannot_assess(INVALID_NUMBER)
        logits, stability = assess_stability(fwd.logits, card, variants, validated)
        probs = softmax(logits, card.temperature)
        if not np.all(np.isfinite(probs)):
            return cannot_assess(INVALID_NUMBER)
        embedding = fwd.embedding[0] if np.all(np.isfinite(fwd.embedding[0])) else None
        reference = Reference.of(bundle)
        atypicality = (
            None if reference is None or embedding is None else reference.assess(embedding)
        )
        forced = bool(reasons)
        if atypicality is not None and atypicality.atypical:
            if card.atypical_is_cannot_assess and not opt.force_assess:
                return cannot_assess(ATYPICAL_TEXT, atypicality)
            forced = forced or card.atypical_is_cannot_assess
            warnings.append(
                atypicality.message(bundle.name)
                + (" (assessed with --force-assess)" if card.atypical_is_cannot_assess else "")
            )
        if stability.unstable:
            warnings.append(stability.warning(bundle.name))
        if not validated and len(variants) > 1:
            warnings.append(f"{bundle.name}: {NOT_VALIDATED_TEXT}")
        target = None
        if opt.cam_target is not None:
            if opt.cam_target not in card.class_ids:
                raise UsageError(
                    f"class {opt.cam_target!r} is not a class of {bundle.name} ({', '.join(card.class_ids)})"
                )
            target = card.class_ids.index(opt.cam_target)
        heat = None
        if opt.cam_method:
            index = target if target is not None else default_cam_index(card, logits)
            cam = self._cam(bundle, opt.cam_method, x, fwd, index, should_cancel)
            heat = cam.heat
            if heat is not None and not np.all(np.isfinite(heat)):
                heat = None
                warnings.append(
                    f"{bundle.name}: the {opt.cam_method} heatmap held invalid numbers; not shown"
                )
            elif cam.empty:
                warnings.append(
                    f"{bundle.name}: the {opt.cam_method} heatmap is empty for this class"
                )
        ids = card.class_ids
        synd = float(sum(probs[i] for i in card.syndromic_indices))
        cam_target = (
            None
            if not opt.cam_method
            else ids[target if target is not None else default_cam_index(card, probs)]
        )
        return base(
            probabilities={c: float(p) for c, p in zip(ids, probs, strict=False)},
            predicted=ids[int(np.argmax(probs))],
            syndromic_probability=synd,
            flagged=synd >= card.threshold,
            assessable=True,
            forced_assessment=forced,
            cam_method=opt.cam_method,
            cam_target=cam_target,
            heatmap_aligned=heat,
            embedding=embedding,
            logits=np.asarray(logits, dtype=np.float64),
            stability=stability,
            unstable=stability.unstable,
            atypicality=atypicality,
            seconds=time.perf_counter() - t0,
        )

    @staticmethod
    def _cam(
        bundle: LoadedBundle,
        method: str,
        x: np.ndarray,
        fwd: ForwardOut,
        index: int,
        should_cancel: Callable[[], bool] | None,
    ) -> CamMap:
        """One CAM method: numpy arithmetic on the graphs' activations and gradients."""
        size = bundle.card.input_size
        if method == "scorecam":

            def logits_of(images: np.ndarray) -> np.ndarray:
                return bundle.model.forward(images).logits

            return score_cam(logits_of, x, fwd.activations[0], index, should_cancel=should_cancel)
        if method == "eigencam":
            acts = fwd.activations[0]
            return cam_from_gradients(method, acts, np.zeros_like(acts), size)
        g = bundle.model.gradient(x, index, len(bundle.card.classes))
        return cam_from_gradients(method, g.activations[0], g.gradients[0], size)


def default_cam_index(card: ModelCard, scores: np.ndarray) -> int:
    """The class a heatmap explains when none is asked for (``--cam-target``, the app's control).

    A binary model (one syndromic class): that class, whatever was predicted, so a photo predicted
    "Control" still shows where the model looked for the syndromic evidence. A multi-class model:
    the predicted class (the highest of ``scores``, logits or probabilities).
    """
    syndromic = card.syndromic_indices
    return syndromic[0] if len(syndromic) == 1 else int(np.argmax(scores))
