"""Sounds-alike keys (Double Metaphone) for names the recognizer misspells.

A recognizer that has never seen "Skolkovo" writes what it heard
("Skilcovo"); the spelling differs, the sound does not. Double Metaphone maps
both to SKLKF. Keys are computed for ASCII letters only: the algorithm is
defined for English spelling, and for other scripts it produces noise.

A name it has never seen is also often heard as two or three words ("Kity
Wake") or a sound shorter or longer. So the index also keys every run of two
or three words joined (`gram_keys`: "kity wake" -> KTK, as "Kittiwake"). One
key edit (a sound missing, added or replaced) is looked up as the few hundred
keys one edit away (`edits`), exact term lookups, never a walk over every key;
a long key's start and end (`ends`) and a word's key with its first letters
(`headed`) are stored for the looser matches of a garbled middle or a lost sound.

A name typed in its own language's spelling (a Welsh "ll", a Polish "rz") is
heard and written by the recognizer as English spells its sound: every word is
also keyed by its readings under such spelling rules (`readings`), rules of
letters, never lists of names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import lru_cache

from whoosh.lang.dmetaphone import double_metaphone

# Below this many letters a word's key is so short that half the vocabulary
# "sounds like" it; such words are not searched phonetically.
MIN_PHONETIC_LETTERS = 4
# Keys this long are specific enough to also accept a key one edit away
# (Kilcovo KLKF ~ Skolkovo SKLKF, Melarussian MLRSN ~ Belarusian PLRSN).
# At 4 "running" (RNNK) already matched "Minning" (MNNK).
MIN_NEAR_KEY = 5
# Each part of a word searched as two recognised words ("Kiti Wake").
MIN_SPLIT_PART = 3
# A name heard as two words whose first also carries the end of the word
# before it ("join Skolkovo" heard "nineskill Corvo"): the first part's key
# must be at least this long to be matched at the end of a longer key.
MIN_GLUED_KEY = 3

# Runs of this many words at most are keyed joined ("Kity Wake", "Bella Vista Court").
MAX_GRAM_WORDS = 3
# A joined run's key must be at least this long: shorter ones ("in it" ANT) are
# ordinary speech, not a name heard in pieces.
MIN_GRAM_KEY = 4
# Keys this long take part in one-edit matching (`edits`). A 4-sound key may
# gain a sound (ALRN ~ ALRNT), never lose or change one: 3-sound keys, and the
# neighbours of a 4-sound one, are shared by too many ordinary words.
MIN_EDIT_KEY = 4
# Runs of words with longer keys are no name heard in pieces; not stored.
MAX_GRAM_KEY = 9
# Ends the key of a run made mostly of common words: only a name's own key finds it (never one a sound
# off: "all run to" is one sound from "already").
COMMON_RUN_MARK = "="

# Keys this long (a long name, or a run of words) also match a key of about the
# same length that starts with the same two sounds and ends with the same three,
# whatever is in between: a long foreign name is heard with its middle garbled
# (two edits or more) and its start and end intact.
MIN_ENDS_KEY = 7
ENDS_HEAD, ENDS_TAIL = 2, 3

# A short key (3-4 sounds) of a name of at least this many letters may also
# lose a sound ("Okuweran" AKRN heard "Okwen" AKN) if the heard word is
# spelled with the same first HEAD_LETTERS letters: the first syllable is
# the one heard best, and without it "iron" and "earn" would sound alike too.
MIN_HEADED_LETTERS = 6
HEAD_LETTERS = 2

# A word heard exactly in at least this share of the archive's segments (and at
# least once) is an ordinary word: it gets the one-edit matches of single words
# that it always had, but not the looser ones (runs one sound off, a 4-sound key
# with a sound more, a garbled middle, a lost sound with the same spelled start).
# A name the recognizer does not know is rarely heard exactly, and a common word
# always is: this keeps "world" from sounding like "early with".
ORDINARY_SHARE = 0.001

# Words so common that they are never the misheard form of a name, but whose
# keys collide with names' ("also" ALS = "Ellis" ALS): they get no sound key.
COMMON_WORDS = frozenset(
    """
    a about above after again against all almost also although always am among an and another any anyone
    anything are around as at away back be because been before being below between both but by came can
    cannot could did do does doing done down during each either else enough even ever every few for from
    further get gets getting go goes going gone got had has have having he her here hers herself him
    himself his how however i if in into is it its itself just know last less let like made make many may
    me might more most much must my myself near need never new next no nor not now of off often on once
    one only onto or other others our ours ourselves out over own per perhaps quite rather really right
    said same say says see seen she should since so some something still such than that the their theirs
    them themselves then there these they thing things think this those though through thus to too
    toward towards under until up upon us very was way we well were what whatever when where whether
    which while who whole whom whose why will with within without would yes yet you your yours yourself
    yourselves
    """.split()
)


# Letters that fold() leaves as they are (they decompose into no base letter and a mark), spelled
# as English would: without this a word holding one has no key at all.
_SPELLED = str.maketrans({"ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "đ": "d", "ð": "th", "þ": "th",
                          "ı": "i"})  # fmt: skip

# Letter groups that spell, in Welsh, Polish and other languages' spelling, a sound English spells
# otherwise; Double Metaphone reads every word as English, so a name typed in its own spelling gets,
# besides its English key, the keys of these readings. Rules of spelling, applied to every word
# (English words hardly hold these groups: an initial "ll", "sj" or "kj", an "rz", a "ł", a q without u).
# A reading whose key starts with a vowel is left out: it sounds like too many runs of words.
_READINGS = (
    # Welsh ll, a breathed l: English ears hear "sh" or "thl". (Not Spanish ll as y: Double Metaphone
    # writes an initial y as a vowel, and a key starting with one is heard in runs like "on filling".)
    (re.compile(r"^ll"), ("sh", "thl")),
    (re.compile(r"rz"), ("zh",)),  # Polish rz: the sound of "s" in "measure"
    (re.compile(r"ł"), ("w",)),  # Polish ł: an English w
    (re.compile(r"^(?:sk|[kts])j"), ("sh",)),  # Swedish and Norwegian sj, skj, kj, tj: about "sh"
    (re.compile(r"^x(?=[aeiou])"), ("sh",)),  # Chinese pinyin x: about "sh"
    (re.compile(r"q(?!u)"), ("ch",)),  # Chinese pinyin q (English writes qu): about "ch"
)
MAX_READINGS = 4  # spellings keyed per word at most, its own included


def _letters(token: str) -> str:
    """The token's letters when it is a word in Latin letters (the only kind keyed), else ""."""
    letters = token.replace("'", "").replace(".", "")
    spelled = letters.translate(_SPELLED)
    return letters if spelled.isascii() and spelled.isalpha() else ""


