"""Varied English sentences for the speech corpus, generated deterministically from a seed.

A small phrase grammar (statements, questions, exclamations, commands, lists, numbers, short replies and
interjections) over hand-written word lists. The lists cover every English phoneme many times, including
the mouth shapes that matter most for lip sync: bilabials (p, b, m), labiodentals (f, v), rounded vowels
(oo, oh, w) and open vowels (ah). Sentences are between one word and about twenty.
"""
import random

NAMES = ("Peter", "Mary", "Bob", "Maya", "Oliver", "Sophie", "Theo", "Ava", "James", "Lucy", "Ahmed", "Yuki",
         "Frank", "Olga", "Hugo", "Martha", "Victor", "Wendy", "George", "Paula", "Ben", "Zoe", "Moira", "Owen")
PEOPLE = ("the baker", "my mother", "our neighbour", "the pilot", "a farmer", "the teacher", "my brother",
          "the old man", "a young woman", "the doctor", "the boy", "the musician", "your father", "the mayor",
          "a stranger", "the police officer", "my cousin", "the shopkeeper", "the children", "the whole family")
ANIMALS = ("dog", "cat", "horse", "owl", "mouse", "bee", "fox", "whale", "pony", "rabbit", "moose", "parrot")
THINGS = ("a blue umbrella", "the morning paper", "a bottle of milk", "three apples", "an old map", "the keys",
          "a warm blanket", "the broken mirror", "some fresh bread", "a paper boat", "the violin", "a big box",
          "the photographs", "a cup of coffee", "two bus tickets", "the yellow balloon", "a pair of boots",
          "the football", "some purple flowers", "a heavy book", "the new phone", "a piece of cheese",
          "the wooden spoon", "a bag of rice", "the moon", "a few pebbles", "the window", "a bowl of soup")
PLACES = ("the park", "the beach", "the museum", "the market", "the office", "the library", "the harbour",
          "the mountains", "the old bridge", "the zoo", "the station", "the garden", "the village", "the pool",
          "the forest", "the bakery", "the airport", "the school", "the hospital", "the farm")
TIMES = ("this morning", "yesterday", "last week", "tomorrow", "on Monday", "every Friday", "at noon",
         "before breakfast", "after lunch", "in the evening", "at midnight", "next summer", "in two hours",
         "on Sunday afternoon", "right now", "all day long", "once a month", "in the spring")
ADJECTIVES = ("beautiful", "tiny", "enormous", "brave", "quiet", "noisy", "happy", "moody", "smooth", "rough",
              "bright", "foolish", "wonderful", "awful", "boring", "funny", "cool", "warm", "gloomy", "proud",
              "huge", "polite", "busy", "lovely", "purple", "velvet", "shiny", "fierce", "gentle", "hungry")
PAST_VERBS = ("found", "bought", "lost", "painted", "borrowed", "moved", "opened", "carried", "fixed", "sold",
              "dropped", "washed", "brought", "threw", "wrapped", "hid", "built", "forgot", "picked up", "chose")
VERBS = ("find", "buy", "lose", "paint", "borrow", "move", "open", "carry", "fix", "sell", "drop", "wash",
         "bring", "throw", "wrap", "hide", "build", "forget", "pick up", "choose")
INTRANSITIVE = ("laughed", "waited", "shouted", "whispered", "smiled", "walked away", "fell asleep", "sang",
                "moved on", "looked around", "kept moving", "stood up", "ran home", "booed loudly", "waved")
ADVERBS = ("slowly", "quickly", "carefully", "happily", "loudly", "softly", "suddenly", "politely", "barely",
           "proudly", "patiently", "hopefully", "foolishly", "smoothly")
OPINIONS = ("I think", "Maybe", "Of course", "To be honest", "Believe me", "Apparently", "Obviously",
            "By the way", "Frankly", "Well", "You know", "Oh boy", "Honestly")
EXCLAMATIONS = ("Wow!", "Oh no!", "Bravo!", "Boo!", "Hooray!", "Oops!", "Ouch!", "Whoa!", "Aha!", "Mmm.",
                "Yes!", "No way!", "Amazing!", "Look out!", "Oh my goodness!", "Hmm.", "Ah, I see.", "Hello!",
                "Good morning!", "Thank you!", "Bye bye!", "Please!", "Wait!", "Okay.", "Sure.", "Why not?")
QUESTION_WORDS = ("Where", "When", "Why", "How")
NUMBERS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
           "fifteen", "twenty", "thirty", "forty four", "fifty", "ninety nine", "a hundred", "a thousand")
