"""The lip-sync loop: frames out match audio frames and the crop, colours survive, batches and OOM back-off."""
import copy
import math

import pytest
import torch

from comfyui_modit.modit import comfy_adapter
from comfyui_modit.modit.timing import samples_for_frames
from comfyui_modit.modit.types import AudioFeatures
from comfyui_modit.modit.wav2lip.face_crop import FaceBox, crop_faces, face_box
from comfyui_modit.modit.wav2lip.model import Wav2LipModel
from comfyui_modit.modit.audio.lip_windows import MelWindows
from comfyui_modit.modit.wav2lip.reference import lip_sync


def mel_windows_for(audio):
    return MelWindows(audio, torch.device("cpu")).windows()

BOX = FaceBox(16, 8, 56, 60, 64)


class ReferenceEcho:
    """Stands in for Wav2Lip: returns the unmasked reference face (input channels 3..5, BGR) unchanged."""

    def encode_face(self, face):
        return [face]

    def decode(self, mel, skips):
        return skips[0][:, 3:6].expand(mel.shape[0], -1, -1, -1)


class MelProbe:
    """Stands in for Wav2Lip: paints each face grey with the first value of its mel window."""

    def __init__(self, fail_above: int | None = None):
        self.fail_above = fail_above
        self.batches = []

    def encode_face(self, face):
        return [face]

    def decode(self, mel, skips):
        if self.fail_above is not None and mel.shape[0] > self.fail_above:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        self.batches.append(mel.shape[0])
        return mel[:, :, :1, :1].expand(-1, 3, 96, 96)


def _run(network, frames, mel, batch_size=3, blend="box"):
    return lip_sync(network, frames, mel, BOX, batch_size=batch_size, device=torch.device("cpu"),
                    dtype=torch.float32, blend=blend)


def test_colour_order_round_trips_through_the_loop():
    """RGB frames go to Wav2Lip as BGR and come back as RGB: a red face stays red, not blue."""
    frames = torch.zeros(1, 64, 64, 3)
    frames[..., 0] = 0.9  # red
    frames[..., 2] = 0.1
    out = _run(ReferenceEcho(), frames, torch.zeros(4, 80, 16))
    assert out.shape == (4, 64, 64, 3)
    region = out[:, BOX.y1:BOX.y2, BOX.x1:BOX.x2]
    torch.testing.assert_close(region[..., 0], torch.full_like(region[..., 0], 0.9), atol=1e-5, rtol=0)
    torch.testing.assert_close(region[..., 2], torch.full_like(region[..., 2], 0.1), atol=1e-5, rtol=0)


