"""Driven geometry for the flow renderer (paper §3.4.5): expression, pose and blink -> render-mesh vertices.

Per frame: decode the expression and pose into the 468-point mesh (modit.face.driving when available), close
the eyelids by the frame's eye closure, map crop pixels to output pixels, and place the anchor rings: ring A
(hair, ears, neck) follows the displacement of the nearest face-oval point, fully at the top and sides and
partly under the chin; ring B stays on the background. Everything here is a smooth function of the motion, so
the renderer adds no jitter of its own.

Guards (drive_landmarks with a topology) make any sampled expression renderable: the jaw is raised just enough
that the inner lips never cross, folds of skin triangles are smoothed out (untangle), and the eyes and nose
ridge take only the head pose (deformable_weights), so expression noise never shimmers them.

Eyelid closure: the upper margin travels 90 % of the lid gap and the lower margin 10 %, so they meet at
closure 1; the crease row above the margin follows by a third of the gap, so the lid skin stretches down over
the eye instead of the eye squashing.
"""
import functools
import logging
from dataclasses import dataclass

import torch

from ..face.driving import driven_landmarks
from ..types import Face
from .overlays import smoothstep
from .topology import NUM_LANDMARKS, RenderTopology

log = logging.getLogger(__name__)

RING_A_SCALE = 1.3  # ring A sits at 1.3x the face oval's distance from the face centre (hair, ears, neck)
UPPER_LID_SHARE = 0.9  # of the lid gap the upper margin travels at closure 1 (the lower one takes the rest)
CREASE_SHARE = 0.33  # of the lid gap the crease row follows, so the lid skin stretches evenly


@dataclass(frozen=True)
class SourceGeometry:
    """Render-mesh vertices of the source portrait, in output pixels (x right, y down)."""

    vertices: torch.Tensor  # [V, 2] float32 source positions (where each vertex samples the source image)
    depth: torch.Tensor  # [V] float32 larger = farther; anchors sit behind the face
    centre: torch.Tensor  # [2] float32 face centre (mean of the oval)
    ring_a_follow: torch.Tensor  # [36] float32 how much ring A follows the oval (1 top/sides, less at the neck)
    crop_to_output: torch.Tensor  # [2, 3] float32 affine: output_xy = crop_to_output @ [crop_x, crop_y, 1]
    # [2, 2] per mouth side (78/61, 308/291): how far both lip corners (inner and outer) are moved outward and
    # down, in mouth widths in the mouth's frame, to where the source's dark lip seam ends (mouth.seam_ends).
    # None: at the landmarks.
    mouth_corners: torch.Tensor | None = None


MOUTH_CORNERS = ((78, 61), (308, 291))  # (inner, outer) lip corner landmarks, the subject's right then left
# The inner-lip points next to each inner corner (upper row, lower row) and the share of the corner's shift they take:
# moved alone, the corner leaves a kink in the inner lips that opens into a dark wedge (a notch) at each corner.
CORNER_NEIGHBOURS = ((((191, 95), 0.5), ((80, 88), 0.2)), (((415, 324), 0.5), ((310, 318), 0.2)))


def place_mouth_corners(xy: torch.Tensor, shifts: torch.Tensor | None) -> torch.Tensor:
    """xy [..., 468, 2] with each side's inner and outer lip corners moved by its (out, down) shift in mouth
    widths (a new tensor; the shift turns and scales with the driven mouth)."""
    if shifts is None:
        return xy
    xy = xy.clone()
    (right, _), (left, _) = MOUTH_CORNERS
    across = xy[..., left, :] - xy[..., right, :]  # [..., 2] one mouth width, right to left corner
    normal = torch.stack([-across[..., 1], across[..., 0]], -1)
    normal = normal * torch.where(normal[..., 1:] < 0, -1.0, 1.0)  # pointing down the image
    for (inner, outer), neighbours, sign, (out, down) in zip(MOUTH_CORNERS, CORNER_NEIGHBOURS, (-1.0, 1.0),
                                                            shifts.tolist()):
        shift = sign * out * across + down * normal
        xy[..., inner, :] = xy[..., inner, :] + shift
        xy[..., outer, :] = xy[..., outer, :] + shift
        for points, share in neighbours:
            xy[..., points, :] = xy[..., points, :] + share * shift[..., None, :]
    return xy


