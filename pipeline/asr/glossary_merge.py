"""The glossary's steered decoding, checked against the plain one.

Steering every window with the glossary finds names but also pushes the
model to write glossary terms for words that merely start alike and to echo
the list into silence. So the audio is decoded twice and the steered words
are kept only where they put a glossary term, as written or nearly, in place
of other words heard at that time (`merge_glossary`; `merge_blocks` says
what was decided where and why); a bare list of terms read back as text is
dropped (`drop_glossary_echoes`). The rules are about how a recognizer
treats names it does not know, never about particular names.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

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
# A term may be written across this many steered words ("Kittle wake", "Dun morrow").
MAX_RUN_WORDS = 3
# Terms shorter than this are only taken as written: a shorter name one letter off is another word.
MIN_NEAR_TERM = 5
# Steered words this close to a term (edits per letter of the term) are the term misspelled...
MAX_TERM_EDITS = 0.25
# ...and so are words up to this far when steering moved them at least MIN_PULL nearer than the plain pass heard them.
MAX_PULLED_EDITS = 0.5
MIN_PULL = 0.25
# Steering can force a term where the audio has nothing like it; the model then gives those words
# (almost) no probability. A term written with less (mean over its words) is not taken.
MIN_TERM_PROBABILITY = 0.005
# A word only pulled toward a term (more than MAX_TERM_EDITS off) says less by its letters: the model
# must also have been fairly sure of it (in stretches it decoded badly it writes term-like pieces).
MIN_PULLED_PROBABILITY = 0.1
# A plain word the plain pass was this sure of, of MIN_SAID_LETTERS or more, that the term contains:
# it was said, and steering stretched it into the term ("Russian" -> "Belarusian").
SURE_PLAIN = 0.9
MIN_SAID_LETTERS = 5
# Where the two decodings disagree over a long stretch (alignment failed), the steered term is only
# taken for plain words heard over its time that are spelled or sound like it, within this share.
MAX_UNALIGNED_EDITS = 0.5
# A name new to the model, spelled in a language whose letters English reads otherwise (a Welsh "ll"),
# is written by both passes as English spells its sound: far from the term's letters, but one sound
# off its key (phonetic.keys, with the term's readings). Steered words that sound like the term
# where the plain words also do, both written as a name, are the term, if its key has this many sounds.
MIN_SOUND_KEY = 5
MAX_SOUND_EDITS = 1


def _edits(a: str, b: str) -> int:
    """Levenshtein distance."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


@dataclass
class Block:
    """One place where the two decodings differ, and what the merge made of it (for audit and the bench)."""

    plain: tuple[int, int]  # plain words [i1, i2)
    steered: tuple[int, int]  # steered words [j1, j2)
    rule: str  # why taken or not
    words: list[Word] | None = None  # what replaces the plain words, when taken
    term: str | None = None  # the term it is about


@dataclass
class _Run:
    """Steered words [j1, j2) that spell `term` (or nearly: `edits` letters off)."""

    j1: int
    j2: int
    term: str
    key: str
    edits: int
    sounds: int | None = None  # sound edits from the term's key (see MIN_SOUND_KEY), when it has one
    alternates: list[_Run] = field(default_factory=list)  # runs over its words one sound off the term


def _sound_edits(letters: str, key: str) -> int | None:
    """Fewest edits between a sound key of `letters` and one of the term `key`; None for a term whose
    keys are shorter than MIN_SOUND_KEY (a short key one sound off is too many ordinary words)."""
    from index import phonetic

    term_keys = [k for k in phonetic.keys(key) if len(k) >= MIN_SOUND_KEY]
    heard = phonetic.keys(letters)
    if not term_keys or not heard:
        return None
    return min(_edits(a, b) for a in heard for b in term_keys)


def _terms(glossary: list[str]) -> list[tuple[str, str, int]]:
    """(term, its folded letters, number of words) for each term."""
    out = []
    for term in glossary:
        toks = tokens(term)
        if toks:
            out.append((" ".join(term.split()), "".join(toks), len(toks)))
    return out


