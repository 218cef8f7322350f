"""Names typed in their own language's spelling, heard and written by the recognizer in English's (issue 10).

Double Metaphone reads every word as English; a Welsh "ll" or a Polish "rz" is
another sound (phonetic.readings). The names are made up; each is written the
way an English recognizer writes the sound of it. Real whoosh indexes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_index import make_transcript, word_start

from index import phonetic
from index.search import search
from index.writer import add_transcript

HEARD = [
    (0.0, "SPEAKER_1", "The farm lies near Shanklorin in the hills."),  # Llangorwen: Welsh ll heard "sh"
    (10.0, "SPEAKER_2", "We bought the press from Muzhanek last year."),  # Mrzanek: Polish rz heard "zh"
    (20.0, "SPEAKER_1", "Then Shell Strom bought the barn."),  # Kjellstrom: Swedish kj heard "sh"
]
ORDINARY = [
    "the village will sell all the apples at the mill",
    "a lorry of cider went down the hill",
    "she shall not lose the small hall",
]


@pytest.fixture(scope="module")
def ix(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("readings") / "index"
    add_transcript(d, make_transcript("names", HEARD))
    add_transcript(d, make_transcript("plain", [(i * 10.0, "SPEAKER_1", s) for i, s in enumerate(ORDINARY)]))
    return d


def test_a_welsh_ll_is_heard_as_sh(ix):
    """LNKRN (English reading) is two sounds from XNKLRN; the Welsh reading XNKRN is one."""
    assert "XNKRN" in phonetic.keys("llangorwen")
    (hit,) = search(ix, "Llangorwen").hits
    assert (hit.match, hit.start, hit.matched_text) == ("phonetic", word_start(0.0, 4), "Shanklorin")
    assert search(ix, "Llangorwen", exact=True).hits == []


def test_a_polish_rz_is_heard_as_zh(ix):
    """MRSNK (English reading) is two sounds from MJNK; the Polish reading is MJNK."""
    (hit,) = search(ix, "Mrzanek").hits
    assert (hit.match, hit.start, hit.matched_text) == ("phonetic", word_start(10.0, 5), "Muzhanek")


def test_a_swedish_kj_is_heard_as_sh(ix):
    (hit,) = search(ix, "Kjellström").hits
    assert (hit.match, hit.start, hit.matched_text) == ("phonetic", word_start(20.0, 1), "Shell Strom")


@pytest.mark.parametrize(
    ("name", "heard"),
    [("Llorenza", "shorenza"), ("Skjoldan", "shoaldan"), ("Xiaomeng", "shiaomeng"), ("Qintara", "chintara")],
)
def test_spellings_of_other_languages_read_as_english_writes_their_sound(name, heard):
    assert set(phonetic.keys(heard)) <= set(phonetic.keys(name.lower()))


def test_english_words_have_no_other_reading():
    words = {w for s in ORDINARY + [t for _, _, t in HEARD] for w in s.lower().replace(".", "").split()}
    assert all(phonetic.readings(w) == [w] for w in words)


@pytest.mark.parametrize("word", ["village", "sell", "small", "lorry", "cider"])
def test_ordinary_words_with_ll_or_r_gain_no_sounds_alike_hits(ix, word):
    hits = search(ix, word, limit=None).hits
    assert hits and all(h.match in ("exact", "stem") for h in hits), [(h.match, h.matched_text) for h in hits]


def test_letters_that_fold_to_no_ascii_letter_still_get_keys():
    """fold() keeps "ł" (it has no base letter to decompose into): keyed as "l", and read as Polish "w"."""
    assert phonetic.keys("łukasz")
    assert set(phonetic.keys("lukasz")) < set(phonetic.keys("łukasz"))


def test_no_other_reading_gives_a_key_starting_with_a_vowel():
    """Double Metaphone writes any initial vowel (and y, w) as A: a key so started is heard in runs
    like "on filling" ("ANFLN"). The word's own key may; its readings' keys may not."""
    assert "FKX" in phonetic.keys("łukasz") and not any(k.startswith("A") for k in phonetic.keys("łukasz"))
    assert phonetic.keys("oakland")[0].startswith("A")