def source_geometry(face: Face, topology: RenderTopology, output_scale: float, feather: float,
                    mouth_corners: torch.Tensor | None = None) -> SourceGeometry:
    """Source vertices for `face` rendered at `output_scale` x its image size; feather widens ring B (0..1);
    mouth_corners [2, 2] place the inner mouth corners (place_mouth_corners)."""
    crop_to_output = face.crop_to_image.float() * output_scale  # [2, 3]
    landmarks = face.landmarks.float()  # [468, 3] crop px
    xy = landmarks[:, :2] @ crop_to_output[:, :2].T + crop_to_output[:, 2]  # [468, 2] output px
    xy = place_mouth_corners(xy, mouth_corners)
    z_scale = crop_to_output[:, :2].det().abs().sqrt()
    z = landmarks[:, 2] * z_scale  # [468]
    oval = xy[topology.face_oval]  # [36, 2]
    centre = oval.mean(0)
    ring_b_scale = RING_A_SCALE + 0.25 + 0.75 * feather
    ring_a = centre + (oval - centre) * RING_A_SCALE
    ring_b = centre + (oval - centre) * ring_b_scale
    direction = (oval - centre) / (oval - centre).norm(dim=1, keepdim=True).clamp_min(1e-6)
    ring_a_follow = 1.0 - 0.45 * direction[:, 1].clamp(0, 1) ** 2  # the neck under the chin moves less
    far = z.max() + (z.max() - z.min()).clamp_min(1.0)
    depth = torch.cat([z, far.expand(len(oval)), (2 * far).expand(len(oval))])
    vertices = torch.cat([xy, ring_a, ring_b])  # [V, 2]
    return SourceGeometry(vertices, depth, centre, ring_a_follow, crop_to_output, mouth_corners)


def close_eyelids(landmarks: torch.Tensor, eye_closure: torch.Tensor, topology: RenderTopology) -> torch.Tensor:
    """Move the lid margins and creases by the eye closure.

    landmarks: [T, 468, 3] crop px; eye_closure: [T, 2] 0 (as driven) .. 1 (closed), (left, right).
    Returns a new [T, 468, 3] tensor.
    """
    out = landmarks.clone()
    closure = eye_closure.float().clamp(0, 1)
    for eye in range(2):
        upper = topology.eye_upper[eye, 1:-1]  # [7] margin points between the corners
        lower = topology.eye_lower[eye, 1:-1]
        crease = topology.lid_crease[eye]
        gap = landmarks[:, lower] - landmarks[:, upper]  # [T, 7, 3]
        c = closure[:, eye].reshape(-1, 1, 1)
        out[:, upper] = landmarks[:, upper] + c * UPPER_LID_SHARE * gap
        out[:, lower] = landmarks[:, lower] - c * (1 - UPPER_LID_SHARE) * gap
        out[:, crease] = landmarks[:, crease] + c * CREASE_SHARE * gap
    return out


def driven_vertices(landmarks: torch.Tensor, source: SourceGeometry, topology: RenderTopology):
    """Render-mesh vertices of the driven frames.

    landmarks: [T, 468, 3] driven mesh in crop px. Returns (vertices [T, V, 2] output px, depth [T, V]).
    """
    T = landmarks.shape[0]
    m = source.crop_to_output
    xy = place_mouth_corners(landmarks[..., :2] @ m[:, :2].T + m[:, 2], source.mouth_corners)  # [T, 468, 2]
    z = landmarks[..., 2] * m[:, :2].det().abs().sqrt()  # [T, 468]
    oval = topology.face_oval
    shift = xy[:, oval] - source.vertices[oval]  # [T, 36, 2]
    ring_a = source.vertices[topology.ring_a] + shift * source.ring_a_follow[:, None]
    ring_b = source.vertices[topology.ring_b].expand(T, -1, -1)
    vertices = torch.cat([xy, ring_a, ring_b], dim=1)  # [T, V, 2]
    depth = torch.cat([z, source.depth[NUM_LANDMARKS:].expand(T, -1)], dim=1)  # [T, V]
    return vertices, depth

