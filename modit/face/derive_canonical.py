"""Derive the bundled canonical neutral mesh (paper §3.1 pose reference) from the face mesh network itself.

No canonical MediaPipe mesh ships in any PyPI wheel we can read (mediapipe 0.10.14 and 1.2.2 carry no
canonical_face_model.obj), so we derive one: run the mesh on a public-domain frontal portrait
(skimage.data.astronaut(), NASA) and on its mirror image, find the landmark mirror pairs by matching the mirrored
mesh to the original, average each point with its aligned mirror partner (an exactly left/right-symmetric mesh),
then put it in the canonical frame of geometry.py: origin at the centroid, x = the symmetry plane's normal, z =
normal of the plane through the outer eye corners and the mouth corners (z into the head), outer eye corners 1
apart. The photo smiles slightly with closed lips, so the template's mouth carries a little smile: expression
coefficients are relative to that (documented in expression.py).

Run: python -m modit_app derive-canonical OUT.safetensors   (with the embedded PyTorch face stack)
"""
import torch

from . import landmarks as lm
from .alignment import roi_from_detection, roi_from_landmarks, run_mesh
from .geometry import procrustes


def _mesh(stack, image):
    det = stack.detect(image)[0]
    points, _ = run_mesh(stack, image, roi_from_detection(det.box_xyxy, det.keypoints))
    points, _ = run_mesh(stack, image, roi_from_landmarks(points))
    return points.double()


def derive(stack) -> tuple[torch.Tensor, torch.Tensor]:
    """(canonical_mesh [468, 3] float32, mirror_index [468] long) from the astronaut photo."""
    import skimage.data
    from scipy.optimize import linear_sum_assignment

    image = torch.tensor(skimage.data.astronaut() / 255.0).float()
    W = image.shape[1]
    X = _mesh(stack, image)
    Y = _mesh(stack, image.flip(1))
    Y[:, 0] = W - Y[:, 0]  # mirrored back: Y[j] sits where landmark mirror(j) of X sits
    # Y is X's face with mirrored labels but (for a slightly turned head) a slightly different pose: match,
    # align with the match, match again until the pairing settles.
    Y_aligned = Y - Y.mean(0) + X.mean(0)
    for _ in range(5):
        rows, cols = linear_sum_assignment(torch.cdist(Y_aligned, X).numpy())
        mirror = torch.as_tensor(cols)[torch.as_tensor(rows).argsort()]
        s, R, t = procrustes(Y, X[mirror], torch.ones(468, dtype=torch.float64))
        Y_aligned = s * Y @ R.T + t
    if not torch.equal(mirror[mirror], torch.arange(468)):
        raise RuntimeError("mirror pairs are not an involution; the portrait is too far from frontal")
    # Reflect X across x and relabel by the mirror pairs: a mesh of the mirror face in X's labelling.
    reflected = X[mirror] * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    s, R, t = procrustes(reflected, X, torch.ones(468, dtype=torch.float64))
    symmetric = (X + (s * reflected @ R.T + t)) / 2
    centred = symmetric - symmetric.mean(0)
    # Symmetry-plane normal: the direction in which point + mirror partner cancel.
    diffs = centred - centred[mirror]
    x_axis = torch.linalg.svd(diffs, full_matrices=False).Vh[0]
    x_axis = x_axis * torch.sign(x_axis[0])  # toward image right = the subject's left in a frontal view
    # Face plane: through the outer eye corners and the mouth corners (the usual frontal-pose convention).
    eyes = centred[[lm.RIGHT_EYE_CORNERS[0], lm.LEFT_EYE_CORNERS[0]]].mean(0)
    mouth = centred[[lm.MOUTH_CORNER_RIGHT, lm.MOUTH_CORNER_LEFT]].mean(0)
    y_axis = mouth - eyes
    y_axis = y_axis - (y_axis @ x_axis) * x_axis
    y_axis = y_axis / y_axis.norm()
    z_axis = torch.linalg.cross(x_axis, y_axis)  # right-handed: into the head
    canonical = centred @ torch.stack([x_axis, y_axis, z_axis]).T
    canonical /= torch.dist(canonical[lm.RIGHT_EYE_CORNERS[0]], canonical[lm.LEFT_EYE_CORNERS[0]])
    return canonical.float(), mirror.long()


def canonical_metadata() -> dict:
    """The provenance written beside the derived mesh."""
    return {"what": "canonical neutral MediaPipe-topology face mesh (468 x 3) and landmark mirror pairs",
            "source": "derived by modit/face/derive_canonical.py from the face mesh network's output on "
                      "skimage.data.astronaut() (public domain, NASA) and its mirror image, symmetrised",
            "units": "outer eye corners 1 apart; x toward the subject's left, y down, z into the head",
            "license": "Apache-2.0 (the face mesh model: Apache-2.0, Google MediaPipe)"}
