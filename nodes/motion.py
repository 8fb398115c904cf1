"""Expression sampling with the diffusion transformer (paper §3.2-3.4): MoDiT Load DiT, MoDiT Sample Expression."""
import glob
import logging
import os

from ..modit import comfy_adapter
from ..modit.checkpoints import BUNDLED_WEIGHTS_DIR
from ..modit.dit.handle import DiTHandle
from ..modit.dit.sampling import SamplingOptions, checkpoint_bias
from ..modit.dit.samplers import SAMPLERS
from ..modit.dit.speech_opening import CLOSE_CAUGHT_OPEN, MAX_LIFT, SPEECH_LIFT, caught_open
from ..modit.face.components import SPACE_NAME
from ..modit.render.renderer import portrait_mouth
from . import sockets
from .comfy_io import io

log = logging.getLogger(__name__)

BUNDLED_SUFFIX = " (bundled)"
NONE_FOUND = "no DiT checkpoint found (put one in models/modit)"
# The Sample Expression node's default share of the starting noise's slow part (sampling.shape_start_noise); also
# what an API prompt saved before the input existed gets.
SLOW_NOISE = 0.0
# Its default share of the mouth opening's slow part taken from the opening regressor (dit/opening_regressor.py);
# also what a prompt saved before the input existed gets.
OPENING_PRIOR = 0.5
# The bundled DiTs by dropdown name, the default first. v5, v4, v3 and v2 learned from real talking-head video whose
# terms are research use (NOTICE), and say so in their names; v5, v4 and v3 hear Whisper base's features beside mel80
# (MoDiT Load Audio Encoder "built-in whisper base + mel"), v4 trained on clips whose sound was put back in step with
# their picture, v5 on those and more clips of 13 more speakers; v1 (eSpeak voices only) is the permissive choice and
# keeps the name saved workflows already hold.
BUNDLED_DITS = (("embedded v5 (real speech + Whisper, 43 speakers, research use)",
                 "modit_embedded_v5_more.safetensors"),
                ("embedded v4 (real speech + Whisper, in sync, research use)", "modit_embedded_v4_synced.safetensors"),
                ("embedded v3 (real speech + Whisper, research use)", "modit_embedded_v3_whisper.safetensors"),
                ("embedded v2 (real speech, research use)", "modit_embedded_v2_real.safetensors"),
                ("embedded" + BUNDLED_SUFFIX, "modit_embedded_v1.safetensors"))


def _bundled() -> dict:
    """{dropdown name: path} of the bundled DiTs: BUNDLED_DITS (the default first), then any other
    modit/weights/modit_<name>_*.safetensors as "<name> (bundled)"."""
    found = {label: os.path.join(BUNDLED_WEIGHTS_DIR, file) for label, file in BUNDLED_DITS
             if os.path.isfile(os.path.join(BUNDLED_WEIGHTS_DIR, file))}
    known = {file for _, file in BUNDLED_DITS}
    for path in sorted(glob.glob(os.path.join(BUNDLED_WEIGHTS_DIR, "modit_*.safetensors"))):
        if os.path.basename(path) in known:
            continue
        stem = os.path.basename(path)[len("modit_"):-len(".safetensors")]
        label = (stem.rsplit("_v", 1)[0] if "_v" in stem else stem) + BUNDLED_SUFFIX
        found.setdefault(label, path)
    return found


def _choices() -> list[str]:
    names = list(_bundled()) + comfy_adapter.list_models(comfy_adapter.MODEL_FOLDER)
    return names or [NONE_FOUND]