# ------------------------------------------------------------------ expression + pose -> 468-point mesh

NOSE_RIDGE = (168, 6, 197, 195, 5, 4, 1)  # bridge to tip: rigid bone and cartilage
NOSTRIL_WINGS = (129, 358, 98, 327, 64, 294)  # the alae: they follow the head, not the lips' expression noise
JAW_CHANNEL = 0  # jaw_open in the embedded space (modit/face/components.py)
LIP_COLUMNS = slice(1, -1)  # the inner-lip columns between the corners


def deformable_weights(face: Face, topology: RenderTopology) -> torch.Tensor:
    """[468] float32: how much of the expression change each landmark takes (0 rigid .. 1 free).

    Only the jaw, mouth and cheeks (and the lids, through the eye closure) deform; the eyes, the nose ridge and
    the nostril wings keep only the head pose, so expression noise (a brow twitch moves the eye corners in the basis) never
    shimmers the eyes, glasses or nose. Smooth in distance, measured in inter-ocular distances (IOD).
    """
    xy = face.landmarks[:, :2].float()
    eyes = torch.stack([xy[torch.cat([topology.eye_upper[e], topology.eye_lower[e]])].mean(0) for e in range(2)])
    iod = (eyes[0] - eyes[1]).norm().clamp_min(1e-3)
    to_eye = torch.cdist(xy, eyes).amin(1) / iod
    to_nose = torch.cdist(xy, xy[list(NOSE_RIDGE + NOSTRIL_WINGS)]).amin(1) / iod
    return smoothstep(0.28, 0.5, to_eye) * smoothstep(0.06, 0.18, to_nose)


def inner_lip_gaps(landmarks: torch.Tensor, topology: RenderTopology) -> torch.Tensor:
    """[T, 9] px: how far each lower inner-lip point lies below its upper partner, across the mouth.

    Measured perpendicular to the corner-to-corner line; negative where the lips have crossed (a fold).
    """
    upper = landmarks[:, topology.inner_lip_upper, :2]  # [T, 11, 2]
    lower = landmarks[:, topology.inner_lip_lower, :2]
    axis = upper[:, -1] - upper[:, 0]
    axis = axis / axis.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    down = torch.stack([-axis[:, 1], axis[:, 0]], -1)
    down = down * torch.where(down[:, 1:] < 0, -1.0, 1.0)  # image down, whichever corner comes first
    return ((lower - upper)[:, LIP_COLUMNS] * down[:, None]).sum(-1)


