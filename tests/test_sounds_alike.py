"""Sounds-alike search for names the recognizer never saw (issue 10).

Real whoosh indexes built from transcripts made in code (word i of a segment
starting at S starts at S + 0.5 i, see test_index.make_transcript). The names
are made up; each is heard the way a recognizer hears a name it does not know:
split into words, a sound shorter or longer, a first name mangled. Ordinary
sentences check that common words gain no sounds-alike hits from runs of words.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_index import make_transcript, word_start

from index import phonetic
from index.search import search
from index.writer import add_transcript

HEARD = [
    (0.0, "SPEAKER_1", "We sell to the plant water cooperative."),  # Brantwater heard as two words, one sound off
    (10.0, "SPEAKER_2", "Our trials ran at Ostrovan last spring."),  # Ostrakovan heard a sound shorter
    (20.0, "SPEAKER_1", "A drink with Tarrow dinner and friends."),  # Tarrowdeen heard as two words, a sound more
    (30.0, "SPEAKER_2", "Thank you, Marla Fenwhistle, for coming."),  # Orla Fenwhistle, first name mangled
    (40.0, "SPEAKER_1", "The soil scientist Drav on Etty joined us."),  # Dravonetti heard as three words
    (50.0, "SPEAKER_2", "Ask the grower Hal very Nowski today."),  # Halbrzynowski, its middle garbled
    (60.0, "SPEAKER_1", "I visited Okwen last autumn."),  # Okuweran (AKRN) heard a sound shorter (AKN)
    (70.0, "SPEAKER_2", "Akun came too, and Ikwen."),  # AKN too, but spelled with another start
]
ORDINARY = [
    "our colleagues have a presence in the world",
    "a few months ago we left the mine",
    "they all run to the old mill",
    "he was already older than me",
    "a plant in the united states",
    "the black water ran under the bridge",
    "ten rows of apple trees",
]


@pytest.fixture(scope="module")
def ix(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("sounds") / "index"
    add_transcript(d, make_transcript("names", HEARD))
    add_transcript(d, make_transcript("plain", [(i * 10.0, "SPEAKER_1", s) for i, s in enumerate(ORDINARY)]))
    return d


def test_a_name_heard_as_two_words_one_sound_off(ix):
    (hit,) = search(ix, "Brantwater", video="names").hits
    assert (hit.match, hit.start) == ("phonetic", word_start(0.0, 4))
    assert hit.highlighted() == "We sell to the **plant water** cooperative."  # the transcript's own spelling


def test_a_name_heard_as_three_words(ix):
    (hit,) = search(ix, "Dravonetti").hits
    assert (hit.match, hit.start) == ("phonetic", word_start(40.0, 3))
    assert hit.highlighted() == "The soil scientist **Drav on Etty** joined us."


def test_a_name_heard_a_sound_shorter(ix):
    (hit,) = search(ix, "Ostrakovan").hits
    assert (hit.match, hit.start, hit.matched_text) == ("phonetic", word_start(10.0, 4), "Ostrovan")


def test_a_short_name_heard_a_sound_shorter_keeps_its_spelled_start(ix):
    """A 4-sound key losing a sound reaches many words ("iron" for any A-R-N name):
    only a heard word spelled with the name's first two letters counts."""
    (hit,) = search(ix, "Okuweran").hits
    assert (hit.match, hit.start, hit.matched_text) == ("phonetic", word_start(60.0, 2), "Okwen")


def test_a_word_the_archive_heard_gets_no_loose_matches(tmp_path):
    """The same one-sound-off run is a hit for a word never heard, not for an ordinary one."""
    d = tmp_path / "index"
    add_transcript(d, make_transcript("v", [(0.0, "SPEAKER_1", "We sell to the plant water cooperative.")]))
    assert [h.matched_text for h in search(d, "Brantwater").hits] == ["plant water"]
    add_transcript(d, make_transcript("w", [(0.0, "SPEAKER_1", "Brantwater is the name we heard.")]))
    assert [(h.video, h.match) for h in search(d, "Brantwater").hits] == [("w", "exact")]


def test_a_short_name_heard_with_a_sound_more_across_two_words(ix):
    (hit,) = search(ix, "Tarrowdeen").hits
    assert (hit.match, hit.start, hit.matched_text) == ("phonetic", word_start(20.0, 3), "Tarrow dinner")


def test_a_long_name_heard_with_its_middle_garbled(ix):
    """HLPRSNSK heard HLFRNSK: two edits, but the start (HL) and end (NSK) are intact."""
    (hit,) = search(ix, "Halbrzynowski").hits
    assert (hit.match, hit.start, hit.matched_text) == ("phonetic", word_start(50.0, 3), "Hal very Nowski")
    assert search(ix, "Halbrzynowski", exact=True).hits == []