class MoDiTLoadDiT(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        choices = _choices()
        return io.Schema(
            node_id="MoDiTLoadDiT",
            display_name="MoDiT Load DiT",
            category="MoDiT/motion",
            description=("Load a MoDiT diffusion transformer that turns speech features into expression motion: "
                         "the bundled embedded model or a checkpoint from models/modit trained with "
                         "`python -m modit_app train`."),
            inputs=[
                io.Combo.Input("checkpoint", options=choices, default=choices[0], tooltip=(
                    "Which DiT to load. Bundled: 'embedded v5' learned lip motion from 17 minutes of real "
                    "talking-head video of 43 speakers and hears Whisper's speech features (set MoDiT Load Audio "
                    "Encoder to 'built-in whisper base + mel'); 'embedded v4' learned from 7 minutes of the same kind "
                    "(its mouth follows the words a little more closely and moves more smoothly than real mouths); "
                    "'embedded v3' is v4 trained before the clips' sound was put in step with their picture; "
                    "'embedded v2' hears the built-in mel alone; all four carry research-use terms (NOTICE). "
                    "'embedded (bundled)' is v1, eSpeak voices only (permissive). Other files come from "
                    "models/modit.")),
                io.Combo.Input("dtype", options=list(comfy_adapter.DTYPE_CHOICES), default="auto", advanced=True,
                               tooltip=("Weight precision: auto picks fp32 on CPU and bf16/fp16 on GPUs; fp16/bf16 "
                                        "halve memory, fp32 is the reference.")),
            ],
            outputs=[sockets.DiTModel.Output("dit_model", tooltip=(
                "The loaded DiT, with the expression space, audio feature kind and fps it was trained on."))],
        )

    @classmethod
    def execute(cls, checkpoint, dtype) -> io.NodeOutput:
        bundled = _bundled()
        if checkpoint in bundled:
            path = bundled[checkpoint]
        elif checkpoint == NONE_FOUND:
            raise FileNotFoundError("MoDiT Load DiT: no DiT checkpoint is installed: the bundled "
                                    "modit/weights/modit_embedded_v1.safetensors is missing and models/modit has "
                                    "none; reinstall the pack or put a checkpoint in models/modit")
        else:
            path = comfy_adapter.model_path(comfy_adapter.MODEL_FOLDER, checkpoint)
        return io.NodeOutput(DiTHandle.from_file(path, dtype))


class MoDiTSampleExpression(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="MoDiTSampleExpression",
            display_name="MoDiT Sample Expression",
            category="MoDiT/motion",
            description=("Sample per-frame expression coefficients for the speech with the DiT (paper Algorithm 1: "
                         "lip-sync bias in the late steps below phase_threshold), as motion around the portrait's "
                         "own expression. Long audio runs in overlapping windows. "
                         "Pose and eye closure are left at zero for the blink stage to fill."),
            inputs=[
                sockets.DiTModel.Input("dit_model", tooltip="The DiT from MoDiT Load DiT."),
                sockets.AudioFeatures.Input("audio_features", tooltip=(
                    "Speech features; their kind, width and fps must be the ones the DiT was trained on (the "
                    "bundled DiT: mel80 at 25 fps).")),
                sockets.Face.Input("face", tooltip="The analysed portrait: its expression beta_0 is the starting "
                                                   "point."),
                io.Int.Input("seed", default=0, min=0, max=0xffffffffffffffff, control_after_generate=True, tooltip=(
                    "Noise seed: the same seed gives the same motion; change it for a variation.")),
                io.Int.Input("steps", default=10, min=1, max=1000, tooltip=(
                    "Denoising steps: cost grows linearly; ddim/dpmpp_2m are good at 10-20, ddpm needs 100+.")),
                io.Combo.Input("sampler", options=sorted(SAMPLERS), default="ddim", tooltip=(
                    "ddim: the update of the paper's Algorithm 1 (line 8: deterministic DDIM), fast; dpmpp_2m: "
                    "DPM-Solver++(2M), sharper at few steps; ddpm: ancestral DDPM sampling (Ho et al., stochastic, "
                    "needs 100+ steps).")),
                io.Int.Input("phase_threshold", default=500, min=0, max=1000, advanced=True, tooltip=(
                    "t_T of Algorithm 1: steps t < t_T add the diagonal lip-sync bias; higher = lips lock to the "
                    "audio earlier, 0 = never. No effect on cost.")),
                io.Float.Input("guidance_scale", default=2.5, min=0.0, max=10.0, step=0.1, tooltip=(
                    "Classifier-free guidance on the audio: >1 makes the mouth move more, and more crisply, with "
                    "the speech (the bundled v5 DiT on unseen real speakers, slow_noise 0: r 0.50 at 2.5 and at 2). "
                    "It also opens the mouth wider than real speakers do and pulls the lip shapes, brows and cheeks "
                    "off the portrait's expression. After sampling the widest openings are compressed (at 2.5 the "
                    "opening then varies 1.2-1.26x as much as the real speakers', 1.3-1.4x without) and that pull "
                    "is taken back; the mouth's timing and the lips' quick movements keep the guidance. Lower it "
                    "for a calmer mouth. Any value but 1 doubles the network cost.")),
                io.Float.Input("expression_scale", default=1.0, min=0.0, max=3.0, step=0.05, tooltip=(
                    "Scales the motion around the source expression: <1 calmer, >1 more animated. Free.")),
                io.Float.Input("slow_noise", default=SLOW_NOISE, min=0.0, max=1.0, step=0.05, optional=True,
                               advanced=True, tooltip=(
                    "How much of the starting noise's slow part (slower than a syllable) is kept. 0: the motion's "
                    "slow course comes from the speech alone, and the mouth follows the words more closely; the "
                    "seed still varies the quick articulation. 1: plain Gaussian noise as in the paper, where the "
                    "seed also drifts the mouth a little more or less open for a second at a time. Free.")),
                io.Float.Input("close_parted_lips", default=0.0, min=0.0, max=1.0, step=0.05, optional=True,
                               tooltip=(
                    "For a portrait caught mid-word, lips apart: how far the motion's resting mouth brings them "
                    "together. 0: the motion moves around the portrait's own mouth, and a mouth caught wide open "
                    "then seldom closes (the DiT learned its motion from speakers' first frames, most of them near "
                    "closed). 1: around the portrait with its lips as near as a closed mouth's. 0.5 suited the "
                    "wide-open portraits we measured; 1 closed a speaker who talks with her mouth open too far. "
                    "Leave it at 0 for a smile that shows its teeth: the lips close over them, less like the "
                    "person. Lips already together are not changed. A mouth caught wide open with no teeth showing "
                    "gets close_dark_mouth's share on its own. Free.")),
                io.Float.Input("opening_prior", default=OPENING_PRIOR, min=0.0, max=1.0, step=0.05, optional=True,
                               tooltip=(
                    "How far the slow course of the mouth's opening is moved toward a small regressor's, trained on "
                    "the same real clips to predict the opening from the speech: it follows the words of speakers "
                    "it never heard more closely than the DiT, but too smoothly to use alone, so the DiT's quick "
                    "movements are kept. 0: the DiT's mouth alone. Needs the Whisper + mel features (other "
                    "features: ignored). A few ms per second of speech.")),
                io.Float.Input("speech_lift", default=SPEECH_LIFT, min=0.0, max=MAX_LIFT, step=0.01, optional=True,
                               tooltip=(
                    "For a portrait whose lips are together: how far its jaw is lifted while the audio carries "
                    "speech (pauses, silence and steady background noise keep the portrait's own mouth). Around a "
                    "closed mouth the DiT opens it about half as far as real speakers do; the default makes up "
                    "about half of that gap and still lets the lips meet on quiet sounds. 0: the DiT's jaw alone. "
                    "Lips already apart are not lifted. Free.")),
                io.Float.Input("close_dark_mouth", default=CLOSE_CAUGHT_OPEN, min=0.0, max=1.0, step=0.05,
                               optional=True, tooltip=(
                    "For a portrait caught with its mouth wide open over a dark interior, no teeth showing (a "
                    "frame grabbed mid-word or mid-shout): close_parted_lips applied to it on its own, this far. "
                    "Around such a mouth the DiT seldom closes it; the default brought three real clips' openings "
                    "nearer their speakers' own (one of them to it). Lips less than about 0.12 of the eye "
                    "corners' distance apart and smiles that show their teeth are not changed; where "
                    "close_parted_lips is higher, it wins. "
                    "0: off. Free.")),
            ],
            outputs=[sockets.Motion.Output("motion", tooltip=(
                "Expression [T, K] from the DiT, zero pose and eye closure, at the features' fps."))],
        )

    @classmethod
    def execute(cls, dit_model, audio_features, face, seed, steps, sampler, phase_threshold, guidance_scale,
                expression_scale, slow_noise=SLOW_NOISE, close_parted_lips=0.0,
                opening_prior=OPENING_PRIOR, speech_lift=SPEECH_LIFT,
                close_dark_mouth=CLOSE_CAUGHT_OPEN) -> io.NodeOutput:
        close_parted_lips = max(close_parted_lips, dark_mouth_share(face, close_dark_mouth))
        options = SamplingOptions(sampler=sampler, num_steps=steps, phase_threshold=phase_threshold,
                                  guidance_scale=guidance_scale, seed=seed, slow_noise=slow_noise,
                                  **checkpoint_bias(dit_model.info.bias))
        return io.NodeOutput(dit_model.sample(audio_features, face, options, expression_scale, close_parted_lips,
                                              opening_prior, speech_lift))


def dark_mouth_share(face, close_dark_mouth: float) -> float:
    """The close_parted_lips share close_dark_mouth asks for this portrait (0 unless its mouth is caught open over a
    dark interior: speech_opening.caught_open, with what the renderer finds in the mouth)."""
    if not 0 <= close_dark_mouth <= 1:
        raise ValueError(f"close_dark_mouth must be in 0..1 (0: off), got {close_dark_mouth}")
    if close_dark_mouth == 0 or face.space != SPACE_NAME or caught_open(face.landmarks, 0.0) == 0:
        return 0.0  # off, no jaw basis to close it with, or lips not that far apart (no teeth test needed)
    share = close_dark_mouth * caught_open(face.landmarks, portrait_mouth(face).shows_teeth)
    if share > 0:
        log.info("the portrait's mouth is caught open over a dark interior: sampled around its lips brought %.2f of "
                 "the way together (close_dark_mouth; 0 keeps the portrait's own mouth)", share)
    return share


NODES = (MoDiTLoadDiT, MoDiTSampleExpression)
