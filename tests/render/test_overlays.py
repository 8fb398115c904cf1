"""Geometry the masks are drawn from (the signed distance from pixels to a polygon), and the blur of a chunk."""
import torch

from comfyui_modit.modit.render.overlays import gaussian_blur, gaussian_blur_each, pixel_centres, polygon_distance


def test_the_distance_to_a_square_is_signed_and_exact_on_a_grid_and_at_scattered_points():
    # A 20 px square from (10, 5) to (30, 25), traced with extra points along its edges, in two frames (the second
    # moved 3 px right).
    corners = torch.tensor([[10.0, 5.0], [20.0, 5.0], [30.0, 5.0], [30.0, 25.0], [10.0, 25.0]])
    ring = torch.stack([corners, corners + torch.tensor([3.0, 0.0])])
    grid = pixel_centres((0, 0, 41, 31), torch.device("cpu"))  # [31, 41, 2]
    distance = polygon_distance(ring, grid)
    x, y = grid[..., 0], grid[..., 1]
    for frame, shift in enumerate((0.0, 3.0)):
        dx = torch.maximum(10 + shift - x, x - 30 - shift)  # > 0 outside along x
        dy = torch.maximum(5 - y, y - 25)
        outside = torch.hypot(dx.clamp_min(0), dy.clamp_min(0))
        inside = -torch.maximum(dx, dy)
        expected = torch.where((dx < 0) & (dy < 0), inside, -outside)
        assert torch.allclose(distance[frame], expected, atol=1e-4)
    # The same pixels given one by one (no grid to share rows and columns) give the same figures.
    scattered = polygon_distance(ring, grid.reshape(-1, 1, 2)).reshape(2, 31, 41)
    assert torch.equal(scattered, distance)


def test_a_frame_is_blurred_alike_in_any_batch():
    frames = torch.rand(6, 4, 30, 50, generator=torch.Generator().manual_seed(0))
    blurred = gaussian_blur_each(frames, 1.7)
    assert torch.allclose(blurred, gaussian_blur(frames, 1.7), atol=1e-6)  # the same Gaussian, edges replicated
    for first, count in ((0, 1), (2, 3), (5, 1)):  # what a chunk boundary can cut out of a clip
        assert torch.equal(gaussian_blur_each(frames[first:first + count], 1.7), blurred[first:first + count])
