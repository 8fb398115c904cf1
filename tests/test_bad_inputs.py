"""Inputs that are not what they claim, at library and node level (no ComfyUI): each is a clear error naming the
problem and the fix, or a correct result; never a hang, a crash or an out-of-memory.

The CLI reads files (truncated wav / mp4, a text file named .png); nodes get tensors (an 8000 px portrait, a
2x2 image, an hour of audio, 8-channel 96 kHz audio, a group photo of 12 faces).
"""
import math
import os

import numpy as np
import pytest
import torch

from comfyui_modit.modit_app import cli, graph_runner
from comfyui_modit.modit.audio import features as feature_module
from comfyui_modit.modit.audio.encoder import AudioEncoder
from comfyui_modit.modit.dit.sampling import plan_windows
from comfyui_modit.modit.face.analysis import MIN_SIDE, analyse_portrait
from comfyui_modit.modit.render import frame_size
from comfyui_modit.modit.render.renderer import RenderOptions
from comfyui_modit.modit.render.video import next_output_path, render_to_video, select_audio
from comfyui_modit.modit.timing import samples_for_frames
from comfyui_modit.modit.types import Motion
from comfyui_modit.nodes import run_node

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATE = 22050


def _tone(seconds: float, rate: int = RATE) -> np.ndarray:
    return (0.3 * np.sin(np.arange(int(seconds * rate)) / rate * 2 * np.pi * 220)).astype(np.float32)


def _write_mp4(path, wave: np.ndarray, rate: int = RATE) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(wave[None], format="flt", layout="mono")
        frame.sample_rate, frame.pts = rate, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _truncate(path, keep: float, tail: bool = False) -> str:
    data = open(path, "rb").read()
    cut = str(path) + ".cut"
    with open(cut, "wb") as f:
        f.write(data[-int(len(data) * keep):] if tail else data[:int(len(data) * keep)])
    return cut


# ------------------------------------------------------------------------------------------ files (the CLI)


def test_truncated_wav_keeps_what_is_there(tmp_path):
    import soundfile

    path = tmp_path / "speech.wav"
    soundfile.write(str(path), _tone(3.0), RATE, subtype="PCM_16")
    audio = graph_runner.LoadAudio().run(_truncate(path, 0.4))[0]
    seconds = audio["waveform"].shape[-1] / audio["sample_rate"]
    assert 1.0 < seconds < 1.3  # 40 % of a 3 s file: the samples that are there, as a player plays them
    torch.testing.assert_close(audio["waveform"][0, 0], torch.from_numpy(_tone(3.0)[:audio["waveform"].shape[-1]]),
                               atol=1 / 32768, rtol=0)
    with pytest.raises(ValueError, match="not a readable audio file.*truncated"):
        graph_runner.LoadAudio().run(_truncate(path, 30 / os.path.getsize(path)))  # header cut mid-way


@pytest.mark.parametrize("tail", [False, True])
def test_truncated_mp4_is_a_clear_error(tmp_path, tail):
    path = tmp_path / "speech.mp4"
    _write_mp4(path, _tone(3.0))
    with pytest.raises(ValueError, match="not a readable audio file.*export it again"):
        graph_runner.LoadAudio().run(_truncate(path, 0.5, tail))


def test_text_named_png_is_a_clear_error(tmp_path, capsys):
    text = tmp_path / "portrait.png"
    text.write_text("this is not a picture\n" * 20)
    with pytest.raises(ValueError, match="not a readable image.*PNG or JPEG"):
        graph_runner.LoadImage().run(str(text))
    code = cli.main(["--image", str(text), "--audio", os.path.join(ROOT, "samples", "speech.wav"),
                     "--out", str(tmp_path / "out.mp4")])
    assert code == 2 and "not a readable image" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "out.mp4")


