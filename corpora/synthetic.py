"""A synthetic English-like language with planted word relations, for demos and end-to-end tests.

Every planted word is a mix of independent components, each with its own pool of context words:
an entity component (the pair's or group's topic words, shared by both members of a pair) and, for
pairs, an attribute component (gender, country versus capital, singular versus plural).  A word is
written in a clause with a few words from each of its pools, padded with Zipf-distributed filler
words, so that its vector is close to entity + attribute and analogies such as
king - man + woman = queen fall out of word2vec training.
"""

import itertools
import os
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from w2v.fileio import atomic_output

DEFAULT_SENTENCES = 40_000
MIN_SENTENCE_LENGTH = 5
MAX_SENTENCE_LENGTH = 20
CONTEXT_WINDOW = 5
# A planted word's component words share its clause, and a clause is at most this long, so with the
# planted word placed near the middle they all fall within word2vec's default window.
MAX_CLAUSE_LENGTH = 2 * CONTEXT_WINDOW + 1

GENDER_PAIRS: list[tuple[str, str]] = [
    ("king", "queen"),
    ("man", "woman"),
    ("prince", "princess"),
    ("boy", "girl"),
    ("father", "mother"),
    ("son", "daughter"),
    ("brother", "sister"),
    ("uncle", "aunt"),
    ("husband", "wife"),
    ("actor", "actress"),
    ("nephew", "niece"),
    ("emperor", "empress"),
    ("grandfather", "grandmother"),
    ("duke", "duchess"),
    ("waiter", "waitress"),
    ("god", "goddess"),
]

CAPITAL_PAIRS: list[tuple[str, str]] = [
    ("france", "paris"),
    ("germany", "berlin"),
    ("italy", "rome"),
    ("spain", "madrid"),
    ("japan", "tokyo"),
    ("china", "beijing"),
    ("russia", "moscow"),
    ("egypt", "cairo"),
    ("greece", "athens"),
    ("canada", "ottawa"),
    ("england", "london"),
    ("portugal", "lisbon"),
    ("austria", "vienna"),
    ("norway", "oslo"),
    ("poland", "warsaw"),
    ("india", "delhi"),
]

PLURAL_PAIRS: list[tuple[str, str]] = [
    ("car", "cars"),
    ("dog", "dogs"),
    ("house", "houses"),
    ("tree", "trees"),
    ("book", "books"),
    ("bird", "birds"),
    ("computer", "computers"),
    ("river", "rivers"),
    ("window", "windows"),
    ("shoe", "shoes"),
    ("bottle", "bottles"),
    ("chair", "chairs"),
    ("phone", "phones"),
    ("bridge", "bridges"),
    ("key", "keys"),
]

GROUPS: dict[str, list[str]] = {
    "colours": ["red", "blue", "green", "yellow", "purple", "pink", "brown", "grey"],
    "animals": ["cat", "horse", "lion", "tiger", "cow", "sheep", "rabbit", "wolf"],
    "fruits": ["apple", "banana", "orange", "grape", "cherry", "lemon", "mango", "pear"],
    "tools": ["hammer", "saw", "drill", "wrench", "screwdriver", "chisel", "pliers", "axe"],
    "instruments": ["piano", "guitar", "violin", "drum", "flute", "trumpet", "cello", "harp"],
    "sports": ["football", "tennis", "golf", "rugby", "baseball", "basketball", "boxing", "skiing"],
}

