"""The loaded DiT as one handle (MODIT_DIT_MODEL): load a checkpoint, check inputs, sample a Motion (Algorithm 1)."""
import logging
import os

import torch

from .. import comfy_adapter
from ..face.components import JAW_OPEN, SPACE_NAME
from ..face.expression import close_parted_lips
from ..types import AudioFeatures, Face, Motion
from . import opening_regressor, speech_opening
from .checkpoint import DiTInfo, load_dit
from .sampling import SamplingOptions, count_chunks, sample_expression, take_back_guidance
from .schedule import NoiseSchedule

log = logging.getLogger(__name__)


class DiTHandle:
    """A MoDiT network wrapped for ComfyUI's memory manager, with what its checkpoint promises (`info`)."""

    def __init__(self, model, info: DiTInfo, name: str, dtype: torch.dtype = torch.float32):
        self.info = info
        self.name = name
        self.dtype = dtype
        self.schedule = NoiseSchedule(info.schedule)
        self.patcher = comfy_adapter.make_patcher(model.to(dtype).eval())

    @classmethod
    def from_file(cls, path: str, dtype_name: str = "auto") -> "DiTHandle":
        dtype = comfy_adapter.resolve_dtype(dtype_name, comfy_adapter.compute_device())
        model, info = load_dit(path)
        log.info("loaded DiT %s: preset %s, %.2f M parameters, space %s, %s features (%d) at %s fps, dtype %s",
                 os.path.basename(path), info.preset, model.num_parameters() / 1e6, info.space, info.feature_kind,
                 info.feature_dim, info.fps, dtype)
        return cls(model, info, os.path.basename(path), dtype)

    @property
    def num_train_steps(self) -> int:
        return self.info.schedule.num_train_steps

    def check_inputs(self, features: AudioFeatures, face: Face) -> None:
        """ValueError naming both sides when the features or the face do not fit this checkpoint."""
        info = self.info
        if features.kind != info.feature_kind or features.dim != info.feature_dim:
            from ..audio.encoder import BUILTIN_MEL, BUILTIN_WHISPER, MEL80, WHISPER_MEL

            encoder = {WHISPER_MEL: BUILTIN_WHISPER, MEL80: BUILTIN_MEL}.get(info.feature_kind)
            fix = (f"set MoDiT Load Audio Encoder (connected to Encode Audio) to {encoder!r}" if encoder else
                   "encode the audio with the matching encoder")
            raise ValueError(f"DiT {self.name} was trained on {info.feature_kind!r} features of width "
                             f"{info.feature_dim}, but the audio features are {features.kind!r} of width "
                             f"{features.dim}; {fix}, or load a DiT trained on {features.kind!r}")
        if abs(features.fps - info.fps) > 1e-6:
            raise ValueError(f"DiT {self.name} was trained at {info.fps} fps, but the audio features are at "
                             f"{features.fps} fps; encode the audio at {info.fps} fps")
        if face.space != info.space or face.beta_0.shape[0] != info.config.expression_dim:
            raise ValueError(f"DiT {self.name} samples expressions in space {info.space!r} "
                             f"(K={info.config.expression_dim}), but the face's beta_0 is in space {face.space!r} "
                             f"(K={face.beta_0.shape[0]}); analyse the face with a model of space {info.space!r}")

    def sample(self, features: AudioFeatures, face: Face, options: SamplingOptions,
               expression_scale: float = 1.0, close_lips: float = 0.0, opening_prior: float = 0.0,
               speech_lift: float = 0.0) -> Motion:
        """Motion for the audio: expression [T, K] from the DiT, pose and eye closure zero (other stages add them).

        The motion is sampled around the source expression beta_0, or, with close_lips > 0 (a portrait caught
        mid-word), around beta_0 with its parted lips brought that share of the way together
        (expression.close_parted_lips): the DiT learned its motion from speakers' first frames, most of them near
        closed (41 of the 49 talking clips' first frames read a lip gap under 0.10), and around a wide-open mouth it
        rarely closes it. Guidance's extra pull off that expression is taken back from the course of every channel
        but the mouth opening, whose widest openings are compressed instead (take_back_guidance). With
        opening_prior > 0 the opening's slow part is moved that share of the way to the opening regressor's
        (opening_regressor.py: it follows unseen speakers' words more closely, the DiT keeps the crispness). With
        speech_lift > 0 a portrait whose lips are together has its jaw lifted by up to that much while the audio
        carries speech (speech_opening.py): around a closed mouth the DiT opens it too little. Then
        expression_scale multiplies the motion around it: reference + s (beta - reference).
        """
        self.check_inputs(features, face)
        if not 0 <= close_lips <= 1:
            raise ValueError(f"close_parted_lips must be in 0..1 (0: the portrait's own mouth, 1: its lips together), "
                             f"got {close_lips}")
        if not 0 <= opening_prior <= 1:
            raise ValueError(f"opening_prior must be in 0..1 (0: the DiT's mouth alone), got {opening_prior}")
        if not 0 <= speech_lift <= speech_opening.MAX_LIFT:
            raise ValueError(f"speech_lift must be in 0..{speech_opening.MAX_LIFT} (0: the DiT's jaw alone), "
                             f"got {speech_lift}")
        if not 0 <= options.phase_threshold <= self.num_train_steps:
            raise ValueError(f"phase_threshold must be in 0..{self.num_train_steps} for this DiT, "
                             f"got {options.phase_threshold}")
        comfy_adapter.load_models([self.patcher])
        model = self.patcher.model
        T = features.num_frames
        progress = comfy_adapter.Progress(count_chunks(T, options, model.config.window))
        reference = face.beta_0.float().cpu()
        if close_lips > 0:
            if face.space != SPACE_NAME:
                raise ValueError(f"close_parted_lips needs a face in the {SPACE_NAME!r} space (its jaw basis), got "
                                 f"{face.space!r}; set it to 0 for this face")
            reference = close_parted_lips(face.neutral_mesh.float().cpu(), reference, close_lips)
        expression = sample_expression(model, self.schedule, features.track, reference, options,
                                       on_chunk=progress.update)  # [T, K] float32 CPU
        if self.info.space == SPACE_NAME:
            expression = take_back_guidance(expression, reference, options.guidance_scale, features.fps,
                                            mouth=(JAW_OPEN,))
            if opening_prior > 0:
                expression = self._with_opening_prior(expression, features, opening_prior)
            if speech_lift > 0:
                expression[:, JAW_OPEN] += speech_opening.speech_lift(features, face.landmarks.float().cpu(),
                                                                      speech_lift)
        expression = reference + expression_scale * (expression - reference)
        device = comfy_adapter.intermediate_device()
        return Motion(expression=expression.to(device), pose=torch.zeros(T, 6, device=device),
                      eye_closure=torch.zeros(T, 2, device=device), fps=features.fps, space=self.info.space)

    @staticmethod
    def _with_opening_prior(expression: torch.Tensor, features: AudioFeatures, share: float) -> torch.Tensor:
        """expression [T, K] with its mouth opening's slow part moved `share` of the way to the regressor's."""
        if features.kind != opening_regressor.FEATURE_KIND:
            log.info("opening prior: the regressor reads %r features, these are %r; the DiT's mouth is used alone",
                     opening_regressor.FEATURE_KIND, features.kind)
            return expression
        regressor = opening_regressor.load_bundled()
        if regressor is None:
            return expression
        if regressor.dim != features.dim or regressor.opening_map.numel() != expression.shape[1]:
            log.warning("opening prior: %s reads features %d wide into %d expression channels, these are %d and %d; "
                        "the DiT's mouth is used alone", opening_regressor.WEIGHTS_FILE, regressor.dim,
                        regressor.opening_map.numel(), features.dim, expression.shape[1])
            return expression
        predicted = regressor.predict(features.track)  # [T]
        sigma = opening_regressor.SLOW_SIGMA * features.fps / 25.0
        return opening_regressor.with_opening_prior(expression, predicted, regressor.opening_map.cpu(), share,
                                                    JAW_OPEN, sigma)
