"""Head pose of paper §3.4.4 without weights: smooth, low-frequency motion that speech energy modulates.

A talking head sways slowly all the time, moves more while it speaks, and dips its chin a little when the
voice rises into a stressed syllable. We build each pose channel from Gaussian-smoothed noise, so the pose
and its first two derivatives are continuous (no jerks), at two time scales:
- idle sway: slow drift (kernel sigma `idle_time_s`), always present;
- speech motion: quicker moves (kernel sigma `speech_time_s`) scaled by the smoothed speech activity;
- nods: pitch follows the rising edges of speech activity (chin down, then back).
Translation follows rotation about a pivot at the neck, plus a little sway of its own. Motion fades in
over the first `fade_in_s`, so frame 0 shows the source pose exactly.

Pose channels (modit.types.POSE_CHANNELS): yaw, pitch, roll in radians; tx, ty in crop-size units; tz log scale.
"""
import math
from dataclasses import dataclass

import numpy as np
import torch

from ..motion.filters import gaussian_smooth


@dataclass(frozen=True)
class HeadMotionConfig:
    """Amplitudes (standard deviations) and time scales of statistical head motion, for amount = 1.

    The amplitudes are real speakers' (stop 46): the talking clips of ../shared/data/talking (49 clips, 40 speakers),
    their head pose measured with the face stack (MoDiT Extract Motion, smoothed over 2 frames), vary over 6 s by
    yaw / pitch / roll 3.0 / 2.6 / 2.0 degrees (median speaker); the amplitudes before (1.0 / 0.7 / 0.4 idle, 1.8 /
    1.2 / 0.7 speech, nod 1.2, translation 0.004 / 0.003 / 0.006) gave 0.85 / 0.58 / 0.30 degrees measured the same
    way on our renders of 14 of them, against 2.6 / 2.0 / 1.7 on the real videos: a head held nearly still. Yaw
    stays below the real speakers' (past about 15 degrees the near ear stretches and the far cheek's fold shows).
    Stop 49 raised pitch (idle 1.6, speech 3.6, nod 3.0 before) and roll (1.6, 2.8 before): read by a meter the pack
    does not use (bench/head_motion_meter.py: dlib 68 + cv2.solvePnP), our renders of the 14 clips moved 0.57x /
    0.83x the real speakers' pitch / roll over 3 s (now 0.63x / 1.09x); over whole clips (10-30 s) real roll varies by
    2.1-5.4 degrees (median 4.1), a 30 s render of ours by 2.6 before and 3.65 now.
    Stop 50 raised yaw 1.3x (idle 2.0, speech 3.6 before) once the renderer's outline bent as one piece
    (render/flow.py: smooth_contour): over a minute of speech it peaks at 9-13 degrees (eight seeds; 7-10 before).
    """

    amount: float = 1.0  # scales every amplitude; 0 = still head
    idle_deg: tuple = (2.6, 2.0, 2.2)  # yaw, pitch, roll sway with or without speech
    speech_deg: tuple = (4.7, 4.5, 4.0)  # yaw, pitch, roll added at full speech activity
    nod_deg: float = 3.75  # chin dip on a rise of speech activity
    idle_time_s: float = 1.6  # smoothing sigma of the sway: slow
    speech_time_s: float = 0.3  # smoothing sigma of speech moves: up to about one per second
    activity_time_s: float = 0.4  # smoothing sigma of speech activity before it scales motion
    neck_pivot: float = 0.5  # distance from the neck pivot to the face centre, in crop-size units
    translation_sway: tuple = (0.004, 0.008, 0.012)  # tx, ty (crop units), tz (log scale) sway of their own
    fade_in_s: float = 1.0
    turned_scale: float = 1.0  # scales the rotations (turned_rotation_share: less for a portrait already turned)

    def __post_init__(self):
        if not 0 <= self.amount <= 10:
            raise ValueError(f"head motion amount: expected 0..10, got {self.amount}")
        if not 0 <= self.turned_scale <= 1:
            raise ValueError(f"head motion turned_scale: expected 0..1, got {self.turned_scale}")


