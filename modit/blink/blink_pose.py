"""Paper §3.4.4 as one stage: fill a motion track's eye closure and head pose (MoDiT Blink & Pose).

Eye closure always comes from the blink sequence (statistical, deterministic per seed). Head pose comes
from the statistical generator (head_motion.py), driven by the speech activity of the aligned audio, or from
a trained blink mapping net fed with the expression track and that same blink sequence, or both are measured
on a driving video (reference.py) and transferred. The "still" mode keeps the source pose and still blinks.
"""
import logging
import math

import torch

from ..audio.loudness import speech_activity
from ..types import AudioFeatures, Face, Motion
from .blink_sequence import BlinkConfig, blink_sequence
from .head_motion import HeadMotionConfig, head_pose, turned_rotation_share
from .mapping_net import BlinkMappingModel
from .reference import REFERENCE_USES, ReferenceTrack, fit_length

log = logging.getLogger(__name__)

HEAD_MOTION_MODES = ("natural", "still")


def check_alignment(motion: Motion, audio: AudioFeatures) -> None:
    """The motion track and the audio features must describe the same frames."""
    if motion.num_frames != audio.num_frames or abs(motion.fps - audio.fps) > 1e-6:
        raise ValueError(f"motion has {motion.num_frames} frames at {motion.fps} fps but the audio features have "
                         f"{audio.num_frames} frames at {audio.fps} fps; connect the audio features that drove "
                         f"the sampler which made this motion")


def add_blink_and_pose(motion: Motion, audio: AudioFeatures, face: Face, seed: int = 0, blink_rate: float = 17.0,
                       head_motion: str = "natural", pose_amount: float = 1.0,
                       mapping: BlinkMappingModel | None = None, reference: ReferenceTrack | None = None,
                       reference_use: str = "pose and blinks") -> Motion:
    """A copy of `motion` with eye_closure [T, 2] and pose [T, 6] replaced; expression is kept.

    seed: the same seed gives the same blinks and pose. blink_rate: blinks per minute (0 = none).
    head_motion: "natural" or "still" (pose stays at the source pose, blinks continue).
    pose_amount: scales head motion (1 = natural talking-head amplitude). Generated rotations (statistical or
    mapping net) are scaled down further on a portrait already turned (turned_rotation_share); a reference's are not.
    mapping: a trained mapping net; None uses the statistical head motion.
    reference: pose and eye closure measured on a driving video (trimmed, or ping-ponged when shorter);
    reference_use picks what it drives: "pose and blinks", "pose only" or "blinks only".
    """
    check_alignment(motion, audio)
    if head_motion not in HEAD_MOTION_MODES:
        raise ValueError(f"head_motion: expected one of {HEAD_MOTION_MODES}, got {head_motion!r}")
    if reference_use not in REFERENCE_USES:
        raise ValueError(f"reference_use: expected one of {REFERENCE_USES}, got {reference_use!r}")
    if pose_amount < 0:
        raise ValueError(f"pose_amount: expected >= 0, got {pose_amount}")
    if face.space != motion.space:
        log.warning("source face is in space %r but the motion is in %r; pose and blinks do not depend on it",
                    face.space, motion.space)
    if float(face.eye_openness.max()) < 0.25:
        log.warning("the source portrait's eyes look closed (openness %s); blinks will barely show",
                    [round(float(v), 2) for v in face.eye_openness])

    T, fps = motion.num_frames, motion.fps
    blinks_from_reference = reference is not None and reference_use != "pose only"
    pose_from_reference = reference is not None and reference_use != "blinks only"
    activity = speech_activity(audio.samples, audio.sample_rate, fps, T)  # [T] 0..1
    if blinks_from_reference:
        closure = fit_length(reference.eye_closure, T)  # [T, 2]
    else:
        closure = blink_sequence(T, fps, BlinkConfig(rate_per_minute=blink_rate), seed, activity)  # [T, 2]
    turned_share = turned_rotation_share(float(face.pose[0]))  # generated rotations shrink on a turned portrait
    if head_motion == "still" or pose_amount == 0:
        pose = torch.zeros(T, 6)
    elif pose_from_reference:
        pose = fit_length(reference.pose, T) * pose_amount  # [T, 6], as the user's driving video moved
        if turned_share < 1:
            log.info("the portrait is turned %.0f degrees and takes the reference's head motion in full; if its far "
                     "cheek's contour bends, set pose_amount to about %.1f", abs(math.degrees(float(face.pose[0]))),
                     turned_share * pose_amount)
    elif mapping is not None:
        if mapping.space != motion.space:
            raise ValueError(f"{mapping.name}: trained on space {mapping.space!r} but the motion is in "
                             f"{motion.space!r}; pick a mapping net for this space or 'statistical'")
        pose = mapping.predict_pose(motion.expression.float().cpu(), closure) * pose_amount  # [T, 6]
        pose[:, :3] *= turned_share
    else:
        config = HeadMotionConfig(amount=pose_amount, turned_scale=turned_share)
        pose = head_pose(T, fps, activity, config, seed)  # [T, 6]
    source = ("still" if head_motion == "still" else "reference" if pose_from_reference
              else "mapping net" if mapping is not None else "statistical")
    log.info("blink & pose: %d frames at %g fps, %d blinks (%s), head pose %s", T, fps, count_blinks(closure),
             "reference" if blinks_from_reference else "statistical", source)
    device, dtype = motion.pose.device, torch.float32
    return motion.replace(pose=pose.to(device, dtype), eye_closure=closure.to(device, dtype))


def count_blinks(closure: torch.Tensor, threshold: float = 0.5) -> int:
    """Number of blinks in an eye-closure track [T, 2]: rising crossings of `threshold` by the mean of both eyes."""
    above = (closure.float().mean(dim=1) > threshold).int()
    return int((above[1:] - above[:-1] == 1).sum()) + int(above[:1].sum())
