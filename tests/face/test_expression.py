"""embedded-v1: the basis looks like its names, and fit inverts decode."""
import torch

from comfyui_modit.modit.face import components, expression, geometry
from comfyui_modit.modit.face import landmarks as lm

NAMES = components.COMPONENT_NAMES


def _moved(name, indices):
    B = expression.basis()[NAMES.index(name)]
    return B[list(indices)].mean(0)  # [3] mean displacement at full extent


def test_basis_shape_and_order():
    B = expression.basis()
    assert B.shape == (components.NUM_COMPONENTS, 468, 3)
    assert torch.isfinite(B).all()
    assert (B.norm(dim=-1).amax(1) > 0.04).all(), "every component must move something visibly"


def test_components_move_as_named():
    upper_lip, lower_lip = (0, 13, 37, 267), (17, 14, 84, 314)
    jaw = _moved("jaw_open", lower_lip + (lm.CHIN,))
    assert jaw[1] > 0.1, "jaw_open must drop the lower lip and chin"
    assert _moved("jaw_open", upper_lip).abs().max() < 1e-6, "jaw_open must leave the upper lip"
    assert _moved("jaw_open", (lm.FOREHEAD_TOP, lm.NOSE_TIP)).abs().max() < 1e-6
    assert _moved("lower_lip_drop", lower_lip[:2])[1] > 0.05
    assert _moved("lower_lip_drop", (lm.CHIN,)).abs().max() < 0.02, "lower_lip_drop keeps the chin"
    assert _moved("upper_lip_raise", upper_lip)[1] < -0.05
    B = expression.basis()
    X = expression.neutral_template()
    right, left = lm.MOUTH_CORNER_RIGHT, lm.MOUTH_CORNER_LEFT
    width_change = lambda name: (B[NAMES.index(name), left, 0] - B[NAMES.index(name), right, 0]).item()
    assert width_change("lip_round") < -0.1 and width_change("lip_stretch") > 0.05
    assert B[NAMES.index("lip_round"), 0, 2] < -0.05, "lip_round pushes the lips forward (-z)"
    for name, sign in (("corners_up", -1), ("corners_down", 1)):
        assert sign * B[NAMES.index(name), [right, left], 1].min() > 0.05, name
    assert (B[NAMES.index("mouth_shift"), list(lm.LIPS_UPPER_OUTER), 0] > 0.1).all()
    brows = list(lm.RIGHT_BROW + lm.LEFT_BROW)
    assert (B[NAMES.index("brow_raise"), brows, 1] < -0.05).all()
    assert (B[NAMES.index("brow_lower"), list(lm.RIGHT_BROW_INNER + lm.LEFT_BROW_INNER), 1] > 0.05).all()
    assert (B[NAMES.index("cheek_raise"), [50, 280], 1] < -0.04).all()
    # The closed-mouth template really is closed.
    assert X[lm.LOWER_LIP_MID_INNER, 1] - X[lm.UPPER_LIP_MID_INNER, 1] < 0.02


def test_jaw_open_moves_each_lip_as_one_piece_and_the_corners_a_quarter():
    """As real talking people's meshes do (bench/corner_drop.py): the corners drop about a quarter of the lower lip's
    middle, the lip between inner and outer corner with them (a corner that drops alone shears the lip into a wall),
    the lower lip's drop grows smoothly from the corners and its body keeps up with its edges."""
    drop = expression.basis()[NAMES.index("jaw_open"), :, 1]
    share = drop / drop[lm.LOWER_LIP_MID_INNER]
    corners = [lm.MOUTH_CORNER_RIGHT, lm.MOUTH_CORNER_LEFT, lm.INNER_MOUTH_CORNER_RIGHT, lm.INNER_MOUTH_CORNER_LEFT]
    assert ((share[corners] > 0.15) & (share[corners] < 0.3)).all(), share[corners]
    between = [62, 76, 292, 306]  # the lip body between the inner and outer corner
    assert (share[between] - share[corners]).abs().max() < 0.08
    assert share[list(lm.LIPS_LOWER_BODY)].min() > 0.3 and share[[15, 16]].min() > 0.95
    lower_inner = share[list(lm.LIPS_LOWER_INNER)]  # corner to corner
    half = len(lower_inner) // 2
    assert (lower_inner[1:half + 1].diff() > 0).all() and (lower_inner[half:-1].diff() < 0).all(), lower_inner
    assert share[[191, 415]].max() < 0.2 and share[[13, 0]].abs().max() < 1e-6  # the upper lip stays