# A portrait already turned this far (degrees of its own yaw) gets the full rotation amplitudes up to the first value
# and TURNED_SCALE of them from the second on: moving it shows the far cheek's contour against the background, which
# the warp bends (painting_turned_girl, 33 degrees: that contour went wavy at the real speakers' amplitude; bearded_
# turned_man, 23 degrees, a little). About the amplitudes before stop 46.
TURNED_DEGREES = (15.0, 30.0)
TURNED_SCALE = 0.4


def turned_rotation_share(source_yaw: float) -> float:
    """The share of the rotation amplitudes for a portrait whose own yaw is source_yaw (radians)."""
    start, end = TURNED_DEGREES
    share = min(max((abs(math.degrees(source_yaw)) - start) / (end - start), 0.0), 1.0)
    return 1.0 - (1.0 - TURNED_SCALE) * share


def smooth_noise(rng: np.random.Generator, num_frames: int, channels: int, sigma_frames: float) -> np.ndarray:
    """Unit-variance Gaussian-smoothed white noise [T, channels]: smooth in all derivatives, any length."""
    radius = max(1, int(math.ceil(4 * sigma_frames)))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / max(sigma_frames, 1e-6)) ** 2)
    kernel /= math.sqrt(float(np.sum(kernel ** 2)))  # unit variance whatever sigma and fps
    white = rng.standard_normal((num_frames + 2 * radius, channels))
    return np.stack([np.convolve(white[:, c], kernel, mode="valid") for c in range(channels)], axis=1)


def _smootherstep(x: np.ndarray) -> np.ndarray:
    # 6x^5 - 15x^4 + 10x^3: zero first and second derivative at both ends, so the fade adds no jerk spike
    x = np.clip(x, 0.0, 1.0)
    return x * x * x * (x * (6.0 * x - 15.0) + 10.0)


def head_pose(num_frames: int, fps: float, activity: torch.Tensor | None = None,
              config: HeadMotionConfig | None = None, seed: int = 0) -> torch.Tensor:
    """Statistical head pose offsets [T, 6] float32 (POSE_CHANNELS), deterministic per seed.

    activity: [T] speech activity in 0..1 (audio/loudness.py: speech_activity), or None for silence (idle sway only).
    """
    config = config or HeadMotionConfig()
    if num_frames == 0 or config.amount == 0:
        return torch.zeros(num_frames, 6)
    rng = np.random.default_rng([int(seed), 0x4EAD])
    if activity is None:
        activity = torch.zeros(num_frames)
    if activity.shape != (num_frames,):
        raise ValueError(f"speech activity must be [{num_frames}], got {tuple(activity.shape)}")
    envelope = gaussian_smooth(activity.double().cpu().numpy(), config.activity_time_s * fps)  # [T]

    idle = smooth_noise(rng, num_frames, 3, config.idle_time_s * fps) * np.radians(config.idle_deg)  # [T, 3]
    speech = smooth_noise(rng, num_frames, 3, config.speech_time_s * fps) * np.radians(config.speech_deg)
    rotation = idle + speech * envelope[:, None]  # [T, 3] yaw, pitch, roll
    # Nods: the chin drops (pitch < 0) while speech activity rises; the rise is taken on the smooth
    # envelope and smoothed again, so the nod eases in and out.
    slope = np.gradient(envelope) * fps if num_frames > 1 else np.zeros(num_frames)  # [T] activity per second
    rise = gaussian_smooth(np.maximum(slope, 0.0), config.speech_time_s * fps)
    rotation[:, 1] -= np.radians(config.nod_deg) * np.tanh(rise)
    rotation *= config.turned_scale

    sway = smooth_noise(rng, num_frames, 3, config.idle_time_s * fps) * np.asarray(config.translation_sway)
    yaw, pitch, roll = rotation.T
    pivot = config.neck_pivot
    translation = sway.copy()
    translation[:, 0] += pivot * (0.5 * yaw + roll)  # turning and tilting about the neck move the face sideways
    translation[:, 1] += -pivot * 0.5 * pitch  # chin up lifts the face a little

    pose = np.concatenate([rotation, translation], axis=1) * config.amount  # [T, 6]
    if config.fade_in_s > 0:
        pose *= _smootherstep(np.arange(num_frames) / (config.fade_in_s * fps))[:, None]
    return torch.from_numpy(pose).float()
