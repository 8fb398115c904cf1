"""The embedded expression space "embedded-v1" (paper §3.1 expression beta): basis, fit, decode.

The components and their order are listed in components.py.

Notation:
    X        [468, 3]     a mesh in the canonical frame of geometry.py (outer eye corners 1 unit apart,
                          x toward the subject's left, y down, z into the head)
    B        [K, 468, 3]  displacement basis, one field per named component (components.py, K = 12)
    beta     [K]          expression coefficients; 0 = relaxed neutral, 1 = full natural extent
    neutral  [468, 3]     identity mesh with expression removed
    decode:  X = neutral + sum_k beta_k B_k
    fit:     beta = argmin_beta  sum_i w_i |a * (X_i - neutral_i - (B beta)_i)|^2 + lambda |beta|^2   (closed form;
             a = AXIS_WEIGHTS^(1/2) per axis: z counts less, see AXIS_WEIGHTS)

The basis is BUILT, not learned: each field is an analytic displacement on the canonical mesh, made from the
MediaPipe landmark groups in landmarks.py with smooth (Gaussian / smoothstep) falloff, so that each one looks like
its name when decoded. Sizes are in canonical units (1 unit = outer eye corner distance, about 9 cm on an adult):

  jaw_open        the lower face rotates 0.35 rad about a hinge axis behind the cheeks (x axis through
                  y = 0.05, z = 0.9): lower lip, chin and jaw line drop ~0.3 and move back; upper lip fixed.
                  Weight 1 on the lower lip and below the mouth, 0 above, smoothstep between; corners 0.6.
                  Linearised (the displacement at full extent), so beta 0.5 is half that displacement.
  lip_round       lip-region points move toward the mouth's vertical midline by 40 % of their offset and the
                  lips come 0.12 forward: the mouth narrows and protrudes.
  lip_stretch     lip-region points move away from the midline by 25 % of their offset, and both lips move 35 % of
                  the way toward the lip line (thinner lips).
  corners_up      each mouth corner (and the skin around it, sigma 0.15) rises 0.12 and moves 0.06 outward.
  corners_down    each corner falls 0.10 and moves 0.03 outward; the lower lip's outer half follows.
  upper_lip_raise the upper lip and the skin just above it (falling off over 0.12 toward the nose) rise 0.09.
  lower_lip_drop  the lower lip (only) drops 0.10 and curls 0.03 forward; the chin stays.
  lips_press      both lips move 60 % of the way to the lip line and roll 0.03 inward (p / b / m closure).
  mouth_shift     the lip region moves 0.12 toward the subject's left (+x); signed, -1 shifts right.
  brow_raise      brows (weight 1) and the forehead / upper lid skin near them (sigma 0.15) rise 0.10.
  brow_lower      inner brow ends fall 0.07 (outer ends 0.03) and move 0.05 toward the midline.
  cheek_raise     cheek centres (sigma 0.15) rise 0.06; lower eyelids rise 0.02; mouth corners rise 0.03.

The bundled canonical mesh comes from a slightly smiling photo with the lips a little apart;
`neutral_template()` closes its mouth with the jaw field so the template is a closed-mouth face. A source's
beta_0 is its fit against that template after the pose is removed; its identity mesh is X_source - B beta_0.
"""
import functools
import math

import torch

from . import components
from . import landmarks as lm
from .geometry import canonical_mesh

K = components.NUM_COMPONENTS
RIDGE = 1e-3  # lambda, relative to the mean diagonal of B^T W B: keeps nearly opposite fields (corners up/down) apart
CLOSED_LIP_GAP = 0.01
CORNER_FOLLOW = 0.25  # share of the lower lip's jaw drop that the mouth corners take
# Per-axis weight of fit residuals: the mesh's depth (z) from one photo is mostly the network's prior (a frontal jaw
# drop shows no depth cue), so z disagreements count a tenth; x and y carry the evidence.
AXIS_WEIGHTS = (1.0, 1.0, 0.1)  # canonical units between inner lip midpoints in the closed-mouth template


def _smoothstep(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0, 1)
    return x * x * (3 - 2 * x)


def _gauss(points: torch.Tensor, centre: torch.Tensor, sigma: float) -> torch.Tensor:
    return torch.exp(-((points - centre) ** 2).sum(-1) / (2 * sigma * sigma))