def _term_runs(keys: list[str], terms: list[tuple[str, str, int]]) -> list[_Run]:
    """Runs of up to MAX_RUN_WORDS steered words whose letters spell a term or nearly, best first, not overlapping.

    Nearly: for one-word terms of MIN_NEAR_TERM letters or more, within MAX_PULLED_EDITS of
    them (whether that is near enough is decided against the plain words, in `merge_blocks`).
    """
    found: list[_Run] = []
    by_sound: list[_Run] = []
    for j in range(len(keys)):
        if not keys[j]:
            continue
        joined = ""
        for n in range(1, MAX_RUN_WORDS + 1):
            if j + n > len(keys):
                break
            joined += keys[j + n - 1]
            for term, key, words in terms:
                if len(joined) > 2 * len(key):
                    continue
                d = _edits(joined, key)
                near = words == 1 and len(key) >= MIN_NEAR_TERM
                sounds = _sound_edits(joined, key) if near else None
                if d == 0 or (near and d <= MAX_PULLED_EDITS * len(key)):
                    found.append(_Run(j, j + n, term, key, d, sounds))
                if sounds is not None and sounds <= MAX_SOUND_EDITS:
                    by_sound.append(_Run(j, j + n, term, key, d, sounds))
    found.sort(key=lambda r: (r.edits / len(r.key), r.j2 - r.j1, r.j1))
    runs: list[_Run] = []
    used: dict[int, _Run] = {}
    for r in found:
        if all(j not in used for j in range(r.j1, r.j2)):
            runs.append(r)
            used.update((j, r) for j in range(r.j1, r.j2))
    # Runs one sound off a term: where they overlap a run chosen by its letters, its alternates (tried
    # when its letters are not near enough); elsewhere runs of their own. Fewest sound edits first.
    by_sound.sort(key=lambda r: (r.sounds, r.j2 - r.j1, r.j1))
    for r in by_sound:
        over = {id(used[j]): used[j] for j in range(r.j1, r.j2) if j in used}
        if not over:
            runs.append(r)
            used.update((j, r) for j in range(r.j1, r.j2))
        elif len(over) == 1:
            (base,) = over.values()
            if base.edits and base.term == r.term and (r.j1, r.j2) != (base.j1, base.j2):
                base.alternates.append(r)
    return sorted(runs, key=lambda r: r.j1)


def _joined_runs(keys: list[str]) -> Iterator[str]:
    """Every run of up to MAX_RUN_WORDS consecutive `keys`, joined: a term may be heard split in words."""
    for i in range(len(keys)):
        joined = ""
        for key in keys[i : i + MAX_RUN_WORDS]:
            joined += key
            yield joined


def _nearest_sound(keys: list[str], key: str) -> int | None:
    """Fewest sound edits from the term `key` to any run of up to MAX_RUN_WORDS of `keys` (see _sound_edits)."""
    found = [d for joined in _joined_runs(keys) if (d := _sound_edits(joined, key)) is not None]
    return min(found, default=None)


def _overlap(word: Word, t0: float, t1: float) -> bool:
    return min(word.end, t1) - max(word.start, t0) > 0


def _part_of(word: str, key: str) -> bool:
    """Whether `word` is a part of the term `key`, give or take a letter, with 3 letters or more of it left over."""
    if len(word) < MIN_SAID_LETTERS or len(word) > len(key) - 3:
        return False
    return any(_edits(word, key[i:j]) <= 1 for i in range(len(key)) for j in range(i + len(word) - 1, len(key) + 1))


def _nearest_run(keys: list[str], key: str) -> int:
    """Fewest edits from `key` to the letters of any run of up to MAX_RUN_WORDS of `keys`."""
    return min([len(key), *(_edits(joined, key) for joined in _joined_runs(keys))])


def _sounds_near(words: list[Word], key: str) -> bool:
    """Whether some run of `words` is spelled or sounds like the term, within MAX_UNALIGNED_EDITS."""
    from index import phonetic

    keys = [_word_key(w.word) for w in words]
    if _nearest_run(keys, key) <= MAX_UNALIGNED_EDITS * len(key):
        return True
    term_sounds = phonetic.keys(key)
    for i in range(len(keys)):
        for n in range(1, MAX_RUN_WORDS + 1):
            heard = "".join(keys[i : i + n])
            if i + n <= len(keys) and len(heard) >= len(key) / 2:
                for a in phonetic.keys(heard):
                    if any(_edits(a, b) <= MAX_UNALIGNED_EDITS * len(b) for b in term_sounds):
                        return True
    return False


