"""English sentences for the demo corpus, generated here from templates.

The words and templates are the project's own, so the corpus carries no
third-party text. Templates mix statements, questions and requests, and the
word lists cover most English phonemes, so both demo voices say a varied
sample of sounds.
"""
import random
import re

MAX_SENTENCES = 10_000  # ids are four digits

WORDS = dict(
    adj=("quiet", "bright", "heavy", "clever", "yellow", "gentle", "frozen",
         "noisy", "ancient", "tiny", "curious", "purple", "shiny", "lazy",
         "brave", "sleepy", "wooden", "silver", "hungry", "careful"),
    animal=("fox", "rabbit", "horse", "owl", "kitten", "beaver", "goose",
            "monkey", "turtle", "badger", "sheep", "zebra", "whale", "puppy",
            "squirrel", "lizard"),
    place=("river", "village", "market", "garden", "station", "harbour",
           "kitchen", "valley", "library", "bridge", "forest", "museum",
           "beach", "tower", "church", "farm"),
    thing=("basket", "letter", "lantern", "blanket", "violin", "bottle",
           "umbrella", "ladder", "mirror", "pencil", "kettle", "jacket",
           "wagon", "shovel", "clock", "cushion"),
    things=("apples", "boxes", "candles", "shoes", "maps", "stones", "cakes",
            "feathers", "coins", "jars", "ropes", "chairs", "oranges",
            "bells", "tickets", "gloves"),
    person=("the baker", "my cousin", "the driver", "our teacher",
            "the gardener", "a stranger", "the captain", "my neighbour",
            "the doctor", "her uncle", "the old judge", "his sister",
            "the young pilot", "your friend"),
    people=("children", "farmers", "sailors", "students", "workers",
            "musicians", "soldiers", "tourists", "neighbours", "engineers"),
    moved=("wandered", "jumped", "hurried", "crawled", "drifted", "raced",
           "stumbled", "marched", "slipped", "climbed", "rushed", "strolled"),
    handled=("carried", "painted", "dropped", "repaired", "borrowed",
             "polished", "hid", "washed", "sold", "found", "wrapped",
             "measured", "delivered", "lost"),
    handle=("carry", "paint", "fix", "clean", "move", "count", "check",
            "wrap", "fetch", "open", "weigh", "sort"),
    prep=("across", "behind", "along", "beneath", "toward", "beside",
          "around", "through", "over", "past"),
    when=("this morning", "last night", "yesterday", "on Sunday",
          "after lunch", "before dawn", "in the evening", "at noon",
          "every winter", "last summer"),
    later=("tomorrow", "next week", "tonight", "the weekend", "sunset",
           "the holidays", "Friday", "the end of the month"),
    number=("two", "three", "four", "five", "six", "seven", "eight", "nine",
            "ten", "twelve", "twenty", "a hundred"),
    state=("broken", "empty", "warm", "ready", "missing", "damp", "locked",
           "cheap", "crooked", "perfect", "dusty", "sticky"),
    manner=("slowly", "quietly", "happily", "suddenly", "bravely", "loudly",
            "carefully", "eagerly", "calmly", "awkwardly"),
    event=("storm", "concert", "wedding", "meeting", "festival", "game",
           "journey", "lesson", "flood", "party"),
    period=("hour", "day", "week", "morning", "afternoon", "evening"),
)

TEMPLATES = (
    "The {adj} {animal} {moved} {prep} the {place} {when}.",
    "{person} {handled} the {adj} {thing} {when}.",
    "Please {handle} the {thing} near the {place} before {later}.",
    "Did you see the {adj} {animal} {prep} the {place}?",
    "We will {handle} {number} {things} before {later}.",
    "{person} said that the {thing} was {state} {when}.",
    "Nobody knew why the {animal} {moved} so {manner}.",
    "After the {event}, the {people} {moved} {manner} {prep} the {place}.",
    "How many {things} can the {people} {handle} in one {period}?",
    "The {thing} in the {place} is {state} and {state}.",
    "{person} {moved} {prep} the {place} with {number} {adj} {things}.",
    "Why did the {people} leave the {thing} {state} after the {event}?",
)

_SLOT = re.compile(r"\{(\w+)\}")


def _fill(template: str, rng: random.Random) -> str:
  """One sentence: every slot of `template` filled with a random word."""
  text = _SLOT.sub(lambda m: rng.choice(WORDS[m.group(1)]), template)
  return text[0].upper() + text[1:]


def sentences(n: int = 300, seed: int = 0) -> list[str]:
  """`n` distinct sentences of 5 to 15 words, the same for the same seed."""
  if not 1 <= n <= MAX_SENTENCES:
    raise ValueError(f"sentences: n={n} must be between 1 and {MAX_SENTENCES}")
  rng = random.Random(seed)
  unique = {}
  while len(unique) < n:
    text = _fill(TEMPLATES[len(unique) % len(TEMPLATES)], rng)
    unique.setdefault(text, None)
  return list(unique)