def _indicator(indices, n=468) -> torch.Tensor:
    w = torch.zeros(n)
    w[list(indices)] = 1.0
    return w


def _lip_line(X: torch.Tensor) -> torch.Tensor:
    """[468] y of the line where the lips meet, at each point's x (parabola through corners and mid-gap)."""
    corner_y = X[[lm.MOUTH_CORNER_RIGHT, lm.MOUTH_CORNER_LEFT], 1].mean()
    half_width = X[lm.MOUTH_CORNER_LEFT, 0]
    mid_y = X[[lm.UPPER_LIP_MID_INNER, lm.LOWER_LIP_MID_INNER], 1].mean()
    u = (X[:, 0] / half_width).clamp(-1, 1)
    return mid_y + (corner_y - mid_y) * u * u


def build_basis(X: torch.Tensor) -> torch.Tensor:
    """[K, 468, 3] float32 displacement basis on canonical mesh X [468, 3], in components.COMPONENT_NAMES order."""
    X = X.float()
    x, y = X[:, 0], X[:, 1]
    sign_x = torch.tanh(x / 0.05)  # smooth sign: 0 on the midline, so midline points never move sideways
    corners = [lm.MOUTH_CORNER_RIGHT, lm.MOUTH_CORNER_LEFT, lm.INNER_MOUTH_CORNER_RIGHT, lm.INNER_MOUTH_CORNER_LEFT]
    upper_lip = _indicator(lm.LIPS_UPPER_OUTER + lm.LIPS_UPPER_INNER)
    lower_lip = _indicator(lm.LIPS_LOWER_OUTER + lm.LIPS_LOWER_INNER)
    upper_lip[corners] = lower_lip[corners] = 0.0
    lips = _indicator(lm.LIPS_UPPER_OUTER + lm.LIPS_LOWER_OUTER + lm.LIPS_UPPER_INNER + lm.LIPS_LOWER_INNER)
    mouth = X[list(lm.LIPS_UPPER_OUTER + lm.LIPS_LOWER_OUTER)].mean(0)
    half_width = float(X[lm.MOUTH_CORNER_LEFT, 0] - mouth[0])
    line = _lip_line(X)
    # Lip region: an ellipse around the mouth, 1 on the lips themselves.
    lip_region = torch.exp(-0.5 * (((x - mouth[0]) / (1.1 * half_width)) ** 2 + ((y - mouth[1]) / 0.16) ** 2))
    lip_region = torch.maximum(lip_region, lips)
    below = y > line
    B = torch.zeros(K, 468, 3)
    names = components.COMPONENT_NAMES

    # jaw_open: rotation of the lower face about the hinge axis (linearised at full extent).
    pivot = torch.tensor([0.0, 0.05, 0.9])
    angle = 0.35
    w = _smoothstep((y - X[corners[:2], 1].mean()) / 0.25)  # skin: more the lower it lies
    # Measured on the real talking clips' meshes (wide frames against closed ones, bench/corner_drop.py): each lip
    # moves as one piece, its body with its contours; the lower lip's drop fades toward the corners, which take a
    # quarter of the middle's (the inner and outer corners and the lip between them alike); the upper lip stays.
    width = 2 * half_width
    from_corner = ((half_width - (x - mouth[0]).abs()) / width).clamp(min=0)  # along the mouth, in mouth widths
    to_corner = torch.stack([(X[:, :2] - X[i, :2]).norm(dim=-1) for i in corners]).min(0).values / width
    lower_follow = CORNER_FOLLOW + (1 - CORNER_FOLLOW) * (from_corner / 0.27).clamp(max=1) ** 0.8
    upper_follow = CORNER_FOLLOW * torch.exp(-(to_corner / 0.07) ** 2)
    skin_follow = torch.maximum(w, CORNER_FOLLOW * torch.exp(-0.5 * (to_corner / 0.04) ** 2))
    upper_body = _indicator(lm.LIPS_UPPER_OUTER + lm.LIPS_UPPER_INNER + lm.LIPS_UPPER_BODY) > 0
    lower_body = _indicator(lm.LIPS_LOWER_OUTER + lm.LIPS_LOWER_INNER + lm.LIPS_LOWER_BODY) > 0
    w = torch.where(lower_body, lower_follow, torch.where(upper_body, upper_follow, skin_follow))
    w[corners] = CORNER_FOLLOW
    rel = X - pivot
    c, s = math.cos(angle), math.sin(angle)
    # Rotation about +x that sends the chin (below and in front of the hinge) down and back.
    rotated = torch.stack([rel[:, 0], c * rel[:, 1] - s * rel[:, 2], s * rel[:, 1] + c * rel[:, 2]], -1)
    B[names.index("jaw_open")] = w[:, None] * (rotated - rel)

    # lip_round / lip_stretch: horizontal squeeze / spread about the mouth's midline.
    B[names.index("lip_round"), :, 0] = -0.40 * (x - mouth[0]) * lip_region
    B[names.index("lip_round"), :, 2] = -0.12 * lip_region ** 2
    B[names.index("lip_stretch"), :, 0] = 0.25 * (x - mouth[0]) * lip_region
    B[names.index("lip_stretch"), :, 1] = -0.35 * (y - line) * lip_region * _gauss(X, mouth, 0.35)

    # corners_up / corners_down: skin around each corner.
    around_corners = torch.maximum(_gauss(X, X[lm.MOUTH_CORNER_RIGHT], 0.15), _gauss(X, X[lm.MOUTH_CORNER_LEFT], 0.15))
    B[names.index("corners_up"), :, 0] = 0.06 * sign_x * around_corners
    B[names.index("corners_up"), :, 1] = -0.12 * around_corners
    lower_outer_half = lower_lip * _smoothstep((x.abs() - 0.1) / 0.2)
    down = torch.maximum(around_corners, 0.6 * lower_outer_half * below)
    B[names.index("corners_down"), :, 0] = 0.03 * sign_x * down
    B[names.index("corners_down"), :, 1] = 0.10 * down

    # upper_lip_raise: the upper lip and the skin above it, fading toward the nose.
    above_line = (line - y).clamp(min=0)
    upper_region = torch.where(upper_lip > 0, torch.ones_like(x), torch.exp(-0.5 * (above_line / 0.12) ** 2)
                               * lip_region * (~below))
    upper_region[corners] = 0.3
    B[names.index("upper_lip_raise"), :, 1] = -0.09 * upper_region

    # lower_lip_drop: only the lower lip (a little into the skin right under it).
    lower_region = torch.maximum(lower_lip, 0.5 * lip_region * below * _gauss(X, X[17], 0.12))
    lower_region[corners] = 0.2
    B[names.index("lower_lip_drop"), :, 1] = 0.10 * lower_region
    B[names.index("lower_lip_drop"), :, 2] = -0.03 * lower_region

    # lips_press: lips toward the lip line and rolled in.
    B[names.index("lips_press"), :, 1] = -0.6 * (y - line) * lips
    B[names.index("lips_press"), :, 2] = 0.03 * lips

    # mouth_shift: the lip region toward the subject's left.
    B[names.index("mouth_shift"), :, 0] = 0.12 * lip_region

    # Brows: weight 1 on the brow points, Gaussian falloff around them.
    brows = lm.RIGHT_BROW + lm.LEFT_BROW
    brow_region = torch.stack([_gauss(X, X[i], 0.15) for i in brows]).max(0).values
    B[names.index("brow_raise"), :, 1] = -0.10 * brow_region
    inner = torch.stack([_gauss(X, X[i], 0.12) for i in lm.RIGHT_BROW_INNER + lm.LEFT_BROW_INNER]).max(0).values
    B[names.index("brow_lower"), :, 1] = 0.07 * torch.maximum(inner, 0.4 * brow_region)  # corrugator: inner ends most
    B[names.index("brow_lower"), :, 0] = -0.05 * sign_x * inner

    # cheek_raise: cheeks up, lower lids up a little, corners up a little.
    cheek_centres = (X[list(lm.RIGHT_CHEEK)].mean(0), X[list(lm.LEFT_CHEEK)].mean(0))
    cheeks = torch.maximum(_gauss(X, cheek_centres[0], 0.15), _gauss(X, cheek_centres[1], 0.15))
    lower_lids = _indicator(lm.RIGHT_EYE[1:8] + lm.LEFT_EYE[1:8])
    B[names.index("cheek_raise"), :, 1] = -0.06 * cheeks - 0.02 * lower_lids - 0.03 * around_corners
    return B


