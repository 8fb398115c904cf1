"""The FaceStack handle: BlazeFace detection, Face Mesh and Iris on one ModelPatcher (paper §3.1 face analysis).

Coordinates are pixels with the origin at the top-left pixel corner (x right, y down). Inputs are images in
0..1 (any float dtype, any device); outputs are float32 on the adapter's intermediate device.

Input normalisation, applied here so callers never do it: both detectors take RGB in [-1, 1]; Face Mesh and
Iris take RGB in [0, 1].
"""
import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ... import comfy_adapter
from . import roi
from .blazeface import decode, generate_anchors, weighted_nms
from .iris import flip_horizontal
from .networks import NETWORKS, load_network

log = logging.getLogger(__name__)

DETECTOR_CHOICES = ("short", "full", "auto")
_DETECTORS = {"short": "face_detection_short_range", "full": "face_detection_full_range"}
_CHUNK = 64  # crops per forward pass: bounds activation memory for long frame batches


@dataclass(frozen=True, eq=False)
class Detection:
    """One detected face in image pixels."""

    box_xyxy: torch.Tensor  # [4] float32: xmin, ymin, xmax, ymax
    # [6, 2] float32: right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion (the
    # subject's right and left: on an upright, unmirrored photo the right eye is the one on the image left)
    keypoints: torch.Tensor
    score: float  # 0..1

    @property
    def area(self) -> float:
        size = (self.box_xyxy[2:] - self.box_xyxy[:2]).clamp(min=0)
        return float(size[0] * size[1])


@dataclass(frozen=True, eq=False)
class FaceLandmarks:
    """Face Mesh and Iris results for one face, mapped back to image pixels."""

    mesh: torch.Tensor  # [468, 3] float32 image px (z has the scale of x, larger = farther)
    presence: float  # 0..1 Face Mesh face-presence probability
    # [2, 71, 3] image px; [0] the subject's right eye (image left when upright), [1] the left eye. Points 0..15
    # are the lids, matching mesh points roi.EYE_CONTOUR_MESH_INDICES; z is relative to the eye crop
    eye_contours: torch.Tensor
    irises: torch.Tensor  # [2, 5, 3] image px, same eye order; point 0 is the iris centre, 1..4 on its rim
    face_region: roi.Region  # where the mesh looked


class _Networks(nn.Module):
    """All four networks in one module, so a single patcher loads and offloads them together (about 8 MB)."""

    def __init__(self):
        super().__init__()
        # channels_last: oneDNN runs these depthwise / pointwise stacks about 1.5x faster on CPU in NHWC
        self.nets = nn.ModuleDict({key: load_network(key).to(memory_format=torch.channels_last)
                                   for key in NETWORKS})


