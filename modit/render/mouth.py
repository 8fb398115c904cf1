"""The mouth interior (paper §3.4.5, what the warp cannot know): only the gap that the driven inner lips open.

The lips themselves are never painted: the warp moves their own texture (upper lip with the upper inner-lip
row, lower lip with the jaw). Inside the opening, in a frame aligned with the mouth corners, each pixel is
measured from both inner-lip curves:
- the source's own interior, split at its midline: the half under the upper lip hangs from the driven upper
  lip and the half over the lower lip rides on the driven lower lip, both at their own size (teeth do not
  stretch). At zero motion this is the source exactly, so closing returns to the source's own mouth;
- where the driven opening is wider than the source's, the gap between the two halves is synthesised as real
  speakers' open mouths look: generic upper teeth (only where the source showed none) scaled to the mouth, a dark
  throat behind them, a tongue lit from the front filling the floor of the mouth, lower teeth from medium openings on,
  and a soft shadow under the upper lip (the light comes from above), in colours sampled from the face (each lip's
  inner edge in its own colour).
Everything is antialiased with edges measured across the opening, so it follows sub-pixel motion.
"""
import math
from dataclasses import dataclass

import torch

from .overlays import (gaussian_blur, interp_rows, luma_weights, mouth_coordinates, polygon_distance, sample,
                       saturation, smoothstep)

TEETH_OVER_SKIN = 1.05  # generic teeth's luma over the skin's (renderer.SKIN_POINTS; a real portrait's: 0.85-1.38)
IVORY = (0.86, 0.80, 0.74)  # generic teeth's own colour, before the warmth of the mouth (TEETH_WARM)
TEETH_WARM = 0.35  # how far generic teeth take the gums' pink (PINK) at their own luma
PINK = (1.25, 0.82, 0.82)  # a gum's pink: it warms generic teeth and tints the lower ones (as coloured as the photo)
# The tongue's and the mouth's floor own colour per unit luma, and the share of the lower lip's hue it takes (lipstick
# must not colour it). Half the lips' hue and half PINK read grey-mauve in the mouth's shade (1.34 / 0.87 / 0.79 per
# unit luma on the closed-lip gallery faces, the darker half of the opening), where the darker half of real open
# mouths reads 1.56 / 0.79 / 0.57 (median over the real clips' colour videos). The lit tongue itself (bench/
# mouth_interior.py: the lower half's lit, saturated pixels, from medium openings on) reads 1.36 / 0.87 / 0.73 for the
# median real person (42 of the 61 clips open that far) and 1.35 / 0.86 / 0.81 in the videos of the 14 people the
# gallery renders; (1.5, 0.78, 0.68) drew it redder, 1.38 / 0.84 / 0.80 on the gallery's faces and 1.42 / 0.83 / 0.78
# on our renders of those 14 (an orange-salmon band wide open), these 1.35 / 0.87 / 0.80 and 1.39 / 0.84 / 0.78.
TONGUE = (1.4, 0.83, 0.68)
TONGUE_LIP = 0.35
# Skin per unit luma in neutral light: from the 10th to the 90th percentile of the gallery's and the real clips' 89
# colour sources (median 1.29 / 0.91 / 0.77). Within that range a skin's hue is its own as much as the light's.
SKIN_HUES = ((1.15, 0.84, 0.64), (1.41, 0.95, 0.88))


@dataclass(frozen=True)
class SourceMouth:
    """The source's inner-lip opening and the face's colours, in output px."""

    upper: torch.Tensor  # [P, 2] inner upper lip, corner to corner
    lower: torch.Tensor  # [P, 2] inner lower lip, same corners
    lip: torch.Tensor  # [3] median lip colour
    skin_luma: torch.Tensor  # [] median skin luma (the exposure the interior is lit at)
    teeth: torch.Tensor  # [3] teeth colour at the source's exposure
    shows_teeth: float  # 0..1: how far the source's own opening already shows an interior to reuse
    split: float  # 0..1: the depth (share of the source opening) where the upper lip's part ends
    colourful: float = 1.0  # 0 for a black-and-white photo (grey lips): the interior then takes no tint
    rim: float = 0.0  # share of the opening, at its bottom, that is the lower lip's own rim under the source's teeth
    # Share of an opening, at its bottom, that is lit lip (or a tongue lying on it) under a dark gap (_lip_under_gap):
    # it goes with the lower lip as the mouth closes, as far as the opening shows no teeth.
    lip_under_gap: float = 0.0
    lips: torch.Tensor | None = None  # [2, 3] the upper and the lower lip's own colours (their inner edges); None: lip
    blur: float = 0.0  # px: Gaussian sigma of the portrait's own edges around the mouth (edge_blur)
    # How far (0..1) the source's lower teeth show on its lower lip, below the face mesh's lower inner lip, and the
    # mouth widths from that row down to the teeth's top edge (_teeth_on_lip).
    teeth_on_lip: float = 0.0
    teeth_top: float = 0.0
    # False: no generic teeth where the source shows none (a baby's mouth, or a toothless one): a gum ridge under the
    # upper lip instead, and the tongue up to the lower lip. The source's own teeth still show.
    generic_teeth: bool = True
    light: torch.Tensor | None = None  # [3] the colour of the light on the face (light_of); None: neutral

    @property
    def width(self) -> torch.Tensor:
        return (self.upper[-1] - self.upper[0]).norm().clamp_min(1e-3)