def merge_blocks(pw: list[Word], sw: list[Word], glossary: list[str]) -> list[Block]:
    """Every difference between the plain words `pw` and steered words `sw`, with the rule that decided it.

    See `merge_glossary`. Each steered run spelling a term (or nearly) where the plain words
    differ gives one block; differences with no term in them are listed as "no term".
    """
    import difflib

    p_keys, s_keys = [_word_key(w.word) for w in pw], [_word_key(w.word) for w in sw]
    p_marks = _glossary_marks([w.word for w in pw], glossary)
    ops = difflib.SequenceMatcher(a=p_keys, b=s_keys, autojunk=False).get_opcodes()
    op_of = [0] * len(sw)  # steered word -> its opcode
    for k, (_, _, _, j1, j2) in enumerate(ops):
        op_of[j1:j2] = [k] * (j2 - j1)
    blocks: list[Block] = []
    touched: set[int] = set()
    runs = _term_runs(s_keys, _terms(glossary))
    in_run = {j: r for r in runs for j in range(r.j1, r.j2)}
    pulled_short: list[tuple[Block, _Run]] = []  # near enough but not pulled far enough: see _spelled_alike

    def judge(run: _Run, own: _Run) -> tuple[Block, list[int], bool] | None:
        """The block of `run` (`own`, or one of its alternates) and the rule deciding it; None where
        the plain pass wrote the same."""
        ks = sorted({op_of[j] for j in range(run.j1, run.j2)})
        if all(ops[k][0] == "equal" for k in ks):
            return None
        t0, t1 = sw[run.j1].start, sw[run.j2 - 1].end
        pi: list[int] = []
        sj: list[int] = list(range(run.j1, run.j2))
        long_block = False
        for k in ks:
            op, i1, i2, j1, j2 = ops[k]
            if op == "equal":
                pi += [i1 + j - j1 for j in range(max(j1, run.j1), min(j2, run.j2))]
            elif op == "insert":  # aligned with no plain words: those heard over its time, if any, as in a long block
                long_block = True
                near_i = range(max(0, i1 - MAX_GLOSSARY_BLOCK), min(len(pw), i1 + MAX_GLOSSARY_BLOCK))
                pi += [i for i in near_i if _overlap(pw[i], t0, t1)]
            elif (max(i2 - i1, j2 - j1) <= MAX_GLOSSARY_BLOCK and all(in_run.get(j, own) is own for j in range(j1, j2))
                  and any(_overlap(pw[i], t0, t1) for i in range(i1, i2))):  # fmt: skip
                pi += range(i1, i2)  # the whole block, as the steered pass heard it
                sj += range(j1, j2)
            else:  # only the plain words heard over the term's time (not another term's doubtful words)
                # A block whose plain words were heard at another time is misaligned: as a long one.
                long_block = long_block or max(i2 - i1, j2 - j1) > MAX_GLOSSARY_BLOCK or not any(
                    _overlap(pw[i], t0, t1) for i in range(i1, i2))  # fmt: skip
                near_i = range(max(0, i1 - MAX_GLOSSARY_BLOCK), min(len(pw), i2 + MAX_GLOSSARY_BLOCK))
                pi += [i for i in near_i if _overlap(pw[i], t0, t1)]
        j1, j2 = min(sj), max(sj) + 1
        block = Block((min(pi), max(pi) + 1) if pi else (0, 0), (j1, j2), "", term=run.term)
        short = False
        i1, i2 = block.plain
        d_plain = _nearest_run(p_keys[i1:i2], run.key)
        probability = sum(w.probability for w in sw[run.j1 : run.j2]) / (run.j2 - run.j1)
        # A word both passes wrote alike where they are aligned was not moved by steering: a run only
        # pulled toward the term (not near it by its letters) must be made of words steering changed.
        agreed = any(ops[op_of[j]][0] == "equal" for j in range(run.j1, run.j2))
        near = run.edits <= MAX_TERM_EDITS * len(run.key) or (
            run.edits <= MAX_PULLED_EDITS * len(run.key)
            and d_plain - run.edits >= MIN_PULL * len(run.key)
            and probability >= MIN_PULLED_PROBABILITY
            and not agreed
        )
        # Both passes wrote, as a name, something one sound off the term, the steered pass no farther from
        # it, and the plain words are no misspelling of the term (then their letters decide).
        s_plain = _nearest_sound(p_keys[i1:i2], run.key) if run.sounds is not None else None
        sounds_alike = (
            run.sounds is not None
            and d_plain > MAX_TERM_EDITS * len(run.key)
            and s_plain is not None
            and run.sounds <= min(MAX_SOUND_EDITS, s_plain)
            and s_plain <= MAX_SOUND_EDITS
            and sw[run.j1].word[:1].isupper()
            and any(w.word[:1].isupper() for w in pw[i1:i2])
            and probability >= MIN_PULLED_PROBABILITY
            and not agreed
        )
        if not pi:
            block.rule = "no plain words"
        elif any(p_marks[i1:i2]):
            block.rule = "plain has a term"
        elif probability < MIN_TERM_PROBABILITY:
            block.rule = "term unsure"
        elif d_plain > MAX_TERM_EDITS * len(run.key) and any(
            w.probability >= SURE_PLAIN and _part_of(k, run.key) for w, k in zip(pw[i1:i2], p_keys[i1:i2], strict=True)
        ):
            block.rule = "a word said, stretched into the term"
        elif run.edits and not (near and run.edits <= d_plain) and not sounds_alike:
            block.rule = "not near the term"
            short = run.edits <= min(MAX_PULLED_EDITS * len(run.key), d_plain) and not long_block
        elif long_block and i2 - i1 > MAX_GLOSSARY_BLOCK:
            block.rule = "block too long"
        elif long_block and not _sounds_near(pw[i1:i2], run.key):
            block.rule = "plain words unlike the term"
        else:
            block.rule = "term written" if run.edits == 0 else "near the term" if near else "sounds like the term"
            block.words = sw[j1 : run.j1] + _as_term(sw[run.j1 : run.j2], run) + sw[run.j2 : j2]
        return block, ks, short

    for run in runs:
        judged = judge(run, run)
        if judged is None:
            continue  # the plain pass wrote the same
        # Not near by its letters, or only by its sound: the run over its words nearest the term by sound
        if judged[0].rule in ("not near the term", "sounds like the term"):
            for alt in run.alternates:
                other = judge(alt, run)
                if (
                    other is not None
                    and other[0].words is not None
                    and (judged[0].words is None or (alt.sounds or 0) < (run.sounds or 0))
                ):
                    judged = other
                    break
        block, ks, short = judged
        touched.update(ks)
        blocks.append(block)
        if short:
            pulled_short.append((block, run))
    _spelled_alike(sw, s_keys, runs, blocks, pulled_short)
    blocks += _same_name_elsewhere(pw, p_keys, p_marks, blocks)
    for k, (op, i1, i2, j1, j2) in enumerate(ops):
        if op != "equal" and k not in touched:
            blocks.append(Block((i1, i2), (j1, j2), "no term"))
    return sorted(blocks, key=lambda b: b.plain)