def readings(token: str) -> list[str]:
    """The word's letters as English would spell its sound: its own spelling first, then the
    readings of `_READINGS` (one reading per rule, rules combined), at most MAX_READINGS."""
    letters = token.replace("'", "").replace(".", "")
    out = [letters]
    for pattern, sounds in _READINGS:
        out += [pattern.sub(s, x) for x in out for s in sounds if pattern.search(x)]
    spelled = [x.translate(_SPELLED) for x in out]
    return [x for x in dict.fromkeys(spelled) if x.isascii() and x.isalpha()][:MAX_READINGS]


@lru_cache(maxsize=200_000)
def keys(token: str) -> tuple[str, ...]:
    """Primary and secondary key of a folded token; () when it has no sound key."""
    if token in COMMON_WORDS:
        return ()
    return _keys(_letters(token))


@lru_cache(maxsize=200_000)
def _keys(letters: str) -> tuple[str, ...]:
    """Double Metaphone's primary and secondary key of each reading of the letters, the word's own first."""
    out: list[str] = []
    for n, spelled in enumerate(readings(letters) if letters else ()):
        try:
            keyed = double_metaphone(spelled)
        except (IndexError, ValueError):  # the implementation trips on odd input
            continue
        out += [k for k in keyed if k and (n == 0 or not k.startswith("A"))]  # see _READINGS
    return tuple(dict.fromkeys(out))


def searchable(token: str) -> bool:
    """Whether a query word is long enough to be matched by sound."""
    letters = token.replace("'", "").replace(".", "")
    return len(letters) >= MIN_PHONETIC_LETTERS and bool(keys(token))


def splits(token: str) -> list[tuple[str, str]]:
    """Ways a word may have been heard as two words: ("kitti", "wake"), ..."""
    if not searchable(token) or len(token) < 2 * MIN_SPLIT_PART:
        return []
    return [
        (token[:i], token[i:])
        for i in range(MIN_SPLIT_PART, len(token) - MIN_SPLIT_PART + 1)
        if keys(token[:i]) and keys(token[i:])
    ]