# Topic words of each pair, shared by both of its members: the entity component.
_PAIR_TOPICS: dict[tuple[str, str], list[str]] = {
    ("king", "queen"): ["crown", "throne", "reign", "kingdom"],
    ("man", "woman"): ["adult", "person", "human", "grown"],
    ("prince", "princess"): ["heir", "castle", "royal", "fairy"],
    ("boy", "girl"): ["child", "school", "young", "playground"],
    ("father", "mother"): ["parent", "family", "household", "raised"],
    ("son", "daughter"): ["offspring", "born", "birth", "inherit"],
    ("brother", "sister"): ["sibling", "twin", "elder", "younger"],
    ("uncle", "aunt"): ["cousin", "relative", "reunion", "kin"],
    ("husband", "wife"): ["marriage", "married", "wedding", "spouse"],
    ("actor", "actress"): ["film", "stage", "role", "movie"],
    ("nephew", "niece"): ["birthday", "gift", "visiting", "youngest"],
    ("emperor", "empress"): ["empire", "imperial", "dynasty", "conquest"],
    ("grandfather", "grandmother"): ["grandchild", "elderly", "retired", "pension"],
    ("duke", "duchess"): ["duchy", "estate", "nobility", "manor"],
    ("waiter", "waitress"): ["restaurant", "menu", "tip", "table"],
    ("god", "goddess"): ["temple", "worship", "divine", "myth"],
    ("france", "paris"): ["french", "wine", "seine", "louvre"],
    ("germany", "berlin"): ["german", "beer", "rhine", "autobahn"],
    ("italy", "rome"): ["italian", "pasta", "tiber", "vatican"],
    ("spain", "madrid"): ["spanish", "flamenco", "tapas", "iberian"],
    ("japan", "tokyo"): ["japanese", "sushi", "samurai", "kimono"],
    ("china", "beijing"): ["chinese", "mandarin", "panda", "yangtze"],
    ("russia", "moscow"): ["russian", "kremlin", "vodka", "tsar"],
    ("egypt", "cairo"): ["egyptian", "nile", "pharaoh", "pyramid"],
    ("greece", "athens"): ["greek", "olive", "acropolis", "aegean"],
    ("canada", "ottawa"): ["canadian", "maple", "hockey", "yukon"],
    ("england", "london"): ["english", "thames", "cricket", "tea"],
    ("portugal", "lisbon"): ["portuguese", "fado", "tagus", "algarve"],
    ("austria", "vienna"): ["austrian", "waltz", "danube", "alps"],
    ("norway", "oslo"): ["norwegian", "fjord", "salmon", "arctic"],
    ("poland", "warsaw"): ["polish", "vistula", "pierogi", "chopin"],
    ("india", "delhi"): ["indian", "curry", "hindi", "ganges"],
    ("car", "cars"): ["road", "engine", "drive", "garage"],
    ("dog", "dogs"): ["bark", "leash", "puppy", "kennel"],
    ("house", "houses"): ["roof", "rent", "bedroom", "doorway"],
    ("tree", "trees"): ["leaf", "branch", "forest", "trunk"],
    ("book", "books"): ["read", "page", "library", "author"],
    ("bird", "birds"): ["nest", "wing", "feather", "flock"],
    ("computer", "computers"): ["software", "keyboard", "screen", "digital"],
    ("river", "rivers"): ["water", "flow", "stream", "riverbank"],
    ("window", "windows"): ["glass", "pane", "curtain", "sill"],
    ("shoe", "shoes"): ["foot", "lace", "heel", "leather"],
    ("bottle", "bottles"): ["cork", "drink", "label", "liquid"],
    ("chair", "chairs"): ["seat", "sit", "cushion", "furniture"],
    ("phone", "phones"): ["call", "mobile", "dial", "message"],
    ("bridge", "bridges"): ["cross", "span", "arch", "tunnel"],
    ("key", "keys"): ["lock", "door", "unlock", "keychain"],
}

# Context words of each group, shared by all of its members.
_GROUP_TOPICS: dict[str, list[str]] = {
    "colours": ["colour", "paint", "bright", "shade", "hue"],
    "animals": ["animal", "wild", "fur", "zoo", "tail"],
    "fruits": ["fruit", "ripe", "juicy", "sweet", "peel"],
    "tools": ["tool", "workshop", "handle", "toolbox", "repair"],
    "instruments": ["music", "melody", "concert", "tune", "orchestra"],
    "sports": ["sport", "match", "team", "score", "championship"],
}

# Context words of each attribute: the first member of a pair takes the first pool, the second
# member the second, so that the offset between the members is the same for every pair.
_ATTRIBUTES: dict[str, tuple[list[str], list[str]]] = {
    "gender": (["he", "his", "him", "himself"], ["she", "her", "hers", "herself"]),
    "capital": (
        ["nation", "border", "government", "population"],
        ["city", "mayor", "streets", "downtown"],
    ),
    "plural": (["one", "this", "single", "is"], ["many", "these", "several", "are"]),
}

# Filler words, most frequent first; drawn with Zipf weights 1/rank so that the corpus has a few
# very frequent words (which word2vec's subsampling must thin out) and a long tail.
# fmt: off
_FILLER_WORDS = [
    "the", "of", "and", "a", "in", "to", "was", "that", "for", "it", "with", "as", "on", "at",
    "by", "from", "an", "be", "or", "had", "not", "but", "which", "they", "there", "been", "has",
    "have", "were", "their", "we", "you", "all", "would", "will", "can", "if", "so", "no", "out",
    "up", "about", "into", "than", "then", "them", "some", "could", "when", "who", "what", "more",
    "other", "also", "only", "its", "over", "after", "new", "first", "time", "just", "like",
    "such", "made", "back", "years", "way", "even", "because", "most", "through", "where", "much",
    "good", "well", "still", "down", "should", "each", "before", "those", "same", "while", "never",
    "day", "year", "people", "long", "great", "little", "own", "under", "last", "right", "old",
    "another", "might", "around", "again", "part", "place", "small",
]
# fmt: on

_RELATION_PAIRS: dict[str, list[tuple[str, str]]] = {
    "gender": GENDER_PAIRS,
    "capital": CAPITAL_PAIRS,
    "plural": PLURAL_PAIRS,
}