@functools.lru_cache(maxsize=1)
def _cached() -> tuple[torch.Tensor, torch.Tensor]:
    X = canonical_mesh()
    B = build_basis(X)
    jaw = B[components.JAW_OPEN]
    template = X - _jaw_closing(X, jaw, CLOSED_LIP_GAP) * jaw  # close the photo's slightly open mouth
    return B, template


def _jaw_closing(X: torch.Tensor, jaw: torch.Tensor, gap: float) -> torch.Tensor:
    """How much of the jaw field `jaw` [468, 3] to take off mesh X [468, 3] for its inner lip midpoints to be `gap`
    apart (negative where they are closer than that)."""
    now = X[lm.LOWER_LIP_MID_INNER, 1] - X[lm.UPPER_LIP_MID_INNER, 1]
    per_jaw = jaw[lm.LOWER_LIP_MID_INNER, 1] - jaw[lm.UPPER_LIP_MID_INNER, 1]
    return (now - gap) / per_jaw


def basis() -> torch.Tensor:
    """[K, 468, 3] float32 basis of embedded-v1 (cached; a copy)."""
    return _cached()[0].clone()


def neutral_template() -> torch.Tensor:
    """[468, 3] closed-mouth canonical template: the prior neutral used to fit a source's beta_0."""
    return _cached()[1].clone()