def drive_landmarks(face: Face, expression: torch.Tensor, pose: torch.Tensor,
                    topology: RenderTopology | None = None) -> torch.Tensor:
    """The driven 468-point mesh [T, 468, 3] float32 in crop px (face.landmarks exactly at zero motion).

    With a topology, two guards make any expression renderable: the lips never cross (the jaw is raised just
    enough that the inner lips meet, so a mouth open in the source closes without folding the lips under each
    other; the basis, scaled for an average face, over-closes on many sources), and the eyes and nose keep only
    the head pose (deformable_weights).
    """
    expression, pose = expression.float(), pose.float()
    if topology is None:
        return driven_landmarks(face, expression, pose).float()
    T = expression.shape[0]
    jaw_up = expression.clone()
    jaw_up[:, JAW_CHANNEL] += 1
    rigid = face.beta_0.float().expand(T, -1)
    meshes = driven_landmarks(face, torch.cat([expression, jaw_up, rigid]), pose.repeat(3, 1)).float()
    driven, opened, still = meshes[:T], meshes[T:2 * T], meshes[2 * T:]
    # Gaps are linear in the jaw coefficient at a fixed pose: raise it to the least value that keeps every
    # column at least as open as the source's own (which may be slightly negative on a pressed mouth).
    gaps = inner_lip_gaps(driven, topology)  # [T, 9]
    per_jaw = inner_lip_gaps(opened, topology) - gaps
    floor = inner_lip_gaps(face.landmarks[None].float(), topology).clamp(max=0)
    usable = per_jaw > 0.2 * per_jaw.amax(1, keepdim=True).clamp_min(1e-6)
    need = torch.where(usable, (floor - gaps) / per_jaw.clamp_min(1e-6), torch.zeros_like(gaps)).amax(1)
    need = need.clamp_min(0)  # [T]
    driven = driven + need[:, None, None] * (opened - driven)
    driven = untangle(driven, still, face.neutral_mesh.float(), topology)
    driven = taper_mouth_corners(driven, still, topology)
    weights = deformable_weights(face, topology)[None, :, None]
    return still + weights * (driven - still)


CORNER_TAPER = (0.3, 0.7)  # the opening beside each mouth corner, as a share of the next column's (min, max)


def taper_mouth_corners(driven: torch.Tensor, still: torch.Tensor, topology: RenderTopology) -> torch.Tensor:
    """The inner lips' opening tapered into each mouth corner: the column beside a corner opens CORNER_TAPER of
    the next column's opening (measured across the mouth, against the source's own expression), and the lower lip
    beside the corners never rises further above the line between them than in the source.

    The basis often lifts the upper lip beside the corner as far as at mid-mouth and the lower lip there not at
    all (or up), so the opening ends in a steep dark wedge beside each corner, a notch. driven, still:
    [T, 468, 3] (still: the source's expression at the same pose). A motionless mouth is left exactly as it is.
    """
    change = driven - still
    upper, lower = topology.inner_lip_upper, topology.inner_lip_lower
    axis = still[:, upper[-1], :2] - still[:, upper[0], :2]
    axis = axis / axis.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    down = torch.stack([-axis[:, 1], axis[:, 0]], -1)
    down = down * torch.where(down[:, 1:] < 0, -1.0, 1.0)  # [T, 2] image down
    change = change.clone()
    for row, opens in ((upper, -1.0), (lower, 1.0)):  # the upper lip opens upward, the lower one downward
        for beside, next_ in ((row[1], row[2]), (row[-2], row[-3])):
            o_beside = opens * (change[:, beside, :2] * down).sum(-1)  # [T] px of opening
            o_next = opens * (change[:, next_, :2] * down).sum(-1)
            low, high = CORNER_TAPER[0] * o_next, CORNER_TAPER[1] * o_next
            tapered = torch.where(o_next > 0, torch.minimum(torch.maximum(o_beside, low), high), o_beside)
            change[:, beside, :2] += (opens * (tapered - o_beside))[:, None] * down
    # The basis can leave the lower lip behind beside the corners as the jaw drops them: it then rises over the
    # line between the corners into a hard wedge at each corner of a wide opening. The two lower columns next to
    # each corner stay no higher above that line than in the source (and not above it where the source's are below).
    driven = still + change

    def below_line(mesh: torch.Tensor, column: int) -> torch.Tensor:  # [T] px below the corner-to-corner line
        share = column / (len(lower) - 1)
        line = mesh[:, lower[0], :2] + share * (mesh[:, lower[-1], :2] - mesh[:, lower[0], :2])
        return ((mesh[:, lower[column], :2] - line) * down).sum(-1)

    for column in (1, 2, len(lower) - 3, len(lower) - 2):
        lift = (below_line(still, column).clamp(max=0) - below_line(driven, column)).clamp_min(0)  # [T] px too high
        change[:, lower[column], :2] += lift[:, None] * down
    return still + change