UNITS = ("minutes", "hours", "days", "miles", "pounds", "people", "boxes", "pages", "euros", "bottles")


def _pick(rng: random.Random, items):
    return items[rng.randrange(len(items))]


def _capitalise(text: str) -> str:
    return text[0].upper() + text[1:]


def _someone(rng):
    return _pick(rng, NAMES) if rng.random() < 0.5 else _pick(rng, PEOPLE)


def _statement(rng):
    s = f"{_someone(rng)} {_pick(rng, PAST_VERBS)} {_pick(rng, THINGS)}"
    if rng.random() < 0.6:
        s += f" at {_pick(rng, PLACES)}" if rng.random() < 0.5 else f" {_pick(rng, TIMES)}"
    if rng.random() < 0.3:
        s += f", and then {_pick(rng, ('he', 'she', 'they', 'we'))} {_pick(rng, INTRANSITIVE)}"
    return _capitalise(s) + "."


def _description(rng):
    subject = f"the {_pick(rng, ANIMALS)}" if rng.random() < 0.5 else _pick(rng, PLACES)
    s = (f"{subject} {_pick(rng, ('was', 'is', 'looks', 'seemed', 'became'))} "
         f"{_pick(rng, ('very', 'rather', 'so', 'quite', 'not', 'really'))} {_pick(rng, ADJECTIVES)}")
    if rng.random() < 0.4:
        s += f" {_pick(rng, TIMES)}"
    return _capitalise(s) + "."


def _question(rng):
    kind = rng.random()
    if kind < 0.35:
        s = f"{_pick(rng, QUESTION_WORDS)} did {_someone(rng)} {_pick(rng, VERBS)} {_pick(rng, THINGS)}?"
    elif kind < 0.7:
        s = f"Did you see {_pick(rng, THINGS)} at {_pick(rng, PLACES)} {_pick(rng, TIMES)}?"
    else:
        s = f"Is the {_pick(rng, ANIMALS)} {_pick(rng, ADJECTIVES)} or {_pick(rng, ADJECTIVES)}?"
    return _capitalise(s)


def _command(rng):
    s = f"{_pick(rng, ('Please', 'Now', 'Quickly', 'Go and', 'Never', 'Always'))} {_pick(rng, VERBS)} {_pick(rng, THINGS)}"
    if rng.random() < 0.5:
        s += f" {_pick(rng, ADVERBS)}"
    return s + _pick(rng, (".", "!"))


def _opinion(rng):
    statement = _statement(rng)
    if not statement.startswith(NAMES):  # keep names capitalised
        statement = statement[0].lower() + statement[1:]
    return f"{_pick(rng, OPINIONS)}, {statement}"


def _numbers(rng):
    kind = rng.random()
    if kind < 0.4:
        return f"It took {_pick(rng, NUMBERS)} {_pick(rng, UNITS)} to get to {_pick(rng, PLACES)}."
    if kind < 0.7:
        return ", ".join(_pick(rng, NUMBERS) for _ in range(rng.randint(3, 6))).capitalize() + "."
    return f"We need {_pick(rng, NUMBERS)} {_pick(rng, UNITS)}, not {_pick(rng, NUMBERS)}."


def _list(rng):
    items = [_pick(rng, THINGS) for _ in range(rng.randint(2, 4))]
    return f"{_capitalise(_someone(rng))} packed {', '.join(items[:-1])} and {items[-1]}."


def _reply(rng):
    parts = [_pick(rng, EXCLAMATIONS) for _ in range(rng.randint(1, 3))]
    return " ".join(parts)


def _story(rng):
    return f"{_statement(rng)} {_pick(rng, (_description, _reply, _question))(rng)}"


_FORMS = ((_statement, 5), (_description, 3), (_question, 3), (_command, 2), (_opinion, 2), (_numbers, 2),
          (_list, 1), (_reply, 2), (_story, 2))


def make_sentences(count: int, seed: int, exclude=()) -> list[str]:
    """`count` distinct sentences drawn from the grammar with `random.Random(seed)`, none of them in `exclude`."""
    rng = random.Random(seed)
    forms = [form for form, weight in _FORMS for _ in range(weight)]
    excluded = {s.strip().lower() for s in exclude}
    seen, sentences = set(), []
    attempts = 0
    while len(sentences) < count:
        attempts += 1
        if attempts > 50 * count + 1000:
            raise RuntimeError(f"sentence grammar ran out of distinct sentences after {len(sentences)} of {count}")
        sentence = _pick(rng, forms)(rng)
        key = sentence.lower()
        if key in seen or key in excluded:
            continue
        seen.add(key)
        sentences.append(sentence)
    return sentences