def _spelled_alike(
    sw: list[Word], s_keys: list[str], runs: list[_Run], blocks: list[Block], pulled_short: list[tuple[Block, _Run]]
) -> None:
    """A steered word spelled exactly as one taken elsewhere as a misspelled term is that term here too,
    though steering moved it less far from the plain words here: the steered pass spells an unknown
    name alike each time, while the plain pass may have come nearer it at one of them.

    Only one capitalised steered word of MIN_NEAR_TERM letters or more, taken elsewhere by its
    letters or its pull (not by this rule), and only where the other guards let it through.
    """
    by_j = {r.j1: r for r in runs}
    spelled: dict[str, set[str]] = {}
    for b in blocks:
        if b.rule != "near the term":
            continue
        for j in range(*b.steered):
            r = by_j.get(j)
            if (
                r
                and r.term == b.term
                and r.j2 - r.j1 == 1
                and sw[j].word[:1].isupper()
                and len(s_keys[j]) >= MIN_NEAR_TERM
            ):
                spelled.setdefault(s_keys[j], set()).add(r.term)
    for b, run in pulled_short:
        if run.j2 - run.j1 == 1 and sw[run.j1].word[:1].isupper() and spelled.get(s_keys[run.j1]) == {run.term}:
            j1, j2 = b.steered
            b.rule = "spelled as the term elsewhere"
            b.words = sw[j1 : run.j1] + _as_term(sw[run.j1 : run.j2], run) + sw[run.j2 : j2]