def gram_keys(tokens: Sequence[str]) -> Iterator[tuple[int, int, str]]:
    """(first, last, key) for every run of 2..MAX_GRAM_WORDS consecutive tokens keyed joined.

    "kity wake" gives the key of "kitywake". Runs made only of common words
    ("in the") are left out, and so are keys shorter than MIN_GRAM_KEY.
    first..last is the run without common words at its ends: a name heard as
    "the Kity Wake" is found at "Kity Wake", the words that carry its sound;
    a run whose letters are mostly those of common words at its ends is left out.
    """
    for i in range(len(tokens)):
        joined = _letters(tokens[i])
        common = tokens[i] in COMMON_WORDS
        if not joined:
            continue
        for j in range(i + 1, min(i + MAX_GRAM_WORDS, len(tokens))):
            letters = _letters(tokens[j])
            if not letters:
                break
            joined += letters
            common = common and tokens[j] in COMMON_WORDS
            if common:
                continue
            before = _keys(joined[: -len(letters)])
            first, last = i, j
            while tokens[first] in COMMON_WORDS:
                first += 1
            while tokens[last] in COMMON_WORDS:
                last -= 1
            # mostly common words ("all run to"): ordinary speech, or a name heard as common words
            # ("Elarin" heard "ill are in"): marked, for lookups of a name's own key only
            mark = COMMON_RUN_MARK if 2 * sum(len(_letters(t)) for t in tokens[first : last + 1]) < len(joined) else ""
            for key in _keys(joined):
                # a word that adds no sound ("months ago we") does not lengthen the run
                if MIN_GRAM_KEY <= len(key) <= MAX_GRAM_KEY and key not in before:
                    yield first, last, key + mark


def joined_keys(words: Sequence[str]) -> tuple[str, ...]:
    """Keys of a query's words said as one ("Kitty Wake" for a search of Kittiwake,
    or a first and last name heard with the first one mangled)."""
    return _keys("".join(_letters(w) for w in words)) if all(map(_letters, words)) else ()


def ends(key: str, length: int | None = None) -> set[str]:
    """The key's start and end with its length ("7~PR~LSK"), as looked up for `length`; without it,
    as stored in the near field: also without the key's last sound, for a name heard with a sound
    added at its end (a recognizer ends a long name it does not know with a syllable of its own)."""
    if len(key) < MIN_ENDS_KEY or key.endswith(COMMON_RUN_MARK):
        return set()
    out = {f"{length or len(key)}~{key[:ENDS_HEAD]}~{key[-ENDS_TAIL:]}"}
    if length is None and len(key) > MIN_ENDS_KEY:
        out |= ends(key[:-1], len(key) - 1)
    return out


def headed(key: str, token: str) -> str:
    """A word's key with its first letters ("ARN|oy"), stored in the near field."""
    return f"{key}|{_letters(token)[:HEAD_LETTERS]}"


def headed_lookups(word: str) -> set[str]:
    """Terms that find a word a sound shorter than a short-keyed name, spelled with its start."""
    if len(_letters(word)) < MIN_HEADED_LETTERS:
        return set()
    return {
        headed(key[:i] + key[i + 1 :], word)
        for key in keys(word)
        if MIN_GLUED_KEY <= len(key) <= MIN_EDIT_KEY
        for i in range(len(key))
    }


# The letters of Double Metaphone keys ("0" is "th"): what a sound can be changed to.
KEY_SOUNDS = "0AFHJKLMNPRSTX"


@lru_cache(maxsize=4096)
def edits(key: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Every key one sound off `key`: (one shorter, one changed, one longer).

    Looked up as exact terms at search time: a few hundred lookups in the
    term dictionary, whatever the size of the archive, and nothing stored.
    Worked out once per key (each search of a name asks again, as does each
    name sharing a part's key).
    """
    shorter_ = frozenset(key[:i] + key[i + 1 :] for i in range(len(key)))
    changed = frozenset(key[:i] + c + key[i + 1 :] for i in range(len(key)) for c in KEY_SOUNDS if c != key[i])
    longer = frozenset(key[:i] + c + key[i:] for i in range(len(key) + 1) for c in KEY_SOUNDS)
    return shorter_, changed, longer


def liquid_edits(key: str) -> set[str]:
    """Keys of `key` with its L and R swapped (each or both), as they are or a sound shorter: a name
    heard as words with one liquid for the other and a sound of a cluster lost ("Bristlemoor" PRSTLMR
    heard "listle moor" LSTLMR). Two edits, but of the two kinds a recognizer makes most of a name it
    does not know; looked up among runs of words only (single words so near are ordinary words too)."""
    spots = [i for i, c in enumerate(key) if c in "LR"]
    out: set[str] = set()
    for mask in range(1, 2 ** len(spots)):
        k = list(key)
        for b, i in enumerate(spots):
            if mask >> b & 1:
                k[i] = "L" if key[i] == "R" else "R"
        swapped = "".join(k)
        out.add(swapped)
        out |= edits(swapped)[0]
    shorter, changed, longer = edits(key)
    return out - shorter - changed - longer - {key}


def ends_lookups(key: str) -> set[str]:
    """Terms that find a key of about this length with the same start and end (see MIN_ENDS_KEY)."""
    out: set[str] = set()
    # the first consonant heard as a vowel ("Pr..." heard "Ar..."), which Double Metaphone writes A
    heads = {key, "A" + key[1:]}
    for n in (len(key) - 1, len(key), len(key) + 1):
        out |= {form for k in heads for form in ends(k, n)} if n >= MIN_ENDS_KEY else set()
    return out
