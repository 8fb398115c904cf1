"""What the synthetic corpus never contains, so that evaluation measures voices and sentences a model never heard.

corpus/generate.py leaves these out of every corpus; evaluate.py speaks exactly these.
"""

# Accents and voice variants the training corpus never uses.
HELD_OUT_ACCENTS = ("en-gb-x-gbcwmd",)
HELD_OUT_VOICES = ("en-us+f4", "en+m6", "en-gb-scotland+Annie", "en-029+klatt3", "en-us-nyc+aunty",
                   "en-gb-x-gbcwmd+norbert")
# Sentences outside the corpus grammar's vocabulary and forms.
HELD_OUT_SENTENCES = (
    "Jupiter has more moons than any planet we know of.",
    "Please remember to water the tomatoes before you leave.",
    "Somebody ate all of the chocolate biscuits again!",
    "The orchestra played until the candles burned out.",
    "How much would a wooden boat like that cost today?",
    "My grandmother grew up by the sea in a tiny white cottage.",
    "Quiet, please. The movie is about to begin.",
    "Bubbles floated above the bath, popping one by one.",
    "We argued about politics, poetry and pizza until dawn.",
    "Would you open the window? It's awfully warm in here.",
    "Every autumn the maple leaves turn orange and red.",
    "I'm not sure, but maybe the bus was cancelled.",
)


def held_out_variants() -> set[str]:
    """The espeak voice variants ("f4", "m6", ...) of the held-out voices."""
    return {voice.split("+")[1] for voice in HELD_OUT_VOICES if "+" in voice}