def test_symmetric_components_are_mirror_symmetric():
    B = expression.basis()
    mirror = geometry.mirror_index()
    flip = torch.tensor([-1.0, 1.0, 1.0])
    for k, name in enumerate(NAMES):
        mirrored = B[k][mirror] * flip
        if name == "mouth_shift":
            assert torch.allclose(mirrored, -B[k], atol=1e-4), name
        else:
            assert torch.allclose(mirrored, B[k], atol=1e-4), name


def test_fit_inverts_decode():
    g = torch.Generator().manual_seed(0)
    neutral = expression.neutral_template()
    beta = torch.rand(64, components.NUM_COMPONENTS, generator=g) * 0.8
    beta[:, NAMES.index("mouth_shift")] = beta[:, NAMES.index("mouth_shift")] * 2 - 0.8
    meshes = expression.decode(neutral, beta)  # [64, 468, 3]
    fitted = expression.fit(meshes, neutral)
    assert fitted.shape == beta.shape
    assert (fitted - beta).abs().max() < 0.05, "the ridge may shrink coefficients a little, not more"
    rebuilt = expression.decode(neutral, fitted)
    assert (rebuilt - meshes).norm(dim=-1).max() < 0.01, "decode(fit(x)) must reproduce x (canonical units)"


def test_fit_on_real_mesh(astronaut_face):
    face = astronaut_face
    canonical = face.extras["canonical_mesh"]
    beta = expression.fit(canonical, expression.neutral_template())
    assert torch.allclose(beta, face.beta_0, atol=1e-5)
    assert beta.abs().max() < 1.0, f"a calm portrait should need no extreme coefficient, got {beta}"
    # neutral + B beta_0 is the source mesh exactly (the residual sits in the neutral).
    rebuilt = expression.decode(face.neutral_mesh, face.beta_0[None])[0]
    assert (rebuilt - canonical).abs().max() < 1e-5
    # Refitting the decoded mesh against the source's own neutral returns beta_0 (exactly without the ridge;
    # the ridge shrinks each coefficient by well under 1 %).
    assert (expression.fit(rebuilt, face.neutral_mesh, ridge=0.0) - face.beta_0).abs().max() < 1e-4
    assert (expression.fit(rebuilt, face.neutral_mesh) - face.beta_0).abs().max() < 0.01


def _lip_gap(neutral, beta):
    X = expression.decode(neutral, beta[None])[0]
    return float(X[lm.LOWER_LIP_MID_INNER, 1] - X[lm.UPPER_LIP_MID_INNER, 1])


def test_parted_lips_come_together_by_the_share_asked_and_closed_lips_stay():
    """close_parted_lips (the Sample Expression node's close_parted_lips): the inner lips' gap beyond a closed mouth's
    shrinks by the share asked, by the jaw alone; lips that are not parted are not touched."""
    neutral = expression.neutral_template()
    parted = torch.zeros(expression.K)
    parted[components.JAW_OPEN] = 0.8
    parted[components.COMPONENT_NAMES.index("corners_up")] = 0.3
    gap = _lip_gap(neutral, parted)
    assert gap > 2 * expression.PARTED_LIPS
    for amount in (0.0, 0.5, 1.0):
        closed = expression.close_parted_lips(neutral, parted, amount)
        expected = gap - amount * (gap - expression.PARTED_LIPS)
        assert abs(_lip_gap(neutral, closed) - expected) < 1e-4, amount
        others = [k for k in range(expression.K) if k != components.JAW_OPEN]
        assert torch.equal(closed[others], parted[others])
    near = torch.zeros(expression.K)
    near[components.JAW_OPEN] = 0.05
    assert _lip_gap(neutral, near) < expression.PARTED_LIPS
    assert torch.equal(expression.close_parted_lips(neutral, near, 1.0), near)
