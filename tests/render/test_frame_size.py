"""Odd portrait sizes: every frame the pack returns or encodes has even sides, so libx264 (core SaveVideo) takes it.

The portraits are the astronaut on a grey canvas of the odd size; the basic path's frames are encoded here
exactly as core SaveVideo does (PyAV, libx264, yuv420p, the IMAGE's own size), the streaming path by the node.
"""
import pytest
import torch

from comfyui_modit.modit.render.frame_size import crop_to_encodable, encodable_size

from .astronaut import analyse, astronaut_image
from .test_video import features, flow_render, probe, render_to_video_node, talking

T = 2


def portrait(height: int, width: int):
    """The astronaut, as large as fits, centred on a mid-grey height x width canvas, analysed."""
    side = min(height, width)
    canvas = torch.full((height, width, 3), 0.5)
    y0, x0 = (height - side) // 2, (width - side) // 2
    canvas[y0:y0 + side, x0:x0 + side] = astronaut_image(side)
    return analyse(canvas)


def save_video_like_core(images: torch.Tensor, path: str, fps: float = 25.0) -> None:
    """What core SaveVideo (VideoFromComponents.save_to) does with an IMAGE batch: libx264 at the IMAGE's size."""
    import av

    with av.open(path, mode="w") as output:
        stream = output.add_stream("h264", rate=int(fps))
        stream.width, stream.height = images.shape[2], images.shape[1]
        stream.pix_fmt = "yuv420p"
        for frame in images:
            img = (frame * 255).clamp(0, 255).byte().cpu().numpy()
            video_frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            output.mux(stream.encode(video_frame))
        output.mux(stream.encode(None))


def test_the_rule():
    assert encodable_size(959, 640) == (958, 640)
    assert encodable_size(3511, 3511) == (3510, 3510)
    assert encodable_size(301, 225) == (300, 224)
    assert encodable_size(512, 512) == (512, 512)
    with pytest.raises(ValueError, match="at least 2 px"):
        encodable_size(1, 640)
    frames = torch.rand(3, 7, 5, 3)
    cropped = crop_to_encodable(frames)
    assert cropped.shape == (3, 6, 4, 3) and torch.equal(cropped, frames[:, :6, :4])  # crop, no resampling
    assert cropped.data_ptr() == frames.data_ptr()  # a view
    even = torch.rand(2, 4, 6)
    assert crop_to_encodable(even) is even


def test_core_save_video_refuses_odd_sizes(tmp_path):
    """The bug this guards against: libx264 will not open an odd-sized stream."""
    import av

    with pytest.raises((av.error.FFmpegError, ValueError)):
        save_video_like_core(torch.rand(1, 9, 8, 3), str(tmp_path / "odd.mp4"))


@pytest.mark.parametrize("height, width, output_size, expected", [
    (959, 640, "source", (958, 640)),
    (301, 225, "source", (300, 224)),
    (301, 225, "256", (256, 190)),  # the renderer's 256 x 191.4 -> 191 is odd too
    (3511, 3511, "source", (3510, 3510)),
])
def test_basic_path_frames_encode_with_libx264(tmp_path, height, width, output_size, expected):
    face = portrait(height, width)
    frames, mask = flow_render(face, talking(T), output_size, 0.5, "cavity", 96)
    assert tuple(frames.shape[1:3]) == expected and tuple(mask.shape[1:]) == expected
    path = str(tmp_path / "basic.mp4")
    save_video_like_core(frames, path)
    info = probe(path)
    assert (info["frames"], info["height"], info["width"]) == (T, *expected)


@pytest.mark.parametrize("height, width, expected", [(959, 640, (958, 640)), (301, 225, (300, 224)),
                                                     (3511, 3511, (3510, 3510))])
def test_streaming_path_encodes_odd_sizes(user_dirs, height, width, expected):
    face = portrait(height, width)
    (path,), _ = render_to_video_node(face, talking(T), "source", 0.5, "cavity", 96, "odd", 23, "ultrafast",
                                      audio_features=features(T))
    info = probe(path)
    assert (info["frames"], info["height"], info["width"]) == (T, *expected)
