"""The 31 classes of the glyph benchmark: ten handwritten digits and 21 capital letters."""

DIGIT_NAMES = tuple(f'digit_{d}' for d in range(10))
# O, I, S, Z and B are left out: they read like 0, 1, 5, 2 and 8.
LETTERS = 'ACDEFGHJKLMNPQRTUVWXY'
#: Class names in label order (label ``i`` is COCO category id ``i + 1``): digits, then letters.
GLYPH_CLASSES = DIGIT_NAMES + tuple(f'letter_{c}' for c in LETTERS)