@pytest.mark.parametrize("mode", ["I;16", "I"])
def test_deep_grey_portrait_loads_as_the_same_picture_as_its_8_bit_copy(tmp_path, mode):
    # A 16-bit grey PNG (scanners, raw converters) was clipped at 255 by convert("RGBA"): a white image, "no face".
    from PIL import Image

    ramp = np.linspace(0, 1, 64 * 48, dtype=np.float64).reshape(48, 64) ** 2
    eight = tmp_path / "eight.png"
    Image.fromarray(np.round(ramp * 255).astype(np.uint8)).save(eight)
    values = np.round(ramp * 65535)
    deep = tmp_path / ("deep.png" if mode == "I;16" else "deep.tif")  # PNG has no 32-bit integer mode
    picture = Image.fromarray(values.astype(np.uint16) if mode == "I;16" else values.astype(np.int32))
    assert picture.mode == mode
    picture.save(deep)
    expected, _ = graph_runner.LoadImage().run(str(eight))
    got, mask = graph_runner.LoadImage().run(str(deep))
    assert got.shape == expected.shape == (1, 48, 64, 3)
    assert float((got - expected).abs().max()) <= 1 / 255
    assert float(mask.abs().max()) == 0.0


# ------------------------------------------------------------------------------------------ images (nodes)


def test_two_by_two_image_names_the_minimum_size():
    with pytest.raises(ValueError, match=rf"2x2 px is too small.*at least {MIN_SIDE} px"):
        run_node("MoDiTExtract3DMM", image=torch.rand(1, 2, 2, 3), face_index=-1, min_score=0.5, margin=0.4,
                 detector="auto")


@pytest.fixture(scope="module")
def huge_face():
    """The sample portrait at 8000 x 8000 (768 MB as float32), analysed."""
    import cv2

    image = cv2.imread(os.path.join(ROOT, "samples", "portrait.png"))[..., ::-1]
    image = cv2.resize(image, (8000, 8000), interpolation=cv2.INTER_LINEAR)
    tensor = torch.from_numpy(image).float().div_(255)[None]
    del image
    return analyse_portrait(tensor)


def _still(face, T):
    return Motion.still(face.beta_0, T, 25.0, face.space)


def test_8000_px_portrait_is_analysed_at_full_size(huge_face):
    assert huge_face.image.shape == (8000, 8000, 3)
    assert huge_face.crop.shape == (512, 512, 3)
    # the face fills much of the sample portrait: its crop maps to thousands of source pixels
    assert float(huge_face.crop_to_image[:, :2].abs().sum()) * 512 > 2000


def test_8000_px_batch_that_cannot_fit_is_refused_before_rendering(huge_face, monkeypatch):
    from .render.test_video import flow_render

    monkeypatch.setattr(frame_size, "available_memory", lambda: 16 * 2 ** 30)
    with pytest.raises(ValueError, match=r"250 frames of 8000x8000 px need .* GiB.*Render To Video.*output_size"):
        flow_render(huge_face, _still(huge_face, 250), "source", 0.5, "cavity", 96)
    frames, mask = flow_render(huge_face, _still(huge_face, 2), "512", 0.5, "cavity", 96)
    assert frames.shape == (2, 512, 512, 3) and torch.isfinite(frames).all()


def test_8000_px_streams_to_a_file(huge_face, tmp_path):
    from .render.test_video import probe

    path, _, _ = next_output_path(str(tmp_path), "huge")
    render_to_video(huge_face, _still(huge_face, 2), path, RenderOptions(max_side=1024), None, preset="ultrafast")
    info = probe(path)
    assert (info["frames"], info["width"], info["height"]) == (2, 1024, 1024)


def test_twelve_faces_largest_or_by_number():
    """A 4 x 3 group photo of astronauts, one larger: -1 takes the larger; numbers count faces left to right,
    tiles included; a number past the faces found says how many there are."""
    from .render.astronaut import astronaut_image

    canvas = torch.full((3 * 320, 4 * 320, 3), 0.5)
    for i in range(12):
        row, col = divmod(i, 4)
        side = 300 if i == 6 else 240
        canvas[row * 320 + 10:row * 320 + 10 + side, col * 320 + 10:col * 320 + 10 + side] = astronaut_image(side)
    largest = analyse_portrait(canvas, face_index=-1)
    centre = largest.crop_to_image[:, 2] + largest.crop_to_image[:, :2].sum(1) * 256  # crop centre in image px
    assert 650 < float(centre[0]) < 950 and 330 < float(centre[1]) < 630  # the large face, row 1 column 2
    with pytest.raises(ValueError, match=r"face_index 31: only (\d+) face\(s\) found .*from left to right") as error:
        analyse_portrait(canvas, face_index=31)
    found = int(error.value.args[0].split("only ")[1].split(" ")[0])
    assert found >= 6  # the whole image alone finds one; the tiles find most of the rest
    first, last = analyse_portrait(canvas, face_index=0), analyse_portrait(canvas, face_index=found - 1)
    assert float(first.crop_to_image[0, 2]) < float(last.crop_to_image[0, 2])  # counted left to right


