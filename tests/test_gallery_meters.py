"""The face gallery's meters (bench/gallery_meters.py) on constructed images and landmarks: no dlib, no shared data."""
import importlib.util

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from .bench_files import load_bench_module

meters = load_bench_module("gallery_meters")

IOD = meters.NORM_IOD


def _ellipse(cx, cy, rx, ry, n, start=np.pi):
    angles = start + np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(angles), cy + ry * np.sin(angles)], -1)


def face_landmarks(cx=128.0, cy=128.0, mouth_gap=0.0) -> np.ndarray:
    """A plausible 68-point layout with IOD = 64 px (only the indices the meters read need to be right)."""
    lm = np.zeros((68, 2))
    lm[0:17] = np.stack([cx + np.linspace(-75, 75, 17), cy + 40 + 40 * np.sin(np.linspace(0, np.pi, 17))], -1)
    lm[17:27] = np.stack([cx + np.linspace(-60, 60, 10), np.full(10, cy - 55)], -1)
    lm[27:31] = np.stack([np.full(4, cx), cy - 30 + np.arange(4) * 12], -1)  # nose bridge
    lm[31:36] = np.stack([cx + np.linspace(-14, 14, 5), np.full(5, cy + 20)], -1)  # nostrils
    lm[36:42] = _ellipse(cx - 32, cy - 32, 12, 5, 6)  # subject's right eye; 36 outer, 39 inner corner
    lm[42:48] = _ellipse(cx + 32, cy - 32, 12, 5, 6)
    lm[48:60] = _ellipse(cx, cy + 50, 30, 10 + mouth_gap / 2, 12)
    inner = _ellipse(cx, cy + 50, 20, 0.01 + mouth_gap / 2, 8)
    lm[60:68] = inner
    return lm