def _same_name_elsewhere(pw: list[Word], p_keys: list[str], p_marks: list[bool], blocks: list[Block]) -> list[Block]:
    """A name the plain pass wrote (one capitalised word) that a taken block showed to be a term is that
    term wherever else the plain pass wrote it: the recognizer spells one unknown name alike each time
    ("Kellomir" twice), while steering may bring the term out at only one of them.

    Only capitalised words, written alike, of MIN_NEAR_TERM letters or more: a common word that was
    misheard for a name once ("red field") is not that name everywhere.
    """
    named: dict[str, set[str]] = {}
    covered: set[int] = set()
    for b in blocks:
        if b.words is None:
            continue
        i1, i2 = b.plain
        covered.update(range(i1, i2))
        if i2 - i1 == 1 and pw[i1].word[:1].isupper() and len(p_keys[i1]) >= MIN_NEAR_TERM:
            named.setdefault(p_keys[i1], set()).add(b.term or "")
    out = []
    for i, w in enumerate(pw):
        terms = named.get(p_keys[i])
        if terms and len(terms) == 1 and i not in covered and w.word[:1].isupper() and not p_marks[i]:
            (term,) = terms
            new = replace(w, word=term + w.word[len(w.word.rstrip(_TRAILING)) :])
            out.append(Block((i, i + 1), (0, 0), "the same word as a term elsewhere", [new], term))
    return out


def _as_term(words: list[Word], run: _Run) -> list[Word]:
    """The run's words, or one word spelled as the term where they were split or misspelled."""
    if run.edits == 0 and len(words) == len(run.term.split()):
        return words
    last = words[-1].word
    return [replace(words[0], word=run.term + last[len(last.rstrip(_TRAILING)) :], end=words[-1].end,
                    probability=min(w.probability for w in words))]  # fmt: skip


_PRIORITY = {"term written": 0, "near the term": 1, "sounds like the term": 2, "spelled as the term elsewhere": 3,
             "the same word as a term elsewhere": 4}  # fmt: skip


def merge_glossary(plain: list[Segment], steered: list[Segment], glossary: Iterable[str]) -> list[Segment]:
    """The plain decoding, with the steered one's glossary terms where it heard other words.

    The two word sequences are aligned (difflib, on folded words). A term in
    the steered words is a run of one to MAX_RUN_WORDS words whose letters
    spell it, or nearly (a name new to the model comes out misspelled or in
    pieces even when steered: "Kittle wake", "Millacourt"). Where such a run
    differs from the plain words, it is taken:
    - written exactly: in place of the plain words it is aligned with
      ("with" -> "Vist", "melee metal and" -> "BelAZ on a"); the whole
      differing block as steered when it is short, else only the plain words
      heard over the term's time, and then only when they are spelled or
      sound like the term (a long disagreement is the passes going different
      ways, and a term in it may be anywhere);
    - misspelled: when within MAX_TERM_EDITS of the term's letters, or within
      MAX_PULLED_EDITS and steering moved it MIN_PULL nearer than the plain
      words were (and the model was fairly sure of it, and every word of it
      is one steering changed: a word both passes wrote alike, joined to a
      changed one, was not pulled: "we sell" is not a term); never when the
      plain words are nearer the term;
    - heard as its sound spelled the English way: steered words one sound
      off the term's key (with the readings of its spelling, index.phonetic)
      where the plain pass wrote, as a name, words one sound off it too and
      no misspelling of the term (a Welsh "ll" heard "sh" by both passes);
    - a steered word spelled as one taken elsewhere as the misspelled term
      is that term there too, though pulled less far (`_spelled_alike`);
    - a word the plain pass wrote alike elsewhere, capitalised, is the same
      term there (`_same_name_elsewhere`).
    Never taken: over plain words that are a glossary term themselves
    (steering turned "Belarusian" into "BelAZ") or hold a word the plain pass
    was sure of that the term contains, the rest of the term unheard ("did
    Russian" -> "Belarusian"), where the plain pass has no
    words (an echo of the list in silence), a term the model gave almost no
    probability (steering forced it). Everything else stays as the plain
    decoding heard it, so steering cannot cost accuracy away from the names.
    """
    glossary = [t for t in glossary if t and t.strip()]
    pw = [w for s in plain for w in s.words]
    sw = [w for s in steered for w in s.words]
    if not glossary or not pw or not sw:
        return plain
    # first plain word -> (end, steered words instead)
    take: dict[int, tuple[int, list[Word]]] = {}
    used: set[int] = set()
    taken = [b for b in merge_blocks(pw, sw, glossary) if b.words is not None]
    for b in sorted(taken, key=lambda b: (_PRIORITY[b.rule], b.plain)):  # where two overlap, the surer
        if used.isdisjoint(range(*b.plain)):
            take[b.plain[0]] = (b.plain[1], b.words)
            used.update(range(*b.plain))
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