@dataclass(frozen=True)
class _Unit:
    """A pair or group of planted words that share topic words, and each member's attribute pool."""

    members: Sequence[str]
    topic: Sequence[str]
    attributes: Sequence[Sequence[str]]


def _zipf_weights(count: int, exponent: float) -> list[float]:
    """Weights proportional to 1 / rank**exponent for ranks 1..count, summing to 1."""
    weights = [1.0 / rank**exponent for rank in range(1, count + 1)]
    return [weight / sum(weights) for weight in weights]


def _units_with_weights() -> tuple[list[_Unit], list[float]]:
    """Every planted unit and its cumulative sampling weight.

    Each relation, and the groups together, get a share of the clauses in proportion to their
    number of planted words; within one, units get a mild Zipf skew (the first pairs and groups
    are the most common) so that planted words differ in frequency, while the rarest still occurs
    a few hundred times in the default corpus.
    """
    kinds = [
        [_Unit(pair, _PAIR_TOPICS[pair], _ATTRIBUTES[relation]) for pair in pairs]
        for relation, pairs in _RELATION_PAIRS.items()
    ]
    kinds.append([_Unit(members, _GROUP_TOPICS[group], ()) for group, members in GROUPS.items()])
    units, weights = [], []
    for kind in kinds:
        word_count = sum(len(unit.members) for unit in kind)
        units += kind
        weights += [word_count * weight for weight in _zipf_weights(len(kind), 0.5)]
    return units, list(itertools.accumulate(weights))


_UNITS, _UNIT_CUMULATIVE_WEIGHTS = _units_with_weights()
_FILLER_CUMULATIVE_WEIGHTS = list(itertools.accumulate(_zipf_weights(len(_FILLER_WORDS), 1.0)))


def _clause(rng: random.Random, length: int) -> list[str]:
    """One clause of the given length around a random planted word."""
    unit = rng.choices(_UNITS, cum_weights=_UNIT_CUMULATIVE_WEIGHTS)[0]
    member = rng.randrange(len(unit.members))
    context = rng.sample(unit.topic, 2)
    # Longer clauses get a second attribute word; group members, having no attribute, a third topic.
    if unit.attributes:
        context += rng.choices(unit.attributes[member], k=1 + (length >= 8))
    else:
        context.append(rng.choice(unit.topic))
    filler_count = length - 1 - len(context)
    context += rng.choices(_FILLER_WORDS, cum_weights=_FILLER_CUMULATIVE_WEIGHTS, k=filler_count)
    rng.shuffle(context)
    # Positions from which every other word of the clause is within the window.
    first = max(0, length - 1 - CONTEXT_WINDOW)
    last = min(length - 1, CONTEXT_WINDOW)
    context.insert(rng.randint(first, last), unit.members[member])
    return context


def sentences(n_sentences: int = DEFAULT_SENTENCES, seed: int = 0) -> Iterator[list[str]]:
    """Yield n_sentences sentences of the synthetic language, each a list of lower-case words."""
    rng = random.Random(seed)
    for _ in range(n_sentences):
        length = rng.randint(MIN_SENTENCE_LENGTH, MAX_SENTENCE_LENGTH)
        if length <= MAX_CLAUSE_LENGTH:
            yield _clause(rng, length)
        else:
            yield _clause(rng, length // 2) + _clause(rng, length - length // 2)


def write_corpus(
    path: str | os.PathLike[str], n_sentences: int = DEFAULT_SENTENCES, seed: int = 0
) -> int:
    """Write the corpus to path, one space-separated sentence a line; return the words written."""
    word_count = 0

    def lines() -> Iterator[str]:
        nonlocal word_count
        for sentence in sentences(n_sentences, seed):
            word_count += len(sentence)
            yield " ".join(sentence)

    _write_lines_atomically(path, lines())
    return word_count


def analogy_questions() -> dict[str, list[tuple[str, str, str, str]]]:
    """The planted analogies a:b :: c:d by section, from every ordered pair of distinct pairs."""
    return {
        relation: [(a, b, c, d) for (a, b), (c, d) in itertools.permutations(pairs, 2)]
        for relation, pairs in _RELATION_PAIRS.items()
    }


def write_questions(path: str | os.PathLike[str]) -> int:
    """Write the planted analogies in questions-words.txt format; return the questions written."""
    sections = analogy_questions()
    lines = []
    for section, questions in sections.items():
        lines.append(f": {section}")
        lines.extend(" ".join(question) for question in questions)
    _write_lines_atomically(path, lines)
    return sum(len(questions) for questions in sections.values())


def _write_lines_atomically(path: str | os.PathLike[str], lines: Iterable[str]) -> None:
    """Write lines to path via a temporary file beside it, so readers never see half."""
    with atomic_output(path) as stream:
        for line in lines:
            stream.write(line.encode("ascii") + b"\n")
