"""A real source face for render tests: skimage's astronaut analysed by the embedded face stack."""
import functools

import torch
import torch.nn.functional as F


@functools.lru_cache(maxsize=4)
def astronaut_image(size: int = 512) -> torch.Tensor:
    """skimage.data.astronaut() as [size, size, 3] float32 0..1."""
    from skimage import data

    image = torch.from_numpy(data.astronaut()).float() / 255  # [512, 512, 3]
    if size != image.shape[0]:
        image = F.interpolate(image.permute(2, 0, 1)[None], size=(size, size), mode="bilinear", antialias=True,
                              align_corners=False)[0].permute(1, 2, 0).clamp(0, 1)
    return image


def analyse(image: torch.Tensor):
    from comfyui_modit.modit.face.analysis import analyse_portrait

    return analyse_portrait(image)


@functools.lru_cache(maxsize=4)
def make_face(size: int = 512):
    """The analysed astronaut portrait (a Face), cached across tests."""
    return analyse(astronaut_image(size))