def fit_weights(B: torch.Tensor | None = None) -> torch.Tensor:
    """[468] weights of the expression fit: 1 where the basis moves points, small elsewhere (identity-only regions)."""
    B = basis() if B is None else B
    motion = B.norm(dim=-1).max(0).values
    return 0.05 + _smoothstep(motion / 0.02)


def decode(neutral: torch.Tensor, beta: torch.Tensor, B: torch.Tensor | None = None) -> torch.Tensor:
    """Meshes [T, 468, 3] from neutral [468, 3] and beta [T, K] (any float dtype; result float32)."""
    B = (basis() if B is None else B).to(beta.device)
    return neutral.float().to(beta.device) + torch.einsum("tk,knc->tnc", beta.float(), B)


def fit(mesh: torch.Tensor, neutral: torch.Tensor, B: torch.Tensor | None = None, ridge: float = RIDGE) -> torch.Tensor:
    """beta [..., K] from canonical meshes [..., 468, 3] and neutral [468, 3]: weighted ridge least squares."""
    B = (basis() if B is None else B).to(mesh.device).double()
    w = fit_weights(B.float()).to(mesh.device).double()  # [468]
    A = B.reshape(K, -1).T  # [468*3, K]
    wa = A * (w[:, None] * w.new_tensor(AXIS_WEIGHTS)).reshape(-1)[:, None]
    gram = A.T @ wa  # [K, K]
    gram = gram + ridge * gram.diagonal().mean() * torch.eye(K, dtype=gram.dtype, device=gram.device)
    d = (mesh.double() - neutral.double().to(mesh.device)).reshape(*mesh.shape[:-2], -1)  # [..., 468*3]
    rhs = d @ wa  # [..., K]
    return torch.linalg.solve(gram, rhs.unsqueeze(-1)).squeeze(-1).float()


# Canonical units between the inner lip midpoints that a closed mouth may read: over the gallery's 30 portraits and
# the 49 talking clips' first frames, those dlib reads closed (inner-lip gap under 0.03 inter-ocular distances) read
# up to 0.044 here, but for one at 0.099.
PARTED_LIPS = 0.05


def close_parted_lips(neutral: torch.Tensor, beta: torch.Tensor, amount: float,
                      B: torch.Tensor | None = None) -> torch.Tensor:
    """beta [K] with the jaw raised so that the inner lips' gap beyond PARTED_LIPS shrinks by `amount` (0..1): at 1 a
    portrait caught mid-word has its lips as near as a closed mouth's. Lips that are not parted are left as they are.
    neutral [468, 3] is the source's identity mesh (Face.neutral_mesh)."""
    B = basis() if B is None else B
    X = decode(neutral, beta[None], B)[0]
    closed = beta.clone()
    closed[components.JAW_OPEN] -= amount * _jaw_closing(X, B[components.JAW_OPEN], PARTED_LIPS).clamp_min(0)
    return closed