def test_a_first_and_last_name_with_the_first_mangled(ix):
    for query in ("Orla Fenwhistle", '"Orla Fenwhistle"'):
        (hit,) = search(ix, query).hits
        assert (hit.match, hit.start) == ("phonetic", word_start(30.0, 2)), query
        assert hit.highlighted() == "Thank you, **Marla Fenwhistle**, for coming."
    # the surname alone is found exactly; the first name alone sounds like nothing here
    assert [h.match for h in search(ix, "Fenwhistle").hits] == ["exact"]
    assert search(ix, "Orla").hits == []


@pytest.mark.parametrize("word", ["already", "world", "older", "months", "water", "colleagues", "states", "apple"])
def test_common_words_gain_no_sounds_alike_hits_from_runs_of_words(ix, word):
    """ "all run to" keys one sound off "already", "colleagues have" two off a name like
    "Skolkovo": runs made mostly of common words, and keys two edits apart, never match."""
    hits = search(ix, word, limit=None).hits
    assert hits and all(h.match in ("exact", "stem") for h in hits), [(h.match, h.matched_text) for h in hits]


def test_run_keys_leave_out_common_words_at_the_ends_and_words_adding_no_sound():
    toks = "they met the kelvin brick we".split()
    runs = {(toks[a], toks[b], key) for a, b, key in phonetic.gram_keys(toks)}
    assert ("kelvin", "brick", "KLFNPRK") in runs  # "the kelvin brick" and "kelvin brick we": at kelvin..brick
    assert all(a not in phonetic.COMMON_WORDS and b not in phonetic.COMMON_WORDS for a, b, _ in runs)
    assert not list(phonetic.gram_keys("in the".split()))


def test_one_edit_lookups_are_exactly_the_keys_one_sound_off():
    shorter, changed, longer = phonetic.edits("SKLKF")
    assert "KLKSF" not in shorter | changed | longer  # two edits
    assert ("SKLK" in shorter, "SKLKT" in changed, "SKLKFT" in longer) == (True, True, True)
    assert all(len(k) == 4 for k in shorter) and all(len(k) == 6 for k in longer)


def test_a_long_name_heard_garbled_with_a_syllable_added_at_its_end(tmp_path):
    """TMPRLSK heard TMNFLSKT: the middle garbled and a sound added at the end; without that
    last sound the start (TM) and end (LSK) are the name's."""
    d = tmp_path / "index"
    add_transcript(d, make_transcript("v", [(0.0, "SPEAKER_1", "Our buyer Tamnavelskit came by.")]))
    (hit,) = search(d, "Dombrowalski").hits
    assert (hit.match, hit.start, hit.matched_text) == ("phonetic", word_start(0.0, 2), "Tamnavelskit")
    # stored with and without the last sound; looked up (with a length) only as the key is
    assert phonetic.ends("TMNFLSKT") == {"8~TM~SKT", "7~TM~LSK"}
    assert phonetic.ends("TMNFLSKT", 8) == {"8~TM~SKT"}


def test_a_long_name_heard_garbled_with_its_first_consonant_lost(tmp_path):
    """TMPRLSK heard AMRFLSK: the first consonant heard as a vowel (A), the middle garbled."""
    d = tmp_path / "index"
    add_transcript(d, make_transcript("v", [(0.0, "SPEAKER_1", "Our buyer Amravelski came by.")]))
    (hit,) = search(d, "Dombrowalski").hits
    assert (hit.match, hit.start, hit.matched_text) == ("phonetic", word_start(0.0, 2), "Amravelski")
    assert search(d, "Dombrowalski", exact=True).hits == []


def test_a_name_heard_as_words_with_l_for_r_and_a_sound_lost(tmp_path):
    """PRSTLMR heard LSTLMR ("listle moor"): B lost and R heard as L. Among runs of words only."""
    d = tmp_path / "index"
    add_transcript(d, make_transcript("v", [(0.0, "SPEAKER_1", "We walked on listle moor all day.")]))
    add_transcript(d, make_transcript("w", [(0.0, "SPEAKER_1", "We walked on Listlemoor all day.")]))
    (hit,) = search(d, "Bristlemoor").hits
    assert (hit.video, hit.match, hit.start, hit.matched_text) == ("v", "phonetic", word_start(0.0, 3), "listle moor")
    assert "LSTLMR" in phonetic.liquid_edits("PRSTLMR") and "LSTLMR" not in set().union(*phonetic.edits("PRSTLMR"))


def test_a_name_heard_as_common_words_is_found_by_its_own_key_only(tmp_path):
    """ALRN heard "ill are in", a run mostly of common words: found by the name's key itself,
    never by a key a sound off (that is how "all run to" would sound like "already")."""
    d = tmp_path / "index"
    add_transcript(d, make_transcript("v", [(0.0, "SPEAKER_1", "I visited ill are in last autumn.")]))
    (hit,) = search(d, "Elarin").hits
    assert (hit.match, hit.start) == ("phonetic", word_start(0.0, 2))
    assert search(d, "Elarint").hits == []  # ALRNT, a sound more
    assert ("ALRN" + phonetic.COMMON_RUN_MARK) in {k for _, _, k in phonetic.gram_keys("ill are in".split())}
