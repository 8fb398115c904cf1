"""Named index groups of the 468-point MediaPipe face mesh (paper §3.1 geometry), used by pose, basis and eyes.

"right" / "left" are the SUBJECT's sides: the subject's right eye is on the viewer's left in a frontal photo.
Lists run along the contour; the lip lists run from the subject's right mouth corner (61 / 78) to the left one.
"""

FOREHEAD_TOP = 10
NOSE_TIP = 1
CHIN = 152
MOUTH_CORNER_RIGHT, MOUTH_CORNER_LEFT = 61, 291
INNER_MOUTH_CORNER_RIGHT, INNER_MOUTH_CORNER_LEFT = 78, 308

LIPS_UPPER_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_LOWER_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIPS_UPPER_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_LOWER_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
UPPER_LIP_MID_INNER, LOWER_LIP_MID_INNER = 13, 14
# The points inside each lip, between its outer and inner contour (point-in-polygon on the canonical mesh).
LIPS_UPPER_BODY = (11, 12, 62, 72, 73, 74, 76, 183, 184, 292, 302, 303, 304, 306, 407, 408)
LIPS_LOWER_BODY = (15, 16, 77, 85, 86, 89, 90, 96, 179, 180, 307, 315, 316, 319, 320, 325, 403, 404)

# Eye contours: outer corner, lower lid (outer -> inner), inner corner, upper lid (inner -> outer).
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_EYE_CORNERS = (33, 133)  # outer, inner
LEFT_EYE_CORNERS = (263, 362)

RIGHT_BROW = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55)  # upper edge outer -> inner, then lower edge
LEFT_BROW = (300, 293, 334, 296, 336, 276, 283, 282, 295, 285)
RIGHT_BROW_INNER, LEFT_BROW_INNER = (107, 55, 66, 65), (336, 285, 296, 295)

RIGHT_CHEEK = (50, 101, 118, 117, 116, 123, 147, 187, 205, 36, 142)
LEFT_CHEEK = (280, 330, 347, 346, 345, 352, 376, 411, 425, 266, 371)

FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)

# Points that move little with expression; pose fitting leans on them.
RIGID = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 33, 133, 263, 362, 234, 454, 127, 356, 93, 323, 109, 338,
         67, 297, 103, 332, 54, 284, 21, 251, 162, 389, 129, 358, 98, 327)
