"""The glossary's steered decoding, checked against the plain one.

Steering every window with the glossary finds names but also pushes the
model to write glossary terms for words that merely start alike and to echo
the list into silence. So the audio is decoded twice and the steered words
are kept only where they put a glossary term in place of a short run of
other words (`merge_glossary`); a bare list of terms read back as text is
dropped (`drop_glossary_echoes`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace

from index.normalize import tokens

from ..transcript import Dropped, Segment, Word

log = logging.getLogger(__name__)

# A steered block replaces at most this many words, and with at most this many:
# longer disagreements are the two decodings going different ways, not a name.
MAX_GLOSSARY_BLOCK = 4


def _word_key(word: str) -> str:
    return "".join(tokens(word))


def _glossary_marks(words: list[str], glossary: Iterable[str]) -> list[bool]:
    """For each word, whether it is part of a glossary term as written (case folded).

    A multi-word term counts where its words follow each other ("Vist Mining")
    or are written together ("VistMining").
    """
    keys = [_word_key(w) for w in words]
    marks = [False] * len(words)
    for term in glossary:
        toks = tokens(term)
        if not toks:
            continue
        compact, n = "".join(toks), len(toks)
        for i in range(len(keys)):
            if keys[i] == compact:
                marks[i] = True
            elif n > 1 and keys[i : i + n] == toks:
                marks[i : i + n] = [True] * n
    return marks


def drop_glossary_echoes(
    segments: list[Segment], glossary: Iterable[str], dropped: list[Dropped] | None = None
) -> list[Segment]:
    """Drop the glossary read back as text: a run of two or more glossary terms
    with nothing but list punctuation between them that is a whole segment or
    ends one ("... on our channel. Belarusian, BelAZ, Minsk,").

    A prompt is read by Whisper as preceding transcript; in a quiet stretch the
    model may continue it. Speech lists names with "and" and other words
    between them, so a bare list of two terms or more is taken for an echo.
    What is cut is appended to `dropped`, when given.
    """
    glossary = [t for t in glossary if t and t.strip()]
    if not glossary:
        return segments
    out = []
    for seg in segments:
        words = seg.words
        marks = _glossary_marks([w.word for w in words], glossary)
        cut = len(words)
        while cut > 0 and marks[cut - 1]:
            cut -= 1
        if len(words) - cut >= 2 and (cut == 0 or words[cut - 1].word.rstrip()[-1:] in ".?!"):
            echo = " ".join(w.word for w in words[cut:])
            log.warning("dropped a glossary echo at %.1f s: %r", words[cut].start, echo)
            if dropped is not None:
                dropped.append(Dropped(words[cut].start, words[-1].end, "glossary echo", echo))
            if cut == 0:
                continue
            kept = words[:cut]
            seg = Segment(start=seg.start, end=kept[-1].end, text=" ".join(w.word for w in kept), words=kept,
                          speaker=seg.speaker)  # fmt: skip
        out.append(seg)
    return out


_TRAILING = ".,;:!?\"')"
# A steered word this close to a term (edits per letter of the term) is the term misspelled.
MAX_TERM_EDITS = 0.25


def _edits(a: str, b: str) -> int:
    """Levenshtein distance."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def _pulled_toward(plain: str, steered: str, glossary: list[str]) -> str | None:
    """The one-word term that steering moved a word toward, if the steered word is nearly it.

    Told about "Vellacourt", the model heard "Melacort" as "Millacourt": not the
    term, but nearer to it than the plain word and a letter or two from it. A
    name unknown to the model comes out misspelled even when steered; a common
    word the plain decoding heard right is not moved toward a name by steering.
    """
    p, s = _word_key(plain), _word_key(steered)
    best: tuple[int, str] | None = None
    for term in glossary:
        key = "".join(tokens(term))
        if len(tokens(term)) != 1 or len(key) < 5:
            continue
        d = _edits(s, key)
        if d <= MAX_TERM_EDITS * len(key) and d < _edits(p, key) and (best is None or d < best[0]):
            best = (d, term.strip())
    return best[1] if best else None


def merge_glossary(plain: list[Segment], steered: list[Segment], glossary: Iterable[str]) -> list[Segment]:
    """The plain decoding, with the steered one's glossary terms where it had other words.

    The two word sequences are aligned (difflib, on folded words). Where they
    differ, the steered words are taken when they contain a glossary term and
    the plain words do not: the model wrote the name once told about it
    ("with" -> "Vist", "melee metal and" -> "BelAZ on a"). Not taken: a block
    where the plain decoding heard a glossary term itself (steering turned
    "Belarusian" into "BelAZ"), words the plain decoding did not have at all
    (an echo of the list in silence), and blocks longer than
    MAX_GLOSSARY_BLOCK words. Everything else stays as the plain decoding
    heard it, so steering cannot cost accuracy away from the names.
    """
    import difflib

    glossary = [t for t in glossary if t and t.strip()]
    pw = [w for s in plain for w in s.words]
    sw = [w for s in steered for w in s.words]
    if not glossary or not pw or not sw:
        return plain
    p_marks = _glossary_marks([w.word for w in pw], glossary)
    s_marks = _glossary_marks([w.word for w in sw], glossary)
    matcher = difflib.SequenceMatcher(a=[_word_key(w.word) for w in pw], b=[_word_key(w.word) for w in sw],
                                      autojunk=False)  # fmt: skip
    take: dict[int, tuple[int, list[Word]]] = {}  # first plain word -> (end, steered words instead)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "replace" or max(i2 - i1, j2 - j1) > MAX_GLOSSARY_BLOCK:
            continue
        if any(s_marks[j1:j2]) and not any(p_marks[i1:i2]):
            take[i1] = (i2, sw[j1:j2])
        elif i2 - i1 == 1 and j2 - j1 == 1 and not p_marks[i1]:
            term = _pulled_toward(pw[i1].word, sw[j1].word, glossary)
            if term is not None:
                w = sw[j1]
                take[i1] = (i2, [replace(w, word=term + w.word[len(w.word.rstrip(_TRAILING)) :])])
    if not take:
        return plain
    owner = [k for k, seg in enumerate(plain) for _ in seg.words]  # plain word -> its segment
    merged: list[list[Word]] = [[] for _ in plain]
    changed: set[int] = set()
    i = 0
    while i < len(pw):
        if i in take:  # a block running into the next segment stays in the one it starts in
            end, new = take[i]
            merged[owner[i]].extend(new)
            changed.update(owner[i:end])
            i = end
        else:
            merged[owner[i]].append(pw[i])
            i += 1
    out: list[Segment] = []
    for k, seg in enumerate(plain):
        words = merged[k]
        if k not in changed:
            out.append(seg)
        elif words:
            out.append(Segment(start=words[0].start, end=words[-1].end,
                               text=" ".join(w.word for w in words), words=words, speaker=seg.speaker))  # fmt: skip
    return out