class FaceStack:
    """Handle over the bundled MediaPipe face networks. Build with `FaceStack.load()` (cached per device)."""

    _cache: dict = {}

    def __init__(self, networks: _Networks, device: torch.device):
        self._networks = networks
        self.patcher = comfy_adapter.make_patcher(networks, load_device=device)
        self.device = device
        self._anchors = {name: generate_anchors(networks.nets[key].config) for name, key in _DETECTORS.items()}

    @classmethod
    def load(cls, device: torch.device | str | None = None) -> "FaceStack":
        """The face stack on `device` (default: the adapter's compute device); weights come from modit/weights."""
        device = torch.device(device) if device is not None else comfy_adapter.compute_device()
        if device not in cls._cache:
            cls._cache[device] = cls(_Networks(), device)
            log.info("MediaPipe face stack (BlazeFace short/full, Face Mesh, Iris) loaded for %s", device)
        return cls._cache[device]

    def _net(self, key: str) -> nn.Module:
        comfy_adapter.load_models([self.patcher])
        return self._networks.nets[key]

    # ------------------------------------------------------------------------------------ detection

    @torch.no_grad()
    def detect(self, image: torch.Tensor, min_score: float = 0.5, model: str = "short") -> list[Detection]:
        """Faces in image [H, W, 3] in 0..1, largest box first.

        model: "short" (faces within ~2 m, filling much of the frame; 128x128 input), "full" (smaller / farther
        faces too; 192x192 input), "auto" (short, then full if short finds nothing). The image is letterboxed
        (scaled to fit, centred, black borders) to the detector's square input.
        """
        if model not in DETECTOR_CHOICES:
            raise ValueError(f"detect model: expected one of {DETECTOR_CHOICES}, got {model!r}")
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"detect image: expected [H, W, 3] RGB in 0..1, got {tuple(image.shape)}; "
                             f"pass one frame of an IMAGE batch, without alpha")
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"detect min_score: expected a probability in 0..1, got {min_score}")
        if model == "auto":
            return self.detect(image, min_score, "short") or self.detect(image, min_score, "full")
        net = self._net(_DETECTORS[model])
        size = net.config.input_size
        tensor, scale, offset = letterbox(image.to(self.device), size)
        scores, regressors = _forward(net, _nhwc(tensor * 2 - 1))  # [1, A], [1, A, 16]
        probabilities, points = decode(scores[0], regressors[0], self._anchors[model].to(self.device), net.config)
        faces = weighted_nms(probabilities, points, min_score, net.config.min_suppression_iou)
        out = comfy_adapter.intermediate_device()
        detections = []
        for merged, score in faces:
            pixels = ((merged * size - offset) / scale).float().to(out)  # [8, 2] image px
            detections.append(Detection(pixels[:2].reshape(4), pixels[2:], score))
        return sorted(detections, key=lambda d: d.area, reverse=True)

    # --------------------------------------------------------------------------------- landmarks

    @torch.no_grad()
    def mesh(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Face Mesh on crops [B, 192, 192, 3] in 0..1 -> (landmarks [B, 468, 3] in 192-px crop coordinates,
        presence [B] face probability 0..1). Crops are upright faces at MediaPipe's scale (see roi.face_region)."""
        landmarks, logits = self._run("face_landmark", crops, 192)
        return landmarks, torch.sigmoid(logits)

    @torch.no_grad()
    def iris(self, eye_crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Iris on eye crops [B, 64, 64, 3] in 0..1 -> (eye_contour [B, 71, 3], iris [B, 5, 3]) in 64-px crop
        coordinates. The network knows one eye only: the one on the image LEFT of an upright, unmirrored face
        (the subject's right eye, mesh corners 33/133). Flip crops of the other eye horizontally before this call
        and flip the results back with iris.flip_horizontal(points, 64), as `landmarks` does."""
        return self._run("iris_landmark", eye_crops, 64)

    def _run(self, key: str, crops: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        if crops.ndim != 4 or tuple(crops.shape[1:]) != (size, size, 3):
            raise ValueError(f"{key}: expected crops [B, {size}, {size}, 3] in 0..1, got {tuple(crops.shape)}")
        net = self._net(key)
        out = comfy_adapter.intermediate_device()
        firsts, seconds = [], []
        for start in range(0, crops.shape[0], _CHUNK):
            comfy_adapter.check_interrupt()
            chunk = crops[start:start + _CHUNK].to(self.device, torch.float32).permute(0, 3, 1, 2)
            first, second = _forward(net, _nhwc(chunk))
            firsts.append(first.float().to(out))
            seconds.append(second.float().to(out))
        return torch.cat(firsts), torch.cat(seconds)

    @torch.no_grad()
    def landmarks(self, image: torch.Tensor, detection: Detection) -> FaceLandmarks:
        """Detection -> Face Mesh -> both eyes' Iris, all mapped to image pixels (MediaPipe's face pipeline)."""
        image = image.to(self.device)
        face = roi.face_region(detection.box_xyxy, detection.keypoints)
        crop, matrix = roi.crop_region(image, face, 192)
        mesh, presence = self.mesh(crop[None])
        mesh = roi.to_image(mesh[0], matrix, 192, face.size)  # [468, 3] image px
        eyes = [roi.eye_region(mesh, corners) for corners in roi.EYE_CORNERS]
        crops, matrices = zip(*(roi.crop_region(image, eye, 64) for eye in eyes))
        crops = torch.stack([crops[0], crops[1].flip(1)])  # the second eye mirrored into the model's view
        contours, irises = self.iris(crops)
        contours[1], irises[1] = flip_horizontal(contours[1], 64), flip_horizontal(irises[1], 64)
        contours = torch.stack([roi.to_image(contours[i], matrices[i], 64, eyes[i].size) for i in range(2)])
        irises = torch.stack([roi.to_image(irises[i], matrices[i], 64, eyes[i].size) for i in range(2)])
        return FaceLandmarks(mesh, float(presence[0]), contours, irises, face)


def _forward(net: nn.Module, x: torch.Tensor):
    """net(x); on CUDA without cuDNN. cuDNN 9 compiles a kernel at run time the first time it meets each of these
    networks' depthwise and small convolution shapes (NVIDIA/cudnn-frontend#1066): a fresh process spent 5-9 s in
    its first face analysis on an H200, 0.26 s with PyTorch's own CUDA convolutions, which are also faster here
    once warm (25 against 37 ms per portrait)."""
    if x.device.type != "cuda":
        return net(x)
    with torch.backends.cudnn.flags(enabled=False):
        return net(x)


def _nhwc(x: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] stored channels-last, the layout the networks are kept in."""
    return x.contiguous(memory_format=torch.channels_last)


def letterbox(image: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fit image [H, W, 3] into a black size x size square, centred: (tensor [1, 3, size, size] in 0..1,
    scale [2] (model px per image px, per axis), offset [2] (model px of the image's top-left corner))."""
    H, W = image.shape[:2]
    fit = size / max(H, W)
    h, w = max(1, round(H * fit)), max(1, round(W * fit))
    resized = F.interpolate(image.float().permute(2, 0, 1)[None], size=(h, w), mode="bilinear",
                            align_corners=False, antialias=True)
    top, left = (size - h) // 2, (size - w) // 2
    canvas = F.pad(resized, (left, size - w - left, top, size - h - top))
    scale = torch.tensor([w / W, h / H], dtype=torch.float32, device=image.device)
    offset = torch.tensor([left, top], dtype=torch.float32, device=image.device)
    return canvas.clamp(0, 1), scale, offset
