"""The whoosh schema: one document per transcript segment.

Bump SCHEMA_VERSION whenever a field, an analyzer or the tokenization in
`normalize` changes: an index built the old way would silently mis-match, so
`store` refuses to use it and `reindex` (writer.rebuild) builds a new one.
"""

from __future__ import annotations

from whoosh.analysis import IDAnalyzer
from whoosh.fields import ID, STORED, TEXT, Schema

from .analysis import PreparedAnalyzer

SCHEMA_VERSION = 10  # 2: glossary aliases for names heard misspelled; 3: no alias over a term and its neighbour
# 4: keys of 2-3 words joined (grams) and one-sound-shorter keys (near), for names heard split or a sound off;
# 5: long keys' start and end (near), for long names heard with the middle garbled;
# 6: near holds no shorter forms (one-edit keys are looked up at search time), run keys of 4-9 sounds;
# 7: sound keys also of a word's readings in other languages' spelling (phonetic.readings);
# 8: long keys' start and end also stored without their last sound (a syllable added at the end);
# 9: runs made mostly of common words keyed too, marked (found by a name's own key only);
# 10: readings of Swedish/Norwegian sj/kj/skj/tj, pinyin x and q; no reading key starting with a vowel

VIDEO = "video"
PATH = "path"
# Segment times: integer milliseconds, stored only. Float NUMERIC fields made
# the index 4x bigger; even int NUMERIC added ~30% (every distinct value
# indexes 8 trie terms) for range queries nothing asks for.
START = "start"
END = "end"
SPEAKER = "speaker"  # display name, indexed lowercased
SPEAKER_LABEL = "speaker_label"  # "SPEAKER_1", indexed lowercased
TEXT_FIELD = "text"  # stemmed; stores the segment text as heard
EXACT = "exact"  # folded surface words, not stemmed
SOUND = "sound"  # Double Metaphone keys
GRAMS = "grams"  # keys of runs of 2-3 words joined, at each word of the run (phonetic.gram_keys)
NEAR = "near"  # every sound and grams key with one sound left out (phonetic.shorter)
WORDS = "words"  # stored only: the words and their times, see writer.pack_words


def make_schema() -> Schema:
    def text(kind: str, stored: bool = False) -> TEXT:
        # Several tokens of one query word ("U.S", "tax-relief") are a phrase.
        return TEXT(analyzer=PreparedAnalyzer(kind), phrase=True, stored=stored, multitoken_query="phrase")

    return Schema(
        video=ID(stored=True),
        path=STORED(),
        start=STORED(),
        end=STORED(),
        speaker=ID(stored=True, analyzer=IDAnalyzer(lowercase=True)),
        speaker_label=ID(stored=True, analyzer=IDAnalyzer(lowercase=True)),
        text=text("stem", stored=True),
        exact=text("exact"),
        sound=text("sound"),
        grams=text("gram"),
        near=text("near"),
        words=STORED(),
    )