# ------------------------------------------------------------------------------------------ audio (nodes)


def test_eight_channel_96k_audio_is_downmixed_and_resampled(tmp_path):
    seconds, rate = 2.0, 96000
    t = torch.arange(int(seconds * rate)) / rate
    waveform = torch.zeros(1, 8, t.shape[0])
    waveform[0, 3] = 0.8 * torch.sin(2 * math.pi * 440 * t)  # one channel speaks; the mix is it / 8
    features, audio, frame_count, fps = run_node("MoDiTEncodeAudio", audio={"waveform": waveform, "sample_rate": rate},
                                                fps=25.0)
    assert frame_count == 50 and features.features.shape == (50, 320) and torch.isfinite(features.features).all()
    assert audio["sample_rate"] == rate and audio["waveform"].shape == (1, 1, samples_for_frames(50, rate, 25.0))
    torch.testing.assert_close(audio["waveform"][0, 0, :t.shape[0]], waveform[0].mean(0))
    # resampled correctly: the 16 kHz signal the mel reads is the 440 Hz tone at 0.1 amplitude
    x16 = feature_module.Waveform16k(_aligned(features), torch.device("cpu"))[1600:30400]
    spectrum = torch.fft.rfft(x16 * torch.hann_window(x16.shape[0]))
    assert abs(int(spectrum.abs().argmax()) * 16000 / x16.shape[0] - 440) < 2
    assert float(x16.abs().max()) == pytest.approx(0.1, rel=0.02)
    # and it becomes the soundtrack of a streamed render (96 kHz is an AAC rate; 192 kHz is resampled to 48 kHz)
    from .render.astronaut import make_face
    from .render.test_video import probe

    face = make_face(256)
    for source_rate, expected in ((rate, rate), (192000, 48000)):
        T = 10
        samples = torch.zeros(1, 8, samples_for_frames(T, source_rate, 25.0))
        path, _, _ = next_output_path(str(tmp_path), f"r{source_rate}")
        motion = _still(face, T)
        render_to_video(face, motion, path, RenderOptions(), select_audio(motion, None, {"waveform": samples,
                        "sample_rate": source_rate}), preset="ultrafast")
        assert probe(path)["audio_rate"] == expected


def _aligned(features):
    from comfyui_modit.modit.audio.alignment import AlignedAudio

    return AlignedAudio(features.waveform, features.sample_rate, features.num_frames, features.fps)


def test_one_hour_recording_is_encoded_in_bounded_chunks(monkeypatch):
    """An hour at 8 kHz (115 MB): features are computed chunk by chunk and the 16 kHz signal is never held whole.

    The mel itself is stubbed (the property is what each chunk reads, not an hour of FFTs)."""
    seconds, rate, fps = 3600, 8000, 25.0
    waveform = torch.zeros(1, 1, seconds * rate)
    reads = []

    def cheap_log_mel(waveform_16k, start, stop, pad_mode="reflect"):
        span = waveform_16k[max(start * 200 - 400, 0):min((stop - 1) * 200 + 400, waveform_16k.shape[0])]
        reads.append(span.shape[0])
        return torch.zeros(80, stop - start)

    monkeypatch.setattr(feature_module, "log_mel_frames", cheap_log_mel)
    features = AudioEncoder.builtin_mel().encode({"waveform": waveform, "sample_rate": rate}, fps)
    assert features.features.shape == (seconds * 25, 320)
    chunk_samples = feature_module.CHUNK_SECONDS * 16000
    assert len(reads) >= seconds / feature_module.CHUNK_SECONDS and max(reads) < 1.1 * chunk_samples
    # the sampler works in windows of bounded size over the same hour
    windows = plan_windows(seconds * 25, 100, 20)
    assert max(w.end - w.start for w in windows) == 100 and windows[-1].end == seconds * 25
    assert all(b.start < a.end for a, b in zip(windows, windows[1:]))  # overlapping, no gaps
