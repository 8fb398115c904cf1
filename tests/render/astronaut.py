"""A real source face for render tests: skimage's astronaut with MediaPipe-reference landmarks (stored data)."""
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
CROP_SIZE = 256


def make_face(Face, size: int | None = None):
    """A Face for skimage.data.astronaut() (512x512, or resized to `size`), landmarks from the reference runtime."""
    from skimage import data

    image = torch.from_numpy(data.astronaut()).float() / 255  # [512, 512, 3]
    landmarks_img = torch.from_numpy(np.load(os.path.join(HERE, "data", "astronaut_landmarks.npy"))).float()
    if size is not None and size != image.shape[0]:
        s = size / image.shape[0]
        image = F.interpolate(image.permute(2, 0, 1)[None], size=(size, size), mode="bilinear",
                              antialias=True, align_corners=False)[0].permute(1, 2, 0).clamp(0, 1)
        landmarks_img = landmarks_img * s
    low, high = landmarks_img[:, :2].min(0).values, landmarks_img[:, :2].max(0).values
    centre, side = (low + high) / 2, float((high - low).max() * 1.6)
    x0, y0 = float(centre[0] - side / 2), float(centre[1] - side / 2)
    k = side / CROP_SIZE
    crop_to_image = torch.tensor([[k, 0, x0], [0, k, y0]], dtype=torch.float64)
    landmarks = landmarks_img.clone()
    landmarks[:, 0] = (landmarks_img[:, 0] - x0) / k
    landmarks[:, 1] = (landmarks_img[:, 1] - y0) / k
    landmarks[:, 2] = landmarks_img[:, 2] / k
    ys = (torch.arange(CROP_SIZE) + 0.5) * k + y0
    xs = (torch.arange(CROP_SIZE) + 0.5) * k + x0
    H, W = image.shape[:2]
    grid = torch.stack(torch.meshgrid(xs / W * 2 - 1, ys / H * 2 - 1, indexing="xy"), -1)[None].float()
    crop = F.grid_sample(image.permute(2, 0, 1)[None], grid, align_corners=False)[0].permute(1, 2, 0)
    eyes = [[362, 263, 386, 374], [133, 33, 159, 145]]  # corners, upper and lower lid middles
    iris = torch.zeros(2, 5, 3)
    for e, (a, b, up, lo) in enumerate(eyes):
        centre_e = (landmarks[a] + landmarks[b]) / 2
        r = (landmarks[a] - landmarks[b]).norm() * 0.22
        iris[e] = centre_e + torch.tensor([[0, 0, 0], [r, 0, 0], [0, -r, 0], [-r, 0, 0], [0, r, 0]])
    return Face(image=image, crop=crop.contiguous(), crop_to_image=crop_to_image, landmarks=landmarks,
                iris=iris, pose=torch.zeros(6), beta_0=torch.zeros(12), eye_openness=torch.ones(2),
                neutral_mesh=landmarks.clone(), space="embedded-v1")
