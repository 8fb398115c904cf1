"""The named components of the embedded expression space "embedded-v1", in coefficient order.

Each coefficient beta_k scales one displacement field B_k on the 468-point MediaPipe mesh (canonical,
unposed frame): mesh = neutral + sum_k beta_k * B_k. Units: 0 is the relaxed, closed-mouth neutral face and 1 a
full, natural-looking extent of that movement for an adult (jaw_open 1 = mouth wide open as on a shouted "ah").
Signed components (mouth_shift) span -1..1; the others are used in 0..1 but may go slightly negative in a fit.
Eyes are not here: eye closure is its own channel in MODIT_MOTION.
"""

SPACE_NAME = "embedded-v1"

COMPONENTS = (
    ("jaw_open", "lower jaw rotates down: chin, lower lip and lower teeth drop; the main speech channel"),
    ("lip_round", "lips pucker forward and narrow, as in 'oo' / 'w'"),
    ("lip_stretch", "mouth corners pull sideways, lips thin, as in 'ee'"),
    ("corners_up", "mouth corners rise (smile)"),
    ("corners_down", "mouth corners fall (frown)"),
    ("upper_lip_raise", "upper lip lifts off the teeth, as in 'f' / 'v' or a sneer"),
    ("lower_lip_drop", "lower lip curls down away from the teeth without moving the jaw"),
    ("lips_press", "lips press together and roll in, as in 'p' / 'b' / 'm'"),
    ("mouth_shift", "whole mouth shifts toward the subject's left (+) or right (-)"),
    ("brow_raise", "both brows lift (surprise, emphasis)"),
    ("brow_lower", "brows pull down and together (frown, concentration)"),
    ("cheek_raise", "cheeks lift and lower eyelids bunch (Duchenne smile)"),
)

COMPONENT_NAMES = tuple(name for name, _ in COMPONENTS)
NUM_COMPONENTS = len(COMPONENTS)  # K of the embedded space
JAW_OPEN = COMPONENT_NAMES.index("jaw_open")
