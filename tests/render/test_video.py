"""Streaming render to mp4: right frame count and duration, audio covering exactly the frames, no overwrites."""
import math

import pytest
import torch

from comfyui_modit.modit.render.renderer import RenderOptions
from comfyui_modit.modit.render import video as video_module
from comfyui_modit.modit.render.video import next_output_path, render_to_video, rgb_to_yuv420, select_audio
from comfyui_modit.modit.timing import samples_for_frames
from comfyui_modit.modit.types import AudioFeatures, Motion
from comfyui_modit.nodes import run_node, run_node_with_ui

from .astronaut import make_face

FPS = 25.0
SR = 16000


@pytest.fixture(scope="module")
def small_face():
    return make_face(256)


def flow_render(face, motion, output_size, feather, mouth_style, flow_resolution, **optional):
    """MoDiT Flow Render's (frames, mask), run as ComfyUI runs it."""
    return run_node("MoDiTFlowRender", face=face, motion=motion, output_size=output_size, feather=feather,
                    mouth_style=mouth_style, flow_resolution=flow_resolution, **optional)


def render_to_video_node(face, motion, output_size, feather, mouth_style, flow_resolution, filename_prefix, crf,
                         preset, **optional):
    """MoDiT Render To Video's ((path,), ui), run as ComfyUI runs it."""
    return run_node_with_ui("MoDiTRenderToVideo", face=face, motion=motion, output_size=output_size,
                            feather=feather, mouth_style=mouth_style, flow_resolution=flow_resolution,
                            filename_prefix=filename_prefix, crf=crf, preset=preset, **optional)

