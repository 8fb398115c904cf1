"""The Lip-Sync Score node finds a known offset, and the tracker finds the face in real frames."""
import numpy as np
import pytest
import torch
from skimage import data

from comfyui_modit.modit.quality.tracking import FaceTrack, track_faces
from comfyui_modit.nodes import run_node


def _speech(T, fps, sr, seed=0):
    """Bursts of a 200 Hz tone (syllables) and the per-frame loudness gate that made them."""
    rng = np.random.default_rng(seed)
    gate = np.convolve(rng.random(T) > 0.65, np.ones(3), mode="same") > 0
    t = np.arange(int(T * sr / fps)) / sr
    wave = 0.5 * np.sin(2 * np.pi * 200 * t) * gate[np.minimum((t * fps).astype(int), T - 1)]
    return torch.from_numpy(wave.astype(np.float32)), gate


def test_node_reports_the_lag_of_a_late_mouth(monkeypatch):
    T, fps, sr, lag = 150, 25.0, 16000, 3
    wave, gate = _speech(T, fps, sr)
    landmarks = torch.zeros(T, 468, 3)
    landmarks[:, 152, 1] = 200.0  # chin below the forehead: the face height
    landmarks[:, 14, 1] = torch.from_numpy(np.roll(gate.astype(np.float32), lag) * 30.0)  # mouth opens 3 frames late
    monkeypatch.setattr("comfyui_modit.nodes.quality.track_faces",
                        lambda frames: FaceTrack(landmarks, torch.ones(T, 2), torch.ones(T, dtype=torch.bool)))
    frames = torch.zeros(T, 64, 64, 3)
    audio = {"waveform": wave[None, None], "sample_rate": sr}
    offset, confidence, plot = run_node("MoDiTLipSyncScore", frames=frames, audio=audio, fps=fps, max_offset=10)
    assert offset == lag and confidence > 0.3
    assert plot.shape == (1, 384, 768, 3) and 0 <= float(plot.min()) and float(plot.max()) <= 1


def test_node_refuses_too_few_frames():
    with pytest.raises(ValueError, match="at least 8 frames"):
        run_node("MoDiTLipSyncScore", frames=torch.zeros(3, 8, 8, 3),
                 audio={"waveform": torch.zeros(1, 1, 16000), "sample_rate": 16000}, fps=25.0, max_offset=5)


def test_tracker_follows_a_real_face_and_reports_open_eyes():
    image = torch.from_numpy(data.astronaut()).float() / 255.0
    frames = torch.stack([image, torch.roll(image, shifts=6, dims=1), torch.zeros_like(image)])
    track = track_faces(frames)
    assert track.found.tolist() == [True, True, False]
    shift = (track.landmarks[1, :, 0] - track.landmarks[0, :, 0]).median()
    assert abs(float(shift) - 6.0) < 1.5, "the mesh moves with the face"
    assert torch.equal(track.landmarks[2], track.landmarks[1]), "a frame without a face repeats the last one"
    assert (track.eye_openness[0] > 0.7).all()
    with pytest.raises(ValueError, match="no face found"):
        track_faces(torch.zeros(2, 128, 128, 3))
