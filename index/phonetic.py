"""Sounds-alike keys (Double Metaphone) for names the recognizer misspells.

A recognizer that has never seen "Skolkovo" writes what it heard
("Skilcovo"); the spelling differs, the sound does not. Double Metaphone maps
both to SKLKF. Keys are computed for ASCII letters only: the algorithm is
defined for English spelling, and for other scripts it produces noise.
"""

from __future__ import annotations

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


@lru_cache(maxsize=200_000)
def keys(token: str) -> tuple[str, ...]:
    """Primary and secondary key of a folded token; () when it has no sound key."""
    letters = token.replace("'", "").replace(".", "")
    if not letters.isascii() or not letters.isalpha() or token in COMMON_WORDS:
        return ()
    try:
        primary, secondary = double_metaphone(letters)
    except (IndexError, ValueError):  # the implementation trips on odd input
        return ()
    out = tuple(k for k in (primary, secondary) if k)
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