def source_mouth(image: torch.Tensor, upper: torch.Tensor, lower: torch.Tensor, lip: torch.Tensor,
                 skin_luma: torch.Tensor, lips: torch.Tensor | None = None,
                 outer_lower: torch.Tensor | None = None, skin: torch.Tensor | None = None) -> SourceMouth:
    """Measure the source's opening. image [1, 3, H, W]; upper, lower [P, 2] output px; lip [3]; lips [2, 3]: the
    upper and the lower lip's own colours, where they differ (a moustache over the upper lip); outer_lower [P, 2]:
    the lower lip's outer edge (without it, the source's lower teeth are not looked for on the lower lip); skin [3]:
    the skin's median colour (without it, generic teeth take no colour cast from the light)."""
    width = (upper[-1] - upper[0]).norm().clamp_min(1e-3)
    opening = (lower - upper).norm(dim=-1).max() / width
    to_luma = luma_weights(image.device)
    lower_lip = lip if lips is None else lips[1]
    # How coloured the lips are (chroma over luma): ~0 on a black-and-white photo, 0.2-0.6 on colour ones.
    colourful = float(smoothstep(0.03, 0.12, (lip.max() - lip.min()) / (lip @ to_luma).clamp_min(0.05)))
    # Generic teeth as bright as real ones: in the gallery's ten portraits that show their teeth, the brightest
    # fifth of the opening reads 0.85-1.38x the skin's luma (median 1.04). The shading in _synthetic (front teeth lit,
    # side ones and edges darker) brings most of the row below that.
    ivory = _tinted(torch.tensor(IVORY, device=image.device), colourful)
    teeth = ivory * (TEETH_OVER_SKIN * skin_luma).clamp(0.28, 0.93) / (ivory @ to_luma)
    # Behind the lips they take some warmth (the light inside the mouth is reflected off gums and tongue): plain
    # ivory there reads grey-green beside warm skin, and a yellow ivory, darkened in the mouth's shade, olive. Per
    # unit luma, real teeth read (r, g, b) 1.05 / 0.98 / 0.93 in the gallery's ten teeth portraits and about
    # 1.25 / 0.89 / 0.87 in the real clips' open frames (brightest tenth of the opening); these read 1.15 / 0.94 /
    # 0.90. A gum's pink, not the lips' colour: under red lipstick the lips' hue turned them orange.
    warm = _tinted(torch.tensor(PINK, device=image.device), colourful)
    warm = warm / (warm @ to_luma) * (teeth @ to_luma)  # that pink at the teeth's luma
    teeth = teeth + TEETH_WARM * colourful * (warm - teeth)
    light = None if skin is None else light_of(skin, colourful)
    teeth = _in_the_light(teeth, light)
    shows = float(smoothstep(0.05, 0.12, opening))
    split = 0.5
    if opening > 0.02:
        # Rows across the opening (central columns): the darkest row is where the upper teeth end (or the
        # throat), so the part above it hangs from the upper lip and the rest rides on the lower lip.
        rows = torch.linspace(0.1, 0.9, 17, device=image.device)
        P = upper.shape[0]
        centre = slice(P // 4, P - P // 4)
        points = upper[centre] + rows[:, None, None] * (lower - upper)[centre]  # [17, C, 2]
        colours = sample(image, points[None])[0]  # [17, C, 3]
        luma = colours @ to_luma
        profile = luma.mean(1)  # [17]
        bright = colours.reshape(-1, 3)[luma.reshape(-1) >= luma.quantile(0.8)].mean(0)
        # Teeth are there only if the opening holds something nearly as bright as the skin (a dark mouth or a
        # few pixels between closed lips get generic teeth when the mouth opens wider).
        shows *= float(smoothstep(0.6, 0.85, (bright @ to_luma) / skin_luma.clamp_min(1e-3)))
        # The opening splits at its darkest row between brighter rows above and below it: the gap between upper
        # and lower teeth, or the middle of a dark open mouth between its two lips. Without one (a smile whose
        # upper teeth fill the opening) all of it hangs from the upper lip. A dark row with lip above it and teeth
        # below is no gap: it is the shadow the upper lip casts on the upper teeth, where the face mesh put the
        # upper inner-lip row inside the lip (split there, the upper teeth would ride down on the lower lip and
        # leave a black band under the upper lip). Teeth are far less saturated than the lips.
        row_rgb = colours.mean(1)  # [17, 3]
        teeth_like = 1 - colourful * smoothstep(0.75, 0.95, saturation(row_rgb) / saturation(lip).clamp_min(0.05))
        split = _split_row(profile, teeth_like > 0.5, rows, shows > 0.5)
        if split == 1.0 and shows > 0.5 and _tongue(row_rgb, teeth_like, profile, lip, skin_luma):
            # An opening full of tongue (a portrait caught mid-word) shows no teeth: as the mouth opens the upper
            # teeth appear under the upper lip, and the tongue goes down with the jaw. Hung from the upper lip it
            # stayed up under a dark slit while the lower lip dropped away from it.
            shows, split = 0.0, float(rows[0])
        teeth = teeth + shows * (bright - teeth)  # the source's own teeth set the colour
        # The lower lip's own rim: the rows at the bottom of the opening under the teeth's lower edge.
        rim = _rim_share(image, upper[centre], lower[centre], lower_lip @ to_luma)
        under_gap = _lip_under_gap(profile, rows) if split == 1.0 else 0.0
    else:
        rim = under_gap = 0.0
    on_lip, top = (0.0, 0.0) if outer_lower is None else _teeth_on_lip(
        image, upper, lower, outer_lower, lower_lip, skin_luma, colourful)
    return SourceMouth(upper, lower, lip, skin_luma, teeth, shows, split, colourful, rim, under_gap, lips,
                       edge_blur(image, torch.cat([upper, lower]), float(width)), on_lip, top, light=light)


def light_of(skin: torch.Tensor, colourful: float) -> torch.Tensor:
    """Per channel [3], the colour of the light the skin [3] is lit by: 1 in neutral light. A white tooth under red
    studio light is red, and neutral it read teal beside red skin (VoxCeleb2 00086, 00098); under yellow light, yellow
    (LipNet). Only the skin's hue beyond the range real skins span in neutral light (SKIN_HUES) is taken for the
    light's: within it, a pale face's cooler skin turned its teeth blue-grey (large_frontal_man)."""
    hue = skin / (skin @ luma_weights(skin.device)).clamp_min(1e-3)
    low, high = (torch.tensor(h, device=skin.device) for h in SKIN_HUES)
    light = 1 + (hue - hue.clamp(low, high)) / (0.5 * (low + high))
    return 1 + colourful * (light.clamp(0.5, 1.5) - 1)


def _in_the_light(rgb: torch.Tensor, light: torch.Tensor | None) -> torch.Tensor:
    """rgb [3] lit by `light` (light_of; None: neutral), at its own luma."""
    if light is None:
        return rgb
    lit = rgb * light
    to_luma = luma_weights(rgb.device)
    return lit * (rgb @ to_luma) / (lit @ to_luma).clamp_min(1e-6)


TONGUE_MAGENTA = -0.015  # a tongue's rows are at least about as magenta (blue over green) as the lips


def _tongue(row_rgb: torch.Tensor, teeth_like: torch.Tensor, profile: torch.Tensor, lip: torch.Tensor,
            skin_luma: torch.Tensor) -> bool:
    """Whether an opening without a dark gap (rows [R, 3] from the upper inner lip down, their luma `profile` and
    teeth_like [R]) is filled with tongue: lit (no row under half the skin's luma), no row like teeth down to
    the lowest two (a talking portrait's lower teeth may show along the lower lip), and every row at least about
    as magenta as the lips. Teeth are yellower than lips (blue under green, by more than the lips): on the gallery's
    pale-lipped smile (tilted_woman) its rows of teeth read -0.03 against the lips, tongues -0.003 to +0.04."""
    body = row_rgb[:-2]
    magenta = (body[:, 2] - body[:, 1]) - (lip[2] - lip[1])
    return (not bool((teeth_like[:-2] > 0.5).any()) and float(profile.min()) > 0.5 * float(skin_luma)
            and float(magenta.min()) >= TONGUE_MAGENTA)


ON_LIP_ROWS = torch.linspace(0.01, 0.13, 13)  # mouth widths below the lower inner lip searched for lower teeth
ON_LIP_GREY = (0.7, 0.5)  # a row is teeth from this share of the lower lip's saturation down to that one...
ON_LIP_BRIGHT = (1.2, 1.4)  # ...and from this many times the lower lip's luma up to that one
ON_LIP_GAP = 0.75  # above them, a band at most this share of their luma (on andrew_clip_1: 0.51)


def _teeth_on_lip(image: torch.Tensor, upper: torch.Tensor, lower: torch.Tensor, outer_lower: torch.Tensor,
                  lower_lip: torch.Tensor, skin_luma: torch.Tensor, colourful: float) -> tuple[float, float]:
    """Whether the source's lower teeth show below the face mesh's lower inner lip (inner lips upper, lower
    [P, 2]; lower_lip [3]: the lower lip's own colour), and where their top edge lies, in mouth widths below it.
    On a talking portrait caught with its teeth apart the mesh can put its lower inner lip in the gap between the
    rows of teeth: the lower teeth are then the lip's texture and ride down with it, under generic lower teeth
    (two rows, one behind the other) and the gap's dark lower part (a black line over them). Teeth are far greyer
    and brighter than the lip they stand on, under a darker band: along the central third, 0.44 of its saturation
    and 1.7x its luma on andrew_clip_1 under a band of half their luma, the one such source among the gallery's 30
    portraits and the 62 talking clips' first frames. Not told on a black-and-white photo."""
    if colourful < 0.5:
        return 0.0, 0.0
    P = lower.shape[0]
    centre = slice(P // 3, P - P // 3)
    width = (upper[-1] - upper[0]).norm().clamp_min(1e-3)
    _, _, down = _frame(upper)  # across the mouth, toward the chin
    # Down the lower lip's inner half, no further (past it, the skin under a thin lip is as grey and as bright).
    thickness = float(((outer_lower - lower)[centre] @ down).median() / width)
    rows = ON_LIP_ROWS.to(image.device)
    colours = sample(image, (lower[centre][None] + (rows * width)[:, None, None] * down)[None])[0].mean(1)  # [R, 3]
    luma = colours @ luma_weights(image.device)
    lip_luma = (lower_lip @ luma_weights(image.device)).clamp_min(0.05)
    teeth = (smoothstep(ON_LIP_GREY[0], ON_LIP_GREY[1], saturation(colours) / saturation(lower_lip).clamp_min(0.05))
             * smoothstep(ON_LIP_BRIGHT[0], ON_LIP_BRIGHT[1], luma / lip_luma)
             * smoothstep(0.55, 0.7, luma / skin_luma.clamp_min(1e-3)) * (rows <= 0.5 * thickness))
    teeth = torch.minimum(teeth[:-1], teeth[1:])  # two rows running: a band of teeth, not the edge of one
    k = int(teeth.argmax())
    if float(teeth[k]) < 0.05:
        return 0.0, 0.0
    # Lower teeth stand under a dark band, the gap's lower part. Teeth that run up to the mesh's row without one are
    # the opening's own running on past it (the upper teeth of a narrow smile, andrew_clip_2: taken for lower teeth,
    # its wide frames lost their lower teeth and a pale line rode on the lip).
    low = int(luma[:k + 1].argmin())
    if float(luma[low]) > ON_LIP_GAP * float(luma[k]):
        return 0.0, 0.0
    # Their top edge: up from that row, where the luma falls halfway to the darkest row above it.
    level = 0.5 * float(luma[k] + luma[low])
    j = k
    while float(luma[j - 1]) >= level:  # stops at low at the latest
        j -= 1
    return float(teeth[k]), _crossing(luma, rows, j, level)


def _crossing(values: torch.Tensor, rows: torch.Tensor, j: int, level) -> float:
    """Where between rows[j - 1] and rows[j] the `values` [R] sampled at `rows` [R] reach `level`, linearly."""
    at = (level - values[j - 1]) / (values[j] - values[j - 1]).clamp_min(1e-6)
    return float(rows[j - 1] + at * (rows[j] - rows[j - 1]))


REBLUR = 1.5  # px: the blur edge_blur adds to measure the portrait's own
SYNTHETIC_BLUR = 0.5  # px: what edge_blur reads on a synthesised opening itself (0.4-0.75 on five gallery faces)


def edge_blur(image: torch.Tensor, points: torch.Tensor, width: float) -> float:
    """Gaussian sigma (px) of the portrait's own edges within half a mouth width of `points` [P, 2] (the re-blur
    method: an edge blurred by s has gradient energy proportional to 1 / s; blurred again by r, to 1 / sqrt(s^2 + r^2),
    so the ratio of the two energies gives s)."""
    H, W = image.shape[-2:]
    pad = 0.5 * width
    x0, y0 = max(0, int(points[:, 0].min() - pad)), max(0, int(points[:, 1].min() - pad))
    x1, y1 = min(W, int(points[:, 0].max() + pad) + 1), min(H, int(points[:, 1].max() + pad) + 1)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return 0.0
    luma = (image[:1, :, y0:y1, x0:x1].float()
            * luma_weights(image.device)[:, None, None]).sum(1, keepdim=True)

    def energy(y):  # forward differences: the least blur a difference adds
        return ((y[..., :, 1:] - y[..., :, :-1]) ** 2).sum() + ((y[..., 1:, :] - y[..., :-1, :]) ** 2).sum()

    ratio = float(energy(luma) / energy(gaussian_blur(luma, REBLUR)).clamp_min(1e-9))
    return min(4.0, REBLUR / math.sqrt(max(ratio ** 2 - 1, REBLUR ** 2 / 16)))


RIM_ROWS = 21  # rows sampled over the opening's lower half, bottom up, to measure the lower lip's rim
RIM_MAX = 0.5  # the most of the opening that is taken for rim


def _rim_share(image: torch.Tensor, upper: torch.Tensor, lower: torch.Tensor, lower_luma: torch.Tensor) -> float:
    """The share of an opening that shows teeth (central columns of its inner lips upper, lower [C, 2]) which lies
    under the teeth's lower edge: the lower lip's own wet rim. Carried with the lower lip it opens away from the
    teeth; hung from the upper lip with them, it drew a lip-coloured band under the upper teeth once the mouth
    opened. Up from the lower inner lip, the rows brighten into the teeth; the edge is where they are halfway
    between the lowest row and the brightest (colours and absolute levels do not tell: pale lips are as bright and
    as saturated as the teeth behind them). None where the teeth reach the lip (no fall), nor where the lowest rows
    are far darker than the lower lip (`lower_luma`): that is the shadow line between teeth and lip, which carried
    with the lower lip rode on it as a jagged dark line."""
    rows = torch.linspace(1.0, 0.5, RIM_ROWS, device=image.device)
    points = upper + rows[:, None, None] * (lower - upper)  # [R, C, 2]
    luma = (sample(image, points[None])[0] @ luma_weights(image.device)).mean(1)
    peak, bottom = float(luma.max()), float(luma[0])
    level = 0.5 * (peak + bottom)
    k = int((luma >= level).float().argmax())  # the first row up from the lip as bright as that
    if k == 0:
        return 0.0
    at = k - 1 + (level - float(luma[k - 1])) / max(float(luma[k] - luma[k - 1]), 1e-6)
    share = float(rows[0] - rows[1]) * at
    fall = float(smoothstep(0.05, 0.15, torch.tensor((peak - bottom) / max(peak, 0.05))))
    lit = float(smoothstep(0.5, 0.7, luma[:k].min() / lower_luma.clamp_min(0.05)))
    return min(RIM_MAX, share) * fall * lit


UNDER_GAP_BRIGHTER = 1.5  # the band under a dark gap is lip (or tongue) only at this many times the gap's luma
UNDER_GAP_START = 0.1  # it starts where the rows have brightened this share of the way from the gap to it...
UNDER_GAP_MAX = 0.7  # ...and takes at most this share of the opening


def _lip_under_gap(profile: torch.Tensor, rows: torch.Tensor) -> float:
    """The share of an opening (luma `profile` [R] at `rows`, shares of it from the upper inner lip) that lies under a
    dark gap in a lit band at least UNDER_GAP_BRIGHTER times as bright: from where, down from its darkest row, the
    rows start to brighten (UNDER_GAP_START of the way) to the lower inner lip; 0 without one.

    A dark opening over a brighter band at its bottom: the lower lip's own inner part, where the face mesh puts the
    lower inner-lip row inside the lip, or a tongue lying on it. Both go with the lower lip. With no dip between
    brighter rows all of the opening hung from the upper lip (split 1), and that band was what a closing lower lip
    covered first: the dark gap stayed as tall as the source's while the lips closed by half (VoxCeleb2 00015).
    The band starts in the gap's own dark, so where the halves meet on a closing mouth dark meets dark (cut in the
    middle of the brightening, they met in a hard line)."""
    k = int(profile.argmin())
    bottom = profile[k:].max()
    if bottom < UNDER_GAP_BRIGHTER * profile[k] or bottom - profile[k] <= 0.15 * profile.max():
        return 0.0
    level = profile[k] + UNDER_GAP_START * (bottom - profile[k])
    j = k + int((profile[k:] >= level).float().argmax())  # > k: profile[k] < level
    return min(UNDER_GAP_MAX, 1.0 - _crossing(profile, rows, j, level))


def _split_row(profile: torch.Tensor, teeth: torch.Tensor, rows: torch.Tensor, shows_teeth: bool) -> float:
    """The row (share of the opening, from `rows`) of the darkest dip of a luma `profile` [R] below its brighter
    rows on both sides, or 1.0 without a dip (>= 15 % of the brightest row) or, in an opening that shows teeth,
    where one side is teeth and the other not (`teeth` [R] bool: the shadow of a lip on the teeth)."""
    above, above_at = profile.cummax(0)
    below, below_at = (x.flip(0) for x in profile.flip(0).cummax(0))
    below_at = profile.shape[0] - 1 - below_at
    valley = torch.minimum(above, below) - profile
    k = int(valley.argmax())
    if valley[k] <= 0.15 * profile.max():
        return 1.0
    if shows_teeth and bool(teeth[above_at[k]]) != bool(teeth[below_at[k]]):
        return 1.0
    return float(rows[k])


def _tinted(rgb: torch.Tensor, colourful: float) -> torch.Tensor:
    """rgb with its tint kept in proportion to how coloured the photo is (grey on a black-and-white one)."""
    grey = rgb @ luma_weights(rgb.device)
    return grey + colourful * (rgb - grey)


# The light comes from above. The upper lip's wet inner edge is in its own shade and casts a soft one on what lies
# under it (0.7 of the lip's colour, the interior LIP_SHADOW darker); the lower lip's faces the light. Shaded like the
# upper one it outlined the bottom of wide openings (Obama_clip2, KristiNoem) where real ones show no dark line
# (bench/mouth_interior.py, across the lower lip's inner edge). At the lip's own colour the face stack, run again on
# rendered frames, finds the lips' parting less well (tests/extraction: mouth opening r 0.89, under its 0.9 bar); at
# 0.9 of it, with the tongue's front lit, 0.967 / 0.949 for jaw / opening (0.972 / 0.936 at 0.7).
INNER_EDGE_SHADE = (0.7, 0.9)  # the inner edge's colour (times the lip's): along the upper lip, along the lower
LIP_SHADOW = 0.35
CORNER_LIT = (0.85, 1.0)  # side (0 mid-mouth, 1 at a corner) over which the inner edge's shade fades into the lip
INNER_EDGE = 0.04  # mouth widths: the lips' wet inner edge, shading from the lip's colour into the interior
CORNER_EDGE = 1.0  # how much wider that edge is at the corners (0: the same everywhere; at 2 the face stack
# re-reading rendered frames recovers the jaw less well: tests/extraction, r 0.90 against 0.94)
UPPER_TOOTH = 0.11  # mouth widths: an upper central incisor's width (the side teeth are narrower)
LOWER_TOOTH = 0.075  # a lower incisor's
# Lower incisors have nearly flat biting edges that meet in small notches: this share of the row's height is cut
# away at each gap. Rounded a fifth of their height down toward each gap, with a dark line between each two, they read
# as a grille of tombstones on a large sharp portrait (large_elderly_man_closed_smile at 512 px).
LOWER_NOTCH = 0.12
# Generic upper teeth reach this share of the opening down, in the middle of the mouth, but no more than this many
# mouth widths: in speech the upper lip covers all but their edge. Weighed person by person (bench/mouth_interior.py
# --every-clip), real medium openings read 0.61-0.69 of the skin's luma all the way down; teeth hanging to 0.65 of the
# opening, at most 0.15 widths long, filled it (1.0-1.2 on closed-lip gallery faces: a grille of clenched teeth).
UPPER_TEETH_DOWN = 0.4
# In speech the upper lip and the palate shade the upper teeth: generic ones are lit at this share of the light a
# smile's teeth get (TEETH_OVER_SKIN). Clip by clip (bench/mouth_interior.py, each talking clip's real video against
# our render of its first frame, 59 clips), 0.12 of the way down a medium opening reads a median 0.68 of the skin's
# luma on the real speakers; on our renders it read 0.94 (0.9-1.1 on most closed-lip sources, which get generic
# teeth), and the opening's brightest tenth 0.96 against 0.91: a white band across every opening. At 0.8: 0.74, and
# 0.89 against 0.89. The lower teeth face the light and keep all of it.
UPPER_TEETH_LIT = 0.8
UPPER_TEETH_LONG = 0.09
GUM_DOWN, GUM_LONG = 0.3, 0.06  # without teeth, the upper gum reaches this share of the opening down, at most so long
# The tongue's top in the middle of the mouth: this share of the opening above its floor, but no higher than
# TONGUE_HIGH mouth widths above it. Up to medium openings it fills the mouth up to the upper teeth; wider open, the
# jaw drops away from it and the throat shows between them. A tongue at half the opening left a dark band under the
# upper teeth (0.74 / 0.56 / 0.55 of the skin's luma at 0.38 / 0.5 / 0.62 of the gap).
TONGUE_REACH = 0.85
TONGUE_HIGH = 0.2
TONGUE_EDGE = 0.05  # mouth widths: the soft edge of its top
TONGUE_WIDE = 0.35  # wide open, the tongue fills this share of the opening above its floor (more than TONGUE_HIGH)
# The throat's light (times the skin's luma, in the lips' hue): 0.4 at the lips, falling to THROAT_DARK at the back
# over 0.08 mouth widths, and deeper, by THROAT_REACH px per px, where the mouth is open wider than 0.15 widths. On
# the widest vowels of real speech (three quarters of the mouth's width; May_5s, 517600055, 00015 in the real clips'
# renders) a throat lit only 0.08 widths deep filled a third of the opening with one flat black, 0.07 of the skin's
# luma: a painted hole. Real wide-open mouths read about 0.55 of the skin's luma at their darkest
# (bench/mouth_interior.py).
THROAT_DARK = 0.1
THROAT_REACH = 0.35
# Its light at its front (times the skin's luma), (narrow, wide): it shows more of itself, lit, as the jaw drops;
# toward its top it falls into the upper teeth's and the palate's shade by TONGUE_BACK_SHADE. Real medium openings
# read 0.61-0.69 of the skin's luma down their middle person by person (bench/mouth_interior.py --every-clip); with
# (0.7, 0.9) and the old teeth the closed-lip gallery faces read 0.79 / 0.99 inside at narrow / medium openings, with
# (0.5, 0.65) and these teeth eight of them 0.44 / 0.57, with these 0.63 / 0.69. Wide open the light falls on its
# front, behind the lower lip, and its back falls into the throat's shade: at (0.72, 0.8) and one back shade (0.15)
# it was one flat salmon band between a portrait's rows of teeth (older_woman_talking_teeth_earrings), and the lower
# part of wide real openings is lit (0.85-0.97 of the skin's luma at 0.75-1.0 of the gap, the median person; ours
# 0.76-0.88). At 0.95 the tongue's front was as bright as the generic lower teeth in front of it, which then read as
# pink (the bundled portrait at jaw +0.45-0.6).
TONGUE_LIGHT = (0.72, 0.88)
TONGUE_BACK_SHADE = (0.15, 0.3)  # narrow, wide
# How far the light reaches the tongue through the gap between the lips, by the opening (mouth widths): TONGUE_SHADE[0]
# of its light through the narrowest gap, rising to all of it from TONGUE_SHADE[1] to TONGUE_SHADE[2]. Real openings
# have a dark part at every size: inside dlib's inner lips their darkest tenth reads 0.35-0.38 of the skin's luma
# from narrow to wide over the 61 real clips (bench/mouth_interior.py --every-clip: p10), 0.35 / 0.37 at narrow /
# medium openings (0.10-0.16 / 0.16-0.26 inter-ocular distances) on the 14 the gallery renders. Our renders of those
# 14 (first frame, own speech) read 0.43 / 0.44 with the tongue at 0.6 of its light through a narrow gap, lit fully
# from 0.3 widths: a pale fill between the lips, the opening hard to see; 0.36 / 0.37 with these. Their median and
# teeth (p50 / p90) were 0.73 / 0.95 and 0.76 / 1.03 and are 0.58 / 0.94 and 0.66 / 1.02 (real 0.69 / 1.07 and
# 0.80 / 1.27 for these 14 people, 0.63 / 0.87 and 0.67 / 0.93 for the median person over all 61 clips).
TONGUE_SHADE = (0.35, 0.08, 0.4)
# That is the light at its back, under the upper teeth. Its front, just behind the lower lip, comes into the light
# first, as the gap opens toward it: fully lit from 0.3 mouth widths. Lit alike, our renders of those 14 clips read
# 0.65 inside medium openings (frame-weighted median; 0.37 their darkest tenth) and their lit tongue 0.75 of the skin's
# luma (by clip), against the real 0.76 (0.45) and 0.85; with this 0.70 (0.38) and 0.77, narrow openings 0.70 (0.38)
# against 0.69 (0.37) before and the real 0.69 (0.36). Lit from 0.25, medium openings read 0.71 and the tongue 0.80,
# but narrow ones 0.72 (0.40).
TONGUE_FRONT_SHADE = (0.35, 0.12, 0.3)
TEETH_SHADE = (0.5, 0.05, 0.3)  # the same for generic teeth: in the lips' shadow behind a narrow gap
TONGUE_OPENS = (0.1, 0.3)  # mouth widths opened past the source's own over which it goes from narrow to wide
GAP_DARK = (0.7, 0.45)  # the interior carried on the lower lip yields to the drawn one from this share of luma to that
AROUND_DARK = (0.8, 0.5)  # the lips' edge takes the colour around it from this share of the lip's luma to that one
SEAM_WINDOW = 0.1  # mouth widths either side of the corner line searched for the seam
SEAM_MAX_REACH = 0.12  # mouth widths: the furthest a mouth corner moves outward


def seam_ends(image: torch.Tensor, inner: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    """[2, 2] how far the source's dark lip seam runs on past each inner-lip corner, as (out, down) in mouth
    widths in the mouth's frame (out: away from the other corner; down: its normal, pointing down the face).

    image [1, 3, H, W]; inner [2, 2] the inner-lip corners in output px; width: the mouth's px.

    The face mesh often puts the mouth corners short of where the closed lips' dark seam ends. Opening the mouth
    then fans the rest of the seam, held at the corner by the lips around it, into a tall dark notch beside the
    opening; with the corners where the seam ends, the seam lies inside the opening and is carried by the lips.
    The seam is a dark valley across the lip line (brighter on both sides). At the corner it is looked for within
    three quarters of the window either side of the corner line (the mesh may put the corner 0.06 mouth widths above
    it); then it is followed column by column outward while it stays at least half as deep as at the corner and
    moves at most one sample per column (it may curve); (0, 0) where there is none.
    """
    steps = torch.linspace(0, SEAM_MAX_REACH, 13, device=image.device) * width
    across = torch.linspace(-1, 1, 17, device=image.device) * (SEAM_WINDOW * width).clamp_min(3.0)
    to_luma = luma_weights(image.device)
    axis = (inner[1] - inner[0]) / (inner[1] - inner[0]).norm().clamp_min(1e-3)
    down = torch.stack([-axis[1], axis[0]]) * (1.0 if axis[0] >= 0 else -1.0)
    ends = []
    for corner, out in ((inner[0], -axis), (inner[1], axis)):
        points = corner + steps[:, None, None] * out + across[None, :, None] * down  # [13, 17, 2]
        luma = sample(image, points[None])[0] @ to_luma  # [13, 17]
        low, where = luma.min(1)
        centre = across.shape[0] // 2
        end, depth0, previous = (0.0, 0.0), None, None
        for k in range(len(steps)):
            i = int(where[k])
            depth = float(torch.minimum(luma[k, :i + 1].max(), luma[k, i:].max()) - low[k])
            if previous is None:
                if abs(i - centre) > (3 * centre) // 4 or depth < 0.05:  # no seam at the corner itself
                    break
                depth0 = depth
            elif depth < 0.5 * depth0 or abs(i - previous) > 1:
                break
            previous = i
            end = (float(steps[k] / width), float(across[i] / width))
        ends.append(end)
    return torch.tensor(ends, device=image.device)


def lower_inset(source: SourceMouth, opened: torch.Tensor, closed: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    """[T] px by which the interior reaches over the driven lower lip's inner edge, opened [T] 0..1 beyond the
    source's opening or closed [T] 0..1 past it (overlays.opening_gain, closing_gain), the mouth `width` [T] px wide.
    Nothing at the source's own opening. A rim of 0.03 mouth widths (1-3 px): the landmark sits a pixel or two above
    the lip's edge, and what is left there (often the bottom of the source's teeth) rode on the lip as a thin jagged
    line, or, closed past the source, rose over the teeth hung from the upper lip (a canine's tip like a fang).
    Opened, down to the top of the source's own lower teeth where they show on the lower lip (teeth_on_lip): the
    gap's dark lower part above them rode down with them as a black line between them and the drawn interior."""
    rim = (0.03 * width).clamp(1.0, 3.0)
    teeth = source.teeth_on_lip * source.teeth_top * width
    return torch.maximum(opened * torch.maximum(rim, teeth), closed * rim)


def interior(upper: torch.Tensor, lower: torch.Tensor, pixels: torch.Tensor, image: torch.Tensor,
             source: SourceMouth, lower_inset: torch.Tensor | None = None,
             opened: torch.Tensor | None = None,
             around: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """RGB [T, h, w, 3] and alpha [T, h, w] of the mouth interior between the driven inner lips.

    upper, lower: [T, P, 2] driven inner lips (output px); pixels: [h, w, 2] output-px centres of the box;
    lower_inset: [T] px by which the interior reaches over the lower lip's inner edge (the lower lip's texture
    is then taken from as far below the source's edge, so the rim it skips never shows); opened: [T] 0..1 how far
    the mouth opens beyond the source's (overlays.opening_gain); around: [T, h, w, 3] the colour of what lies
    around the opening near each pixel (the warped lips, or a beard where it reaches the corners), which the lips'
    inner edge shades from (default: the lips' own median colours).
    """
    if lower_inset is not None:
        across = lower - upper
        across = across / across.norm(dim=-1, keepdim=True).clamp_min(1e-3)
        lower = lower + lower_inset[:, None, None] * across
    u, depth, height, width = mouth_coordinates(upper, lower, pixels)
    W = width[:, None, None]
    edge = (0.02 * W).clamp(1.0, 3.0)  # the inner-lip edge's soft ramp, px
    ring = torch.cat([upper, lower[:, 1:-1].flip(1)], 1)
    # Full cover inside the opening, fading out over the lips' inner edge: there the interior is the lips' own
    # texture carried with them, so a gap compressed below a pixel never shows the source's interior aliased.
    alpha = smoothstep(-1.5 * edge - 0.5, 0.0, polygon_distance(ring, pixels))

    # The source's own interior, each half carried by its lip at its own size.
    k = (source.width / width).clamp(0.8, 1.25)[:, None, None]  # driven px -> source px
    from_upper, from_lower = depth * k, (height - depth) * k
    src_depth, src_height = _source_rows(source, u)
    # The lower lip's own inner rim stays with the lower lip even when the rest hangs from the upper one (split 1:
    # a smile's teeth fill the opening); carried up with the teeth it would draw a lip-coloured band across the
    # opening, under a dark notch at each corner. Under teeth it is measured (SourceMouth.rim); elsewhere it is
    # the innermost edge of the lip, or, as the mouth closes, the lit lip under a dark gap (SourceMouth.lip_under_gap;
    # opened, the source's interior fades into the drawn one as before).
    shows = source.shows_teeth
    not_opened = 1.0 if opened is None else (1 - opened)[:, None, None]
    under_gap = source.lip_under_gap * not_opened
    edge_rim = torch.maximum(torch.minimum(0.25 * src_height, 0.03 * source.width), under_gap * src_height)
    rim = (1 - shows) * edge_rim + shows * source.rim * src_height
    upper_part = torch.minimum(source.split * src_height, src_height - rim).clamp_min(1e-3)
    lower_part = (src_height - upper_part).clamp_min(1e-3)
    # Where the two halves meet (the source's split row at zero motion) each pixel takes one of them. Where they
    # overlap (the mouth closes past the source's opening) that hard choice drew a staircase between two different
    # colours; there the colour crosses from one half to the other over a pixel and a half. (At zero motion and
    # wherever the mouth opens the choice stays as it was, so zero motion is still the source exactly.)
    meet = height * upper_part / (upper_part + lower_part)  # driven px below the upper lip
    overlap = smoothstep(0.5, 1.5, src_height - k * height)  # source px by which the halves overlap
    if source.lip_under_gap > 0:
        # Lit lip under a dark gap keeps its size as the mouth closes and the gap over it shrinks (cut in proportion,
        # the gap's upper rows met the band's lower ones in a hard line).
        rigid = (height - lower_part / k).clamp_min(0)
        meet = meet + (overlap * (1 - shows) * not_opened) * (rigid - meet)
    lower_share = (depth > meet).float()
    lower_share = lower_share + overlap * (smoothstep(-0.75, 0.75, depth - meet) - lower_share)
    skip = 0.0 if lower_inset is None else lower_inset[:, None, None] * k
    own, reuse = [], []
    # Each half ends where the opening splits, in the gap between the rows of teeth (its darkest row), or, where the
    # upper teeth fill the opening, at the lower lip's rim: opened, it ends `edge` px before that and fades into the
    # drawn interior. Carried to the edge, the upper half hung the gap's own black under the teeth as a hard, jagged
    # line, and the lower half a sliver of its teeth over the lower row.
    shrink = 0.0 if opened is None else opened[:, None, None] * edge
    for src_at, part, beyond in ((from_upper, upper_part, from_upper - upper_part),
                                 (src_height - from_lower + skip, lower_part, from_lower - lower_part)):
        own.append(sample(image, _source_points(source, u, src_depth + src_at)))
        # 1 wherever the source has this pixel (always at zero motion), fading past it over at most the part's
        # own size (an empty part, such as the lower lip's under a smile of upper teeth, lends nothing).
        reuse.append(smoothstep(torch.minimum(2 * edge, part), torch.zeros_like(part), beyond + shrink))
    own = own[0] + lower_share[..., None] * (own[1] - own[0])
    reuse = reuse[0] + lower_share * (reuse[1] - reuse[0])
    # A source whose lips are a little apart over a dark gap hides its teeth in the shadow; opened wider, the mouth
    # shows the upper teeth and a lit interior, not that dark gap hanging from the upper lip over them.
    kept = 1.0 if opened is None else (1 - (1 - source.shows_teeth) * opened)[:, None, None]  # of its interior
    reuse = reuse * kept

    # The tongue rises behind whatever of the source's interior rides on the lower lip (its own lower teeth).
    floor = torch.minimum(lower_part / k, 0.5 * height) * source.shows_teeth
    # The lower teeth stand on the lower lip's own rim carried with it, not behind it (hidden under the rim, only
    # their top 2 px showed, a dotted line along the lip), and in front of anything else of the source's there (a
    # tongue). Where the source's interior fades out as the mouth opens (it showed no teeth), on the lip itself.
    teeth_floor = torch.minimum(rim / k, 0.5 * height) * kept
    beyond = (height - src_height / k).clamp_min(0) / W  # mouth widths wider open than the source
    synthetic = _synthetic(u, depth, height, W, source, floor, beyond, teeth_floor, around)
    # As soft as the portrait's own edges: crisp synthesised teeth in a soft photo read as pasted on.
    extra = source.blur ** 2 - SYNTHETIC_BLUR ** 2
    if extra > 0.05:
        synthetic = gaussian_blur(synthetic.permute(0, 3, 1, 2), math.sqrt(extra)).permute(0, 2, 3, 1)
    if opened is not None:
        # The dark gap between a portrait's rows of teeth is shadow, not something the lower teeth carry: opened
        # wider, what it hid comes into the light. Carried on their edge it drew a black line, like ink, between
        # them and a lit tongue. Where the lower lip's part of the source's interior is far darker than the
        # interior drawn there, the drawn one takes over as the mouth opens beyond the source.
        luma = luma_weights(synthetic.device)
        darker = smoothstep(GAP_DARK[0], GAP_DARK[1], (own @ luma) / (synthetic @ luma).clamp_min(1e-3))
        reuse = reuse * (1 - opened[:, None, None] * lower_share * darker)
    rgb = synthetic + reuse[..., None] * (own - synthetic)
    return rgb, alpha


def _source_rows(source: SourceMouth, u: torch.Tensor):
    """For each pixel's u: (the source upper lip's offset across the mouth, the source opening height), px."""
    origin, ex, ey = _frame(source.upper)
    xu, yu = _in_frame(source.upper, origin, ex, ey)
    xl, yl = _in_frame(source.lower, origin, ex, ey)
    xq = (u.clamp(0, 1) * source.width).reshape(1, -1)
    y_up = interp_rows(xq, xu.cummax(0).values[None], yu[None])
    y_lo = interp_rows(xq, xl.cummax(0).values[None], yl[None])
    return y_up.reshape(u.shape), (y_lo - y_up).clamp_min(0).reshape(u.shape)


def _frame(upper: torch.Tensor):
    origin = upper[0]
    axis = upper[-1] - origin
    ex = axis / axis.norm().clamp_min(1e-3)
    ey = torch.stack([-ex[1], ex[0]]) * (-1.0 if ex[0] < 0 else 1.0)
    return origin, ex, ey


def _in_frame(row: torch.Tensor, origin, ex, ey):
    rel = row - origin
    return rel @ ex, rel @ ey


def _source_points(source: SourceMouth, u: torch.Tensor, across: torch.Tensor) -> torch.Tensor:
    """Output-px source positions [T, h, w, 2] at mouth-frame coordinates (u, px across from the corner line)."""
    origin, ex, ey = _frame(source.upper)
    return origin + (u * source.width)[..., None] * ex + across[..., None] * ey


def _synthetic(u: torch.Tensor, depth: torch.Tensor, height: torch.Tensor, W: torch.Tensor,
               source: SourceMouth, floor: torch.Tensor | float = 0.0, beyond: torch.Tensor | None = None,
               teeth_floor: torch.Tensor | float = 0.0, around: torch.Tensor | None = None) -> torch.Tensor:
    """A shaded mouth interior in the face's colours. u, depth, height [T, h, w]; W [T, 1, 1]; floor: px above the
    lower lip where the tongue starts (the top of the source's own lower teeth, carried with the lower lip); beyond:
    how much wider open than the source's own opening, in mouth widths (default: the whole opening); teeth_floor: px
    above the lower lip where the lower teeth start (the top of the source's own rim, carried with the lower lip);
    around: [T, h, w, 3] the colour around the opening that the lips' inner edge shades from (interior)."""
    device = u.device
    side = (2 * (u - 0.5)).abs()  # 0 in the middle, 1 at the corners
    below = height - depth  # px above the lower lip
    to_lip = torch.minimum(depth, below).clamp_min(0)
    opening = height / W
    beyond = opening if beyond is None else beyond
    # The lip's hue at the skin's exposure: a moustache or dark lipstick must not make the mouth black.
    luma = luma_weights(device)
    hue = source.lip / (source.lip @ luma).clamp_min(0.05)
    red = hue * _tinted(torch.tensor([1.15, 0.85, 0.85], device=device), source.colourful)
    level = source.skin_luma.clamp(0.2, 0.8)
    # Throat: lit near the lips, dark toward the back and the corners; a wide-open mouth lets the light in deeper.
    reach = 0.08 * W + THROAT_REACH * (height - 0.15 * W).clamp_min(0)
    light = torch.exp(-to_lip / reach) * (1 - 0.5 * side ** 2)
    throat = red * (level * (THROAT_DARK + (0.4 - THROAT_DARK) * light))[..., None]
    rgb = throat
    # Tongue: the floor of the mouth, a broad hump behind the lower lip that shows more of itself as the jaw drops,
    # lit from the front and falling into the throat's shadow at its back. Inside dlib's inner lips, person by person
    # over the real clips, an open mouth reads 0.62 / 0.67 / 0.67 of the skin's luma at narrow / medium / wide openings
    # (bench/mouth_interior.py --every-clip); wide open, the throat shows as a darker band under the upper teeth.
    # Behind a narrow gap it stays in the lips' shadow.
    above_floor = below - floor
    wide = smoothstep(*TONGUE_OPENS, beyond)
    top = torch.minimum(TONGUE_REACH * (height - floor), torch.maximum(TONGUE_HIGH * W, TONGUE_WIDE * height))
    arc = (top * (1 - 0.7 * side ** 2)).clamp_min(0)
    tongue_soft = (TONGUE_EDGE * W).clamp_min(1.0)
    tongue = (smoothstep(arc + tongue_soft, arc - tongue_soft, above_floor) * smoothstep(0.04, 0.22, opening)
              * (1 - side ** 2).clamp_min(0).sqrt())
    back = smoothstep(0.3, 1.0, above_floor / arc.clamp_min(1e-3))  # 0 at its front, 1 at the hump's top
    front_light = TONGUE_LIGHT[0] + (TONGUE_LIGHT[1] - TONGUE_LIGHT[0]) * wide
    back_shade = TONGUE_BACK_SHADE[0] + (TONGUE_BACK_SHADE[1] - TONGUE_BACK_SHADE[0]) * wide
    through = _through_gap(opening, TONGUE_FRONT_SHADE)
    through = through + back * (_through_gap(opening, TONGUE_SHADE) - through)
    tongue_light = (front_light - back_shade * back) * (1 - 0.35 * side ** 2) * through
    # A warm pink, mostly a tongue's own and partly the lower lip's hue (TONGUE, TONGUE_LIP).
    upper_lip, lower_lip = (source.lip, source.lip) if source.lips is None else source.lips
    lower_hue = lower_lip / (lower_lip @ luma).clamp_min(0.05)
    # Lit as the face is: an orange tongue under the lavender cast of andrew_clip_2, whose real one reads bluer.
    pink = _in_the_light(_tinted(torch.tensor(PINK, device=device), source.colourful), source.light)
    tongue_hue = pink / (pink @ luma)  # at unit luma
    own = _in_the_light(_tinted(torch.tensor(TONGUE, device=device), source.colourful), source.light)
    tongue_rgb = TONGUE_LIP * lower_hue + (1 - TONGUE_LIP) * own
    rgb = rgb + tongue[..., None] * (tongue_rgb * (level * tongue_light)[..., None] - rgb)
    soft = (0.012 * W).clamp_min(0.6)  # the teeth's edges, px: blurred like the photo's own, never a step
    # Seen through a narrow gap the teeth are in the lips' shadow; they catch the light as the mouth opens.
    lit = _through_gap(opening, TEETH_SHADE)
    # Upper teeth only where the source showed none of its own (those come with its interior).
    generic = 1.0 - source.shows_teeth
    front = 1 - smoothstep(0.35, 0.8, side)  # the front teeth catch the light; the side ones fall away
    shorter = 0.45 + 0.55 * front  # the upper row (gums or teeth) is shorter toward the corners...
    ends = smoothstep(0.3, 0.85, front + 0.3)  # ...and fades out into them
    if generic > 0 and not source.generic_teeth:
        # A gum ridge under the upper lip: pink, as shaded as the tongue, its lower edge a soft curve like its top.
        gum_h = torch.minimum(GUM_DOWN * height, GUM_LONG * W) * shorter
        gum = smoothstep(gum_h + tongue_soft, gum_h - tongue_soft, depth) * ends
        gum_rgb = tongue_rgb * (level * lit * (0.5 + 0.25 * front))[..., None]
        rgb = rgb + (generic * gum)[..., None] * (gum_rgb - rgb)
    elif generic > 0:
        # Upper teeth hang from the upper lip, a little shorter toward the corners; each tooth's edge rounds off
        # toward its neighbours, so the row ends in a scalloped edge, not a ruler-straight bar. Their edge shows under
        # the upper lip, above the middle of the opening (UPPER_TEETH_DOWN, UPPER_TEETH_LONG).
        middle, gap = _teeth(_to_gap(u, UPPER_TOOTH))
        upper_h = torch.minimum(UPPER_TEETH_DOWN * height, UPPER_TEETH_LONG * W) * shorter * (1 - 0.12 * (1 - middle))
        upper = smoothstep(upper_h + soft, upper_h - soft, depth) * ends
        rounded = (0.9 + 0.1 * middle) * (1 - 0.08 * gap)  # each tooth lit in its middle, darker toward a gap
        shade = (UPPER_TEETH_LIT * lit * (0.6 + 0.4 * front) * (0.78 + 0.22 * smoothstep(0.0, 0.35 * upper_h, depth))
                 * rounded)
        tip = smoothstep(0.6 * upper_h, upper_h, depth)  # translucent edge
        upper_rgb = source.teeth * shade[..., None] * (1 - 0.25 * tip[..., None])
        rgb = rgb + (generic * upper)[..., None] * (upper_rgb - rgb)
    # Lower teeth rise behind the lower lip from medium openings on, narrower than the upper ones and in their shadow,
    # whatever the source showed (a portrait shows its lower teeth rarely; where it does, they ride on its lower
    # lip with its own interior). Drawn only once they are a few px tall: thinner, they read as a grey wire.
    lower, lower_shade = lower_teeth(u, below - teeth_floor, height, W, lit, beyond)
    # A source that shows its own lower teeth (under a dark gap, or on its lower lip: they ride on the lower lip)
    # gets no generic ones.
    lower = (lower * (1.0 - source.shows_teeth * float(source.split < 1.0)) * (1.0 - source.teeth_on_lip)
             * float(source.generic_teeth))
    unshaded = rgb
    # A soft shadow under the upper lip's edge (LIP_SHADOW). The light comes from above: over the lower lip the tongue's
    # front and the lower teeth face it.
    shadow = 1 - LIP_SHADOW * smoothstep((0.03 * W).clamp_min(1.0), 0.0, depth)
    rgb = rgb * shadow[..., None]
    # The lips' wet inner edge, shaded: a ramp from the lip's colour over INNER_EDGE, so no hard line marks it.
    # Toward the corners it widens: there the lips' inner surfaces meet at the commissure, and the narrow wedge
    # of the opening is lip in shadow, not throat (dark, it reads as a notch cut beside each corner).
    ramp = (INNER_EDGE * W).clamp_min(1.5) * (1 + CORNER_EDGE * smoothstep(0.55, 1.0, side))
    edge = smoothstep(0.0, ramp, to_lip)[..., None]
    # Each lip's edge in its own colour (under a moustache the upper one is dark), or in the colour around it where
    # that is far darker: where a beard reaches into the mouth's corners, a lip-coloured edge drew a pink line through
    # it. (Taken everywhere, the skin around the corners shaded them into grey smudges.)
    lower_side = smoothstep(-ramp, ramp, depth - below)[..., None]
    lip_edge = upper_lip + lower_side * (lower_lip - upper_lip)
    if around is not None:
        darker = smoothstep(AROUND_DARK[0], AROUND_DARK[1], (around @ luma) / (lip_edge @ luma).clamp_min(0.05))
        lip_edge = lip_edge + darker[..., None] * (around - lip_edge)
    # At the corners themselves the lips meet: the shade fades into the lip's own colour there (at 0.7 of it a corner
    # point the opening's outline dips around drew a dark speck beside the closing mouth, VoxCeleb2 00015).
    edge_shade = INNER_EDGE_SHADE[0] + lower_side * (INNER_EDGE_SHADE[1] - INNER_EDGE_SHADE[0])
    rim = lip_edge * (edge_shade + (1 - edge_shade) * smoothstep(CORNER_LIT[0], CORNER_LIT[1], side)[..., None])
    rgb = rim + edge * (rgb - rim)
    if source.teeth_on_lip > 0:
        # Where the portrait's own lower teeth ride on the lower lip, the opening's lower edge is their lit top, not
        # the lip's wet edge: shaded, it drew a dark line between the tongue and them (andrew_clip_1).
        on_teeth = source.teeth_on_lip * front * lower_side[..., 0]
        rgb = rgb + on_teeth[..., None] * (unshaded - rgb)
    # The lower teeth stand in front of that edge's shade, down to the lip: under the shade only their tips showed,
    # a row of pale dots over a lip-coloured band; shaded at their roots they sat on a dark line (both read as a
    # zipper). Real speakers' lower lips meet their lower teeth without a dark line (bench/mouth_interior.py).
    # In the mouth's shade they take more of the light reflected off the tongue than the upper teeth do: ivory
    # darkened alone reads olive, and with 0.3 of the tongue's hue, grey-lavender (May_5s, large_elderly_man).
    lower_rgb = source.teeth + 0.5 * source.colourful * (tongue_hue * (source.teeth @ luma) - source.teeth)
    return rgb + lower[..., None] * (lower_rgb * lower_shade[..., None] - rgb)


def _through_gap(opening: torch.Tensor, shade: tuple[float, float, float]) -> torch.Tensor:
    """The share of the mouth's light that reaches behind a gap `opening` mouth widths tall: shade[0] through the
    narrowest, rising to all of it from shade[1] to shade[2] mouth widths (TONGUE_SHADE, TEETH_SHADE)."""
    narrowest, start, full = shade
    return narrowest + (1 - narrowest) * smoothstep(start, full, opening)


def lower_teeth(u: torch.Tensor, below: torch.Tensor, height: torch.Tensor, W: torch.Tensor, lit=1.0,
                opened: torch.Tensor | None = None):
    """Cover [T, h, w] of the lower teeth above the lower lip (`below` px above it, opening `height` px, mouth
    `W` px wide) and their shade (times the teeth's colour; `lit`: how far the opening lets light in): from medium
    openings on (they grow in as the mouth opens 0.06-0.2 mouth widths past the portrait's own opening, `opened`;
    default the whole opening), as real speakers show theirs (bench/mouth_interior.py), narrower than the upper
    arch, each tooth with a nearly flat top edge catching some light (LOWER_NOTCH), each column faded in as it grows
    from 2 to 3.5 px tall (a thinner strip reads as a grey wire; faded by the row's middle height, the corners, half
    as tall, drew one where they start later, at 0.06 widths)."""
    side = (2 * (u - 0.5)).abs()
    to_gap = _to_gap(u, LOWER_TOOTH)
    middle, gap = _teeth(to_gap)
    soft = (0.012 * W).clamp_min(0.6)
    full_h = (torch.minimum(0.35 * height, 0.09 * W)
              * smoothstep(0.06, 0.2, height / W if opened is None else opened))
    # Each tooth shows once the row is a few px tall (shorter, one tooth a px or two wide drew a row of dots) and
    # its teeth several px wide: at 6 px a dark line between each two drew a grille under the tongue (May_5s at 256 px).
    detail = smoothstep(3.0, 6.0, full_h) * smoothstep(5.0, 10.0, LOWER_TOOTH * W)
    # A little shorter toward the corners, and there the row turns away into the mouth's shadow: it fades out
    # over 0.15 of the mouth's width either side and darkens on the way (cut off where it fell under 2 px, it ended
    # in a square step either side, a block pasted on).
    notch = _notch(to_gap)
    lower_h = full_h * (1 - 0.5 * smoothstep(0.25, 0.7, side)) * (1 - detail * LOWER_NOTCH * notch)
    ends = 1 - smoothstep(0.3, 0.6, side)
    cover = smoothstep(lower_h + soft, lower_h - soft, below) * smoothstep(2.0, 3.5, lower_h) * ends
    crown = smoothstep(0.4 * lower_h, lower_h.clamp_min(1e-3), below)
    shade = (0.85 + 0.15 * crown) * (1 - detail * (0.04 * (1 - middle) + 0.06 * gap))
    return cover, lit * shade * (1 - 0.35 * smoothstep(0.15, 0.55, side))


def _to_gap(u: torch.Tensor, tooth: float) -> torch.Tensor:
    """Across the mouth at u, how far a pixel is from the nearest gap between teeth, in tooth widths (0 on a gap, 0.5
    in a tooth's middle). Teeth are `tooth` mouth widths wide in the middle of the mouth (a gap there) and narrower
    toward the corners, as the arch turns away."""
    x = ((u - 0.5) / tooth).abs() ** 1.15  # tooth widths from the middle
    return (x - x.round()).abs()


def _notch(to_gap: torch.Tensor) -> torch.Tensor:
    """From _to_gap: 1 at each gap between teeth, falling to 0 a fifth of a tooth either side, where the biting edges
    of two neighbouring teeth round off into a small V."""
    return torch.exp(-(to_gap / 0.12) ** 2)


def _teeth(to_gap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """From _to_gap, where a pixel sits on its tooth: (1 in a tooth's middle falling to 0 at the gaps on either side,
    a narrow dark line 1 on a gap)."""
    return torch.sin(torch.pi * to_gap).clamp_min(0).sqrt(), torch.exp(-(to_gap / 0.07) ** 2)