@pytest.mark.parametrize("batch_size", [1, 3, 7, 64])
def test_frame_i_gets_mel_window_i(batch_size):
    T = 7
    mel = torch.arange(T, dtype=torch.float32).div(T).reshape(T, 1, 1).expand(T, 80, 16)
    out = _run(MelProbe(), torch.rand(1, 64, 64, 3), mel, batch_size=batch_size)
    centre = out[:, (BOX.y1 + BOX.y2) // 2, (BOX.x1 + BOX.x2) // 2, 1]
    torch.testing.assert_close(centre, torch.arange(T, dtype=torch.float32) / T)


def test_dubbed_frames_stay_in_order_and_outside_the_box_untouched():
    T = 5
    ramp = torch.linspace(0, 1, 64)
    frames = torch.stack([torch.stack([ramp[None, :].expand(64, 64) * (i + 1) / T, ramp[:, None].expand(64, 64),
                                       torch.full((64, 64), i / T)], dim=-1) for i in range(T)])  # smooth, distinct
    frames[:, :4] = torch.rand(T, 4, 64, 3)  # noise outside the box must come through bit-exact
    out = _run(ReferenceEcho(), frames, torch.zeros(T, 80, 16), batch_size=2)
    outside = torch.ones(64, 64, dtype=torch.bool)
    outside[BOX.y1:BOX.y2, BOX.x1:BOX.x2] = False
    assert torch.equal(out[:, outside], frames[:, outside])
    # each output frame's box is that frame's own face (not another frame's)
    expected = crop_faces(frames, BOX)
    assert (crop_faces(out, BOX) - expected).abs().max() < 0.02
    assert (crop_faces(out[1:2], BOX) - expected[0:1]).abs().max() > 0.1


def test_frame_count_must_match_the_audio():
    with pytest.raises(ValueError, match="expected 1 or 4 frames"):
        _run(ReferenceEcho(), torch.rand(3, 64, 64, 3), torch.zeros(4, 80, 16))


def test_out_of_memory_halves_the_batch_and_finishes():
    T = 9
    mel = torch.arange(T, dtype=torch.float32).div(T).reshape(T, 1, 1).expand(T, 80, 16)
    probe = MelProbe(fail_above=2)
    out = _run(probe, torch.rand(1, 64, 64, 3), mel, batch_size=8)
    assert max(probe.batches) <= 2 and sum(probe.batches) == T
    centre = out[:, (BOX.y1 + BOX.y2) // 2, (BOX.x1 + BOX.x2) // 2, 0]
    torch.testing.assert_close(centre, torch.arange(T, dtype=torch.float32) / T)


def test_other_errors_are_not_swallowed():
    class Broken(MelProbe):
        def decode(self, mel, skips):
            raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        _run(Broken(), torch.rand(1, 64, 64, 3), torch.zeros(3, 80, 16))


def test_progress_reaches_the_frame_count(progress_calls):
    seen = progress_calls
    lip_sync(MelProbe(), torch.rand(1, 64, 64, 3), torch.zeros(10, 80, 16), BOX, batch_size=4,
             device=torch.device("cpu"), dtype=torch.float32, progress=comfy_adapter.Progress(10))
    assert seen == [(4, 10), (8, 10), (10, 10)]


def test_mel_windows_follow_the_frames_in_time(make_audio):
    """A tone that starts at frame 10 (0.4 s at 25 fps) is silent in frame 4's window and loud in frame 10's."""
    T, fps = 20, 25.0
    samples = samples_for_frames(T, 16000, fps)
    t = torch.arange(samples) / 16000
    waveform = torch.where(t >= 0.4, 0.5 * torch.sin(2 * math.pi * 440 * t), torch.zeros_like(t))
    audio = AudioFeatures(features=torch.zeros(T, 1024), fps=fps, kind="hubert", waveform=waveform.float(),
                          sample_rate=16000)
    windows = mel_windows_for(audio)
    assert windows.shape == (T, 80, 16) and windows.dtype == torch.float32
    loudest_band = windows.amax(dim=1)  # [T, 16]: the loudest band at each of the 16 steps
    assert loudest_band[4].max() <= -4 + 1e-4  # frame 4's window (0.16..0.36 s) is silence (-4 in Wav2Lip's scale)
    assert loudest_band[10].min() > 0  # frame 10's window (0.40..0.60 s) is all tone
    assert loudest_band[9, 0] < -3.9 and loudest_band[9, -1] > 0  # frame 9's window starts before the tone


def test_mel_windows_resample_other_rates(make_audio):
    audio = make_audio(12)
    at_16k = mel_windows_for(audio)
    from comfyui_modit.modit.audio.resample import resample

    waveform_48k = resample(audio.waveform, 16000, 48000)
    waveform_48k = waveform_48k[:samples_for_frames(12, 48000, audio.fps)]
    at_48k = mel_windows_for(AudioFeatures(features=audio.features, fps=audio.fps, kind=audio.kind,
                                           waveform=waveform_48k, sample_rate=48000))
    assert at_48k.shape == at_16k.shape
    assert (at_48k - at_16k).abs().mean() < 0.1


def test_real_network_output_shape_range_and_alignment(random_network, make_face, make_audio):
    """A random-weight Wav2Lip through the handle: [T, S, S, 3] in 0..1, crop kept outside the face box."""
    network = random_network
    model = Wav2LipModel(network, "random.pth", torch.float32, torch.device("cpu"))
    face = make_face(64)
    audio = make_audio(3)
    out = model.lip_reference(face, audio, batch_size=2)
    assert out.shape == (audio.num_frames, 64, 64, 3) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    box = face_box(face.landmarks, 64)
    outside = torch.ones(64, 64, dtype=torch.bool)
    outside[box.y1:box.y2, box.x1:box.x2] = False
    assert torch.equal(out[:, outside], face.crop.expand(3, -1, -1, -1)[:, outside])
    assert not torch.equal(out[:, box.y2 - 15], face.crop.expand(3, -1, -1, -1)[:, box.y2 - 15])  # mouth redrawn
    # frame i is Wav2Lip's answer to mel window i, pasted into the crop
    windows = mel_windows_for(audio)
    faces = crop_faces(face.crop[None], box)
    x = torch.cat([faces.flip(1), faces.flip(1)], 1)
    x[:, :3, 48:] = 0
    with torch.no_grad():
        answers = network(windows[:, None], x.expand(3, -1, -1, -1)).flip(1)  # BGR -> RGB
    expected = torch.nn.functional.interpolate(answers, size=(box.height, box.width), mode="bilinear")
    expected = expected.permute(0, 2, 3, 1)[:, -20:-8, 10:-10]  # mouth and jaw: fully Wav2Lip when feathered
    mouth = out[:, box.y1:box.y2, box.x1:box.x2][:, -20:-8, 10:-10]
    assert (mouth - expected).abs().amax(dim=(1, 2, 3)).max() < 1e-4
    assert (mouth[1:] - expected[:-1]).abs().amax(dim=(1, 2, 3)).min() > 1e-3, "windows must not shift by a frame"
    # a still crop (face encoded once) gives what dubbing T copies of it gives
    dubbed = model.lip_reference(face, audio, frames=face.crop.expand(3, -1, -1, -1).half(), batch_size=3)
    assert (dubbed - out).abs().max() < 2e-3  # fp16 input frames


def test_bfloat16_weights_give_float32_frames_close_to_fp32(random_network, make_face, make_audio):
    face, audio = make_face(64), make_audio(2)
    reference = Wav2LipModel(random_network, "fp32", torch.float32, torch.device("cpu")).lip_reference(face, audio)
    half = Wav2LipModel(copy.deepcopy(random_network), "bf16", torch.bfloat16, torch.device("cpu"))
    out = half.lip_reference(face, audio)
    assert out.dtype == torch.float32
    assert (out - reference).abs().max() < 0.02


def test_mel_windows_in_batches_equal_one_pass(make_audio):
    """lip_sync reads MelWindows batch by batch; the batches join to the one-pass windows."""
    audio = make_audio(9)
    windows = MelWindows(audio, torch.device("cpu"))
    one_pass = windows.windows()
    assert windows.shape == tuple(one_pass.shape)
    torch.testing.assert_close(torch.cat([windows[a:a + 4] for a in range(0, 9, 4)]), one_pass, rtol=0, atol=1e-5)