def talking(T):
    t = torch.arange(T).float()
    expression = make_face(256).beta_0.float().repeat(T, 1)
    expression[:, 0] = 0.4 + 0.4 * torch.sin(t / 2)
    eyes = torch.zeros(T, 2)
    eyes[T // 2] = 1.0
    pose = torch.zeros(T, 6)
    pose[:, 0] = 0.1 * torch.sin(t / 7)
    return Motion(expression, pose, eyes, FPS, "embedded-v1")


def features(T):
    S = samples_for_frames(T, SR, FPS)
    wave = 0.3 * torch.sin(torch.arange(S) / SR * 2 * math.pi * 220)
    return AudioFeatures(torch.zeros(T, 80), FPS, "mel80", wave, SR)


def probe(path):
    import av

    with av.open(path) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        frames = sum(1 for _ in container.decode(video=0))
        return {"frames": frames, "width": video.width, "height": video.height,
                "video_s": float(video.duration * video.time_base),
                "audio_s": float(audio.duration * audio.time_base) if audio is not None else None,
                "audio_rate": audio.rate if audio is not None else None}


def test_streaming_file_has_the_frames_and_audio(small_face, tmp_path):
    T = 33  # not a multiple of the chunk size
    path, _, _ = next_output_path(str(tmp_path), "clip")
    audio = select_audio(talking(T), features(T))
    render_to_video(small_face, talking(T), path, RenderOptions(chunk_size=8), audio)
    info = probe(path)
    assert info["frames"] == T
    assert info["width"] == 256 and info["height"] == 256
    assert info["video_s"] == pytest.approx(T / FPS, abs=1e-3)
    assert info["audio_rate"] == SR
    assert info["audio_s"] == pytest.approx(T / FPS, abs=0.07)  # AAC works in 1024-sample frames


def decoded_frames(path):
    import av

    with av.open(path) as container:
        return torch.stack([torch.from_numpy(f.to_ndarray(format="rgb24")) for f in container.decode(video=0)])


def test_rgb_to_yuv420_is_what_libswscale_makes(small_face):
    import av

    frame = (small_face.image[:254, :200] * 255).round().to(torch.uint8)  # a face, not a flat test card
    ours = rgb_to_yuv420(frame[None])[0].int()
    reference = torch.from_numpy(av.VideoFrame.from_ndarray(frame.numpy(), format="rgb24")
                                 .reformat(format="yuv420p").to_ndarray()).int()
    assert ours.shape == reference.shape == (254 * 3 // 2, 200)
    luma, chroma = (ours - reference)[:254].abs(), (ours - reference)[254:].abs()
    assert int(luma.max()) <= 1 and float(chroma.float().mean()) < 0.5 and int(chroma.max()) <= 8


def test_frames_converted_on_the_render_device_make_the_same_video(small_face, tmp_path, monkeypatch):
    """The GPU route (YUV made beside the render, I420 to the encoder) writes what the CPU route (RGB) writes."""
    T = 10
    paths = []
    for on_device in (False, True):
        monkeypatch.setattr(video_module, "converts_on_device", lambda device, on=on_device: on)
        paths.append(str(tmp_path / f"route_{on_device}.mp4"))
        render_to_video(small_face, talking(T), paths[-1], RenderOptions(chunk_size=4))
    rgb_route, yuv_route = (decoded_frames(p).float() for p in paths)
    assert rgb_route.shape == yuv_route.shape == (T, 256, 256, 3)
    difference = rgb_route - yuv_route  # encoding noise and chroma siting, not a colour shift
    assert float(difference.abs().mean()) < 2.0
    assert difference.mean(dim=(0, 1, 2)).abs().max() < 0.5, "the routes' colours differ (matrix or range)"


def test_next_output_path_never_overwrites(tmp_path):
    first = next_output_path(str(tmp_path), "sub/clip")
    second = next_output_path(str(tmp_path), "sub/clip")
    assert first[0] != second[0] and first[1] == "sub"
    assert first[2] == "clip_00001_.mp4" and second[2] == "clip_00002_.mp4"
    with pytest.raises(ValueError, match="outside the output folder"):
        next_output_path(str(tmp_path), "../escape")


def test_audio_that_does_not_match_the_frames_is_refused():
    T = 10
    with pytest.raises(ValueError, match="frames"):
        select_audio(talking(T), features(T + 3))
    long_audio = {"waveform": torch.zeros(1, 2, samples_for_frames(T + 5, 44100, FPS)), "sample_rate": 44100}
    with pytest.raises(ValueError, match="motion has 10"):
        select_audio(talking(T), None, long_audio)
    stereo = {"waveform": torch.zeros(1, 2, samples_for_frames(T, 44100, FPS)), "sample_rate": 44100}
    soundtrack = select_audio(talking(T), features(T), stereo)  # core AUDIO wins when both are given
    assert soundtrack.channels == 2 and soundtrack.sample_rate == 44100


def test_render_to_video_node(small_face, user_dirs):
    T = 12
    (path,), ui = render_to_video_node(small_face, talking(T), "source", 0.5, "cavity", 128, "MoDiT/test", 23,
                                       "ultrafast", audio_features=features(T))
    assert path.startswith(str(user_dirs["output"])) and path.endswith("test_00001_.mp4")
    assert ui["images"][0] == {"filename": "test_00001_.mp4", "subfolder": "MoDiT", "type": "output"}
    assert probe(path)["frames"] == T


def test_flow_render_node_outputs(small_face):
    frames, mask = flow_render(small_face, talking(3), "256", 0.5, "cavity", 96)
    assert frames.shape == (3, 256, 256, 3) and mask.shape == (3, 256, 256)
    assert frames.dtype == torch.float32 and torch.isfinite(frames).all()
    with pytest.raises(ValueError, match="mouth_reference"):
        flow_render(small_face, talking(3), "source", 0.5, "cavity", 96, mouth_reference=torch.zeros(2, 256, 256, 3))


class Cancelled(BaseException):
    """Stands in for ComfyUI's InterruptProcessingException, which is a BaseException too."""


@pytest.mark.parametrize("cancel_at", [1, 3])
def test_cancelled_render_to_video_leaves_no_file(small_face, user_dirs, monkeypatch, pack, cancel_at):
    """Cancel after the first rendered chunk, or while a later chunk waits for the encoder: no mp4 (partial or
    empty) stays in the output folder, and the cancel itself reaches the caller."""
    calls = []

    def check_interrupt():
        calls.append(1)
        if len(calls) >= cancel_at:
            raise Cancelled()

    monkeypatch.setattr(pack.modit.comfy_adapter, "check_interrupt", check_interrupt)
    T = 40
    with pytest.raises(Cancelled):
        render_to_video_node(small_face, talking(T), "source", 0.5, "cavity", 96, "MoDiT/cancel", 23, "ultrafast",
                             audio_features=features(T))
    assert calls, "the render never checked for cancel"
    leftovers = [p for p in user_dirs["output"].rglob("*") if p.is_file()]
    assert leftovers == [], f"cancel left {leftovers}"