def _signed_areas(xy: torch.Tensor, triangles: torch.Tensor) -> torch.Tensor:
    """[T, F] twice the signed area of each triangle of [T, V, 2] points."""
    a, b, c = (xy.index_select(1, triangles[:, k]) for k in range(3))
    return (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])


@functools.lru_cache(maxsize=1)
def _skin_neighbours() -> tuple[torch.Tensor, torch.Tensor]:
    """Neighbours of each landmark over the face's own triangles, as (index [468, D], weight [468, D]) with the
    weights of a row summing to 1 (padding has weight 0). No edges across the mouth or the eyes."""
    from .topology import render_topology

    topology = render_topology()
    triangles = topology.skin_triangles
    adjacency = torch.zeros(NUM_LANDMARKS, NUM_LANDMARKS)
    for i, j in ((0, 1), (1, 2), (2, 0)):
        adjacency[triangles[:, i], triangles[:, j]] = 1
        adjacency[triangles[:, j], triangles[:, i]] = 1
    # The upper and lower lip never average each other's motion (that would close the opening).
    upper, lower = topology.inner_lip_upper[1:-1], topology.inner_lip_lower[1:-1]
    adjacency[upper[:, None], lower[None]] = 0
    adjacency[lower[:, None], upper[None]] = 0
    degree = adjacency.sum(1)
    weight, index = adjacency.topk(int(degree.max()), dim=1)  # neighbours first, then zero-weight padding
    return index, weight / degree[:, None].clamp_min(1)


def untangle(driven: torch.Tensor, still: torch.Tensor, neutral: torch.Tensor, topology: RenderTopology,
             iterations: int = 16):
    """Remove folds from the driven mesh: where the expression change collapses or flips a skin triangle (the
    DiT's coefficients can sit far outside what the basis can bend this face into), smooth that change over the
    neighbouring landmarks until the triangle opens again. Folds are what tear the lips into jagged, torn-paper
    edges; a fold-free mesh is left exactly as it is.

    driven, still: [T, 468, 3] (still = the same pose without expression); neutral: [468, 3] the face's
    canonical mesh. Triangles already folded in the source (or by the pose) are left alone. Returns [T, 468, 3].
    """
    triangles = topology.skin_triangles
    rest = _signed_areas(still[..., :2], triangles)  # [T, F]
    canonical = _signed_areas(neutral[None, :, :2], triangles).sign()  # [1, F]
    agree = rest.sign() * canonical
    usable = (rest.abs() > 1e-3) & (agree == agree.sum(1, keepdim=True).sign())  # oriented as in the canonical face
    index, weight = _skin_neighbours()
    movable = torch.ones(NUM_LANDMARKS, dtype=torch.bool)
    movable[topology.inner_lip_upper[[0, -1]]] = False  # the mouth corners hold
    change = driven - still
    active = torch.arange(driven.shape[0])  # the frames still folded (each frame is smoothed on its own)
    for _ in range(iterations):
        area = _signed_areas((still[active] + change[active])[..., :2], triangles)
        # Flipped or collapsed to 5 %.
        folded = (area * rest[active].sign() < 0.05 * rest[active].abs()) & usable[active]
        still_folded = folded.any(1)
        if not still_folded.any():
            break
        active, folded = active[still_folded], folded[still_folded]
        touched = torch.zeros(len(active), change.shape[1])
        for k in range(3):
            touched.index_add_(1, triangles[:, k], folded.float())
        touched = (touched > 0) & movable
        moving = change[active]
        neighbours = moving.index_select(1, index.reshape(-1)).reshape(len(active), *index.shape, 3)  # [t, 468, D, 3]
        smoothed = (neighbours * weight[:, :, None]).sum(2)  # [t, 468, 3] neighbour means
        change[active] = torch.where(touched[..., None], 0.5 * (moving + smoothed), moving)
    return still + change