def textured_face(seed=0, size=256) -> np.ndarray:
    """A smooth skin-like image: shading + fine blurred noise + a soft darker lip band (no hard edges)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    base = 0.55 + 0.15 * np.sin(xx / 60) * np.cos(yy / 80)
    noise = cv2.GaussianBlur(rng.normal(0, 0.05, (size, size)).astype(np.float32), (0, 0), 1.2)
    lips = 0.18 * np.exp(-(((xx - 128) / 30) ** 2 + ((yy - 178) / 8) ** 2))
    y = np.clip(base + noise - lips, 0, 1)
    rgb = np.stack([y * 1.05, y * 0.85, y * 0.75], -1)
    return (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)


def score(image, landmarks=None, reference=None):
    landmarks = face_landmarks() if landmarks is None else landmarks
    reference = textured_face(0) if reference is None else reference
    return meters.artifact_score(meters.artifact_parts(image, landmarks, reference, face_landmarks(), IOD))


# ---- jitter -----------------------------------------------------------------------------------------------------

def test_similarity_fit_recovers_a_rotation_scale_and_shift():
    src = np.random.default_rng(1).normal(0, 10, (10, 2))
    angle, s, t = 0.3, 1.2, np.array([5.0, -3.0])
    R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = s * src @ R.T + t
    np.testing.assert_allclose(meters.similarity_fit(src, dst), dst, atol=1e-9)


def test_jitter_is_zero_on_a_still_and_on_pure_rigid_head_motion():
    still = np.repeat(face_landmarks()[None], 20, 0)
    assert meters.rigid_jitter(still).max() < 1e-12
    frames = []
    for t in range(20):  # the head turns (roll), scales and slides: intended rigid motion
        a, s, shift = 0.02 * t, 1 + 0.01 * t, np.array([2.0 * t, -t])
        R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        frames.append(s * (face_landmarks() - 128) @ R.T + 128 + shift)
    assert meters.rigid_jitter(np.stack(frames)).max() < 1e-9


def test_jitter_rises_with_landmark_noise():
    rng = np.random.default_rng(0)
    still = np.repeat(face_landmarks()[None], 50, 0)
    figures = [meters.rigid_jitter(still + rng.normal(0, sigma, still.shape)).mean() for sigma in (0.3, 1.0, 3.0)]
    assert figures[0] > 0.002 and figures[0] < figures[1] < figures[2]
    # in IODs: 1 px of noise at IOD 64 is ~0.016 IOD per coordinate; the frame-to-frame residual is of that order
    assert 0.01 < figures[1] < 0.04


def test_jitter_ignores_the_mouth_moving():
    frames = np.stack([face_landmarks(mouth_gap=g) for g in np.linspace(0, 20, 30)])
    assert meters.rigid_jitter(frames).max() < 1e-12


def test_jitter_refuses_a_single_frame():
    with pytest.raises(ValueError, match="T>=2"):
        meters.rigid_jitter(face_landmarks()[None])


# ---- artifact score ---------------------------------------------------------------------------------------------

def test_artifact_score_is_low_for_the_same_kind_of_image():
    assert score(textured_face(0)) == 0.0
    assert score(textured_face(1)) < 1.0  # another noise draw of the same clean face


def test_pasted_rectangle_scores_clearly():
    image = textured_face(1).copy()
    image[160:196, 92:164] = image[100:136, 20:92]  # a rectangular patch of other skin pasted over the mouth
    assert score(image) > 3.0


def test_box_seam_on_a_closed_mouth_scores_clearly():
    image = textured_face(1).copy()
    cv2.rectangle(image, (96, 166), (160, 190), (90, 60, 55), 1)  # thin dark box outline where the lips are
    assert score(image) > 3.0


def test_flat_black_hole_with_a_white_band_scores_clearly():
    image = textured_face(1).copy()
    cv2.ellipse(image, (128, 180), (26, 10), 0, 0, 360, (8, 6, 6), -1)
    cv2.rectangle(image, (108, 171), (148, 175), (235, 235, 230), -1)
    landmarks = face_landmarks(mouth_gap=16)
    assert score(image, landmarks) > 5.0
    assert meters.artifact_parts(image, landmarks, textured_face(0), face_landmarks(), IOD)["dark"] > 0.05


def test_torn_staircase_edge_scores_clearly():
    image = textured_face(1).copy()
    for i, x in enumerate(range(92, 164, 6)):  # a jagged, step-shaped boundary of flat fill below the lip line
        top = 176 + (i % 3) * 4
        image[top:192, x:x + 6] = (70, 35, 35)
    assert score(image) > 3.0


def test_artifact_score_ignores_what_the_source_already_has():
    image = textured_face(1).copy()
    cv2.rectangle(image, (96, 166), (160, 190), (90, 60, 55), 1)
    assert score(image, reference=image) == 0.0


def test_artifact_score_follows_the_head():
    """The same clean face, shifted and slightly rotated (the head's own motion), is not an artifact."""
    M = cv2.getRotationMatrix2D((128, 128), 4.0, 1.03)
    M[:, 2] += (6, -4)
    moved = cv2.warpAffine(textured_face(0), M, (256, 256), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    landmarks = face_landmarks() @ M[:, :2].T + M[:, 2]
    assert score(moved, landmarks) < 1.0


def stubbled_face(seed=0, size=256) -> np.ndarray:
    """textured_face with fine grain a pixel across (stubble, pores): one-pixel luminance steps of its own."""
    grain = cv2.GaussianBlur(np.random.default_rng(seed).normal(0, 0.08, (size, size)).astype(np.float32), (0, 0), 0.5)
    return (np.clip(textured_face(seed) / 255 + grain[..., None], 0, 1) * 255).round().astype(np.uint8)


def test_a_sharp_face_moved_by_half_a_pixel_is_not_an_artifact():
    """The source is moved to the frame's head with a sharp (cubic) interpolation: moved by a bilinear one it lost
    the grain's steps, and a render that kept them sharp read them all as new (13.5 on this face)."""
    for seed in (0, 1, 2):
        source = stubbled_face(seed)
        M = np.float32([[1, 0, 0.5], [0, 1, 0.5]])
        moved = cv2.warpAffine(source, M, (256, 256), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        assert score(moved, face_landmarks() + 0.5, reference=source) < 0.5


def test_blurred_opening_scores_far_below_a_painted_one():
    """A shaded, soft-edged mouth opening (what a real mouth looks like) against the same opening painted flat."""
    landmarks = face_landmarks(mouth_gap=16)
    soft = textured_face(1).astype(np.float32)
    yy, xx = np.mgrid[0:256, 0:256]
    cavity = np.exp(-(((xx - 128) / 24) ** 2 + ((yy - 180) / 8) ** 2))[..., None]
    soft = (soft * (1 - 0.75 * cavity)).round().astype(np.uint8)
    painted = textured_face(1).copy()
    cv2.ellipse(painted, (128, 180), (24, 8), 0, 0, 360, (5, 5, 5), -1)
    assert score(painted, landmarks) > score(soft, landmarks) + 3.0


# ---- identity, mouth and eyes -----------------------------------------------------------------------------------

def test_identity_skips_cleanly_without_dlib(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "dlib" else real(name, *a))
    reason = meters.dlib_missing_reason()
    assert reason and "pip install" in reason and "dlib" in reason
    with pytest.raises(ImportError, match="pip install"):
        meters.DlibFace()
    assert meters.identity_distances(None, textured_face(0), None, [textured_face(1)], [None]) is None


def test_mouth_opening_and_eye_aspect_follow_the_landmarks():
    closed, open_ = face_landmarks(mouth_gap=0), face_landmarks(mouth_gap=20)
    assert meters.mouth_opening(closed) < 0.01 < 0.2 < meters.mouth_opening(open_)
    shut = face_landmarks()
    for eye in (meters.RIGHT_EYE, meters.LEFT_EYE):
        centre_y = shut[list(eye)][:, 1].mean()
        shut[list(eye), 1] = centre_y
    assert meters.eye_aspect(shut) < 0.02 < 0.2 < meters.eye_aspect(face_landmarks())


def test_sync_r_follows_the_real_mouth_at_its_own_frame_rate_and_forgives_one_frame_of_lag():
    t = np.arange(120) / 30.0  # 4 s of a real clip at 30 fps
    real = 0.05 + 0.05 * np.sin(2 * np.pi * 1.7 * t) ** 2
    times = np.arange(100) / 25.0  # the render's 25 fps
    same = 0.05 + 0.05 * np.sin(2 * np.pi * 1.7 * times) ** 2
    assert meters.sync_r(same, real, 30.0) > 0.99
    late = np.concatenate([same[:1], same[:-1]])  # one render frame behind the speaker
    assert meters.sync_r(late, real, 30.0) > 0.99
    assert meters.sync_r(late, real, 30.0, lags=(0,)) < meters.sync_r(late, real, 30.0)
    unrelated = np.random.default_rng(0).random(100)
    assert meters.sync_r(unrelated, real, 30.0) < 0.4
    assert meters.sync_r(np.full(100, 0.1), real, 30.0) == 0.0  # a mouth that never moves follows nothing


def test_sync_r_around_a_clip_offset_credits_a_render_that_follows_late_sound():
    # gallery.py's sync_r_av: where a clip's own sound is 5 frames late, the render (which follows that sound) is 5
    # frames behind the speaker's mouth; around lag 5 it follows it, around 0 it does not
    rng = np.random.default_rng(1)
    real = np.convolve(rng.random(130), np.ones(4) / 4, mode="same")[:125]  # syllables, no period to alias on
    render = np.concatenate([real[:1].repeat(5), real[:-5]])[:100]
    assert meters.sync_r(render, real, 25.0) < 0.5
    assert meters.sync_r(render, real, 25.0, lags=(4, 5, 6)) > 0.99


def test_opening_share_is_how_far_the_render_opens_against_the_speaker():
    real = 0.05 + 0.05 * np.sin(np.linspace(0, 12, 100)) ** 2
    assert meters.opening_share(real, real) == pytest.approx(1.0)
    assert meters.opening_share(0.5 * real, real) == pytest.approx(0.5)
    gaps = real.copy()
    gaps[::7] = np.nan  # frames where dlib found no face
    assert meters.opening_share(real, gaps) == pytest.approx(1.0, abs=0.05)
    assert np.isnan(meters.opening_share(real, np.zeros(100)))  # a speaker whose lips never part: no share


def test_lips_meet_share_counts_the_frames_whose_lips_close():
    # a speaker who closes on a fifth of the frames (m, b, p) and a render of him that never quite does
    syllables = 0.02 + 0.1 * np.sin(np.linspace(0, 20 * np.pi, 100)) ** 2
    assert meters.lips_meet_share(syllables) == pytest.approx(np.mean(syllables < meters.LIPS_MEET))
    assert 0.1 < meters.lips_meet_share(syllables) < 0.3
    assert meters.lips_meet_share(syllables + meters.LIPS_MEET) == 0.0
    lost = syllables.copy()
    lost[syllables < meters.LIPS_MEET] = np.nan  # dlib lost the face on exactly the closed frames: none measured closed
    assert meters.lips_meet_share(lost) == 0.0
    assert np.isnan(meters.lips_meet_share(np.full(10, np.nan)))  # no frame measured: no share
