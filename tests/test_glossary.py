"""Glossary: echoes dropped, the steered pass merged into the plain one, heard names aliased
at index time, and names heard as two glued words found by sound."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_index import make_transcript, word_start

from index import normalize
from index.search import search
from index.writer import add_transcript
from pipeline.asr.glossary_merge import drop_glossary_echoes, merge_glossary
from pipeline.transcript import Segment, Word

TERMS = ["Skolkovo", "Belarusian", "BelAZ", "Minsk", "Vist"]


def seg(start: float, text: str) -> Segment:
    """A segment whose words are 0.5 s apart from `start`."""
    words = [Word(w, start + 0.5 * i, start + 0.5 * i + 0.4) for i, w in enumerate(text.split())]
    return Segment(words[0].start, words[-1].end, text, words)


def texts(segments: list[Segment]) -> list[str]:
    return [s.text for s in segments]


# -- echoes ---------------------------------------------------------------


def test_a_bare_list_of_terms_is_an_echo():
    segs = [seg(0.0, "The full interview is on our channel."), seg(10.0, "Belarusian, BelAZ, Minsk, BelAZ")]
    assert texts(drop_glossary_echoes(segs, TERMS)) == ["The full interview is on our channel."]


def test_a_list_ending_a_segment_after_its_last_sentence_is_cut_off():
    (out,) = drop_glossary_echoes([seg(0.0, "Thank you both. Skolkovo, BelAZ.")], TERMS)
    assert out.text == "Thank you both." and [w.word for w in out.words] == ["Thank", "you", "both."]
    assert (out.start, out.end) == (0.0, 1.4)


def test_terms_in_speech_are_not_echoes():
    segs = [
        seg(0.0, "Cooperation with Skolkovo, BelAZ."),  # inside a sentence
        seg(10.0, "Skolkovo and BelAZ work together."),  # a list with a word between
        seg(20.0, "Minsk."),  # one term alone is an answer, not a list
    ]
    assert drop_glossary_echoes(segs, TERMS) == segs
    assert drop_glossary_echoes(segs, []) == segs


def test_multiword_terms_count_as_one_term_of_the_list():
    segs = [seg(0.0, "Goodbye."), seg(5.0, "Vist Mining, High Technologies Park.")]
    assert texts(drop_glossary_echoes(segs, ["Vist Mining", "High Technologies Park"])) == ["Goodbye."]


# -- merging the steered pass ---------------------------------------------------


def test_steered_names_replace_what_the_plain_pass_misheard():
    plain = [seg(0.0, "For example, with mining technology works together"),
             seg(3.5, "with melee metal and unmanned trucks.")]  # fmt: skip
    steered = [seg(0.0, "For example, Vist Mining technology works together with BelAZ on a unmanned trucks.")]
    out = merge_glossary(plain, steered, TERMS)
    assert texts(out) == ["For example, Vist mining technology works together", "with BelAZ on a unmanned trucks."]
    assert out[0].words[2].start == steered[0].words[2].start  # the steered word keeps its time


def test_a_steered_word_pulled_to_within_a_letter_or_two_of_a_term_is_the_term():
    # Told about "Dravenholt", the model heard "Travelholt" as "Dravenhold": not the term, but nearer.
    plain = [seg(0.0, "Our guest runs Travelholt, a small firm.")]
    steered = [seg(0.0, "Our guest runs Dravenhold, a small firm.")]
    (out,) = merge_glossary(plain, steered, ["Dravenholt"])
    assert out.text == "Our guest runs Dravenholt, a small firm."
    assert out.words[3].start == steered[0].words[3].start
    # As near in both passes, but changed by steering: the term, misspelled twice.
    (out,) = merge_glossary([seg(0.0, "Our guest runs Dravenholte, a small firm.")], steered, ["Dravenholt"])
    assert out.text == "Our guest runs Dravenholt, a small firm."
    # Not when the plain word is nearer, nor when the steered word is far off.
    nearer = [seg(0.0, "Our guest runs Dravenholte, a small firm.")]
    assert merge_glossary(nearer, [seg(0.0, "Our guest runs Dravenhald, a small firm.")], ["Dravenholt"]) == nearer
    far = [seg(0.0, "Our guest runs Drovenhall, a small firm.")]
    assert merge_glossary(plain, far, ["Dravenholt"]) == plain
    common = [seg(0.0, "Our guest runs boats, a small firm.")]
    assert merge_glossary(common, [seg(0.0, "Our guest runs boat, a small firm.")], ["Boatwright"]) == common


def test_a_glossary_term_the_plain_pass_heard_is_never_replaced():
    plain = [seg(0.0, "Alexander, Belarusian media reported that Skilkovo residents approached Belarusian companies")]
    steered = [seg(0.0, "Alexander, BelAZ media reported that Skolkovo residents approached BelAZ company")]
    (out,) = merge_glossary(plain, steered, TERMS)
    assert out.text == "Alexander, Belarusian media reported that Skolkovo residents approached Belarusian companies"


def test_words_only_the_steered_pass_has_are_not_taken():
    plain = [seg(0.0, "The full interview is available on our channel.")]
    steered = [seg(0.0, "The full interview is available on our channel."), seg(5.0, "Belarusian, BelAZ, Minsk")]
    assert merge_glossary(plain, steered, TERMS) == plain


def test_long_disagreements_keep_the_plain_words():
    plain = [seg(0.0, "we went to the old harbour market near the bridge yesterday")]
    steered = [seg(0.0, "we went to Minsk and then to BelAZ and the factory yesterday")]
    assert merge_glossary(plain, steered, TERMS) == plain


def test_a_block_spanning_two_segments_stays_in_the_first():
    plain = [seg(0.0, "A few months ago we tried to nineskill"), seg(4.0, "Corvo. Our colleagues helped.")]
    steered = [seg(0.0, "A few months ago we tried to join Skolkovo. Our colleagues helped.")]
    out = merge_glossary(plain, steered, TERMS)
    assert texts(out) == ["A few months ago we tried to join Skolkovo.", "Our colleagues helped."]
    assert out[1].start == plain[1].words[1].start


def sure(segments: list[Segment], probability: float) -> list[Segment]:
    for s in segments:
        for w in s.words:
            w.probability = probability
    return segments


def test_a_long_name_written_across_split_words_is_the_term():
    # An invented name the model has never seen: steered, it comes out in two pieces, one letter off.
    plain = sure([seg(0.0, "Our guide was Mister Roth mass keel, who farms here.")], 0.6)  # misheard, unsure
    steered = [seg(0.0, "Our guide was Mister Vroth maskiel, who farms here.")]
    (out,) = merge_glossary(plain, steered, ["Vrothmaskiell"])
    assert out.text == "Our guide was Mister Vrothmaskiell, who farms here."
    name = out.words[4]
    assert (name.start, name.end) == (steered[0].words[4].start, steered[0].words[5].end)
    # Written whole, and split exactly as the term: the same.
    (out,) = merge_glossary(
        plain, [seg(0.0, "Our guide was Mister Vroth maskiell, who farms here.")], ["Vrothmaskiell"]
    )
    assert out.text == "Our guide was Mister Vrothmaskiell, who farms here."


def test_a_name_steering_moved_far_toward_the_term_is_the_term():
    # Half the letters off, but steering moved it from nothing like the term to halfway there.
    plain = sure([seg(0.0, "I met the grower Sarah Kwin Drugal today.")], 0.5)  # misheard, unsure
    steered = [seg(0.0, "I met the grower Sarah Skodrubalsk today.")]
    (out,) = merge_glossary(plain, steered, ["Szczodrubalski"])
    assert out.text == "I met the grower Sarah Szczodrubalski today."
    # Not when the model was unsure of it (a badly decoded stretch writes term-like pieces)...
    unsure = sure([seg(0.0, "I met the grower Sarah Skodrubalsk today.")], 0.05)
    assert (
        merge_glossary([seg(0.0, "I met the grower Sarah Kwin Drugal today.")], unsure, ["Szczodrubalski"])[0].text
        == "I met the grower Sarah Kwin Drugal today."
    )
    # ...nor when steering barely moved it.
    plain = [seg(0.0, "I met the grower Sarah Askodrubeli today.")]
    assert merge_glossary(plain, steered, ["Szczodrubalski"]) == plain


def test_a_steered_spelling_taken_as_a_term_once_is_the_term_where_steering_moved_it_less():
    # The steered pass spells the unknown name alike twice; the plain pass was far from it the first
    # time (steering pulled it: taken) and nearer the second (pulled too little on its own).
    plain = sure([seg(0.0, "I met Sarah Kwin Drugal today."), seg(10.0, "Later Askodrubeli came back.")], 0.5)
    steered = [seg(0.0, "I met Sarah Skodrubalsk today."), seg(10.0, "Later Skodrubalsk came back.")]
    assert texts(merge_glossary(plain, steered, ["Szczodrubalski"])) == [
        "I met Sarah Szczodrubalski today.",
        "Later Szczodrubalski came back.",
    ]
    # Alone, the second is not taken; nor is it where the first was written otherwise.
    assert merge_glossary(plain[1:], steered[1:], ["Szczodrubalski"]) == plain[1:]
    other = [seg(0.0, "I met Sarah Skodrubalski today."), steered[1]]
    assert texts(merge_glossary(plain, other, ["Szczodrubalski"]))[1] == "Later Askodrubeli came back."


def test_a_name_both_passes_wrote_as_its_sound_in_english_spelling_is_the_term():
    # A Welsh "ll" heard as "sh": both passes far from the term's letters (steering moved them too
    # little to count, or not nearer at all), but each one sound off its key read as Welsh (SHANGORWEN).
    plain = sure([seg(0.0, "We drove to Shanklorin, then home.")], 0.6)
    for heard in ("Shan Gore in,", "Shimon Gore in,"):
        steered = sure([seg(0.0, f"We drove to {heard} then home.")], 0.6)
        (out,) = merge_glossary(plain, steered, ["Llangorwen"])
        assert out.text == "We drove to Llangorwen, then home.", heard
    # Not where the plain pass did not write it as a name...
    lower = sure([seg(0.0, "We drove to shanklorin, then home.")], 0.6)
    assert merge_glossary(lower, steered, ["Llangorwen"]) == lower
    # ...nor where what it heard sounds like something else.
    other = sure([seg(0.0, "We drove to Sandringham, then home.")], 0.6)
    assert merge_glossary(other, steered, ["Llangorwen"]) == other


def test_a_word_both_passes_heard_is_not_joined_into_a_term_only_pulled_toward():
    # "we" is heard alike by both passes; only the next word changed. Their letters together are half
    # the term off: steering did not pull "we", so "we vennet" is not the term.
    steered = sure([seg(0.0, "It is true, we vennet go there.")], 0.6)
    plain = sure([seg(0.0, "It is true, we seldom go there.")], 0.6)
    assert merge_glossary(plain, steered, ["Trevennick"]) == plain
    # Where steering changed both words, the same letters are a name pulled toward the term.
    plain = sure([seg(0.0, "It is true, he seldom go there.")], 0.6)
    assert merge_glossary(plain, steered, ["Trevennick"])[0].text == "It is true, Trevennick go there."


def test_a_term_steering_forced_where_nothing_like_it_was_said_is_not_inserted():
    plain = [seg(0.0, "We planted the rows of young trees by the river last spring before the rain came.")]
    # A long disagreement: the term lands on words that neither sound nor look like it.
    steered = [seg(0.0, "We planted Vrothmaskiell of the trees at a river, and the last spring before rain came.")]
    assert merge_glossary(plain, steered, ["Vrothmaskiell"]) == plain
    # Aligned, but written with (almost) no probability: hotwords forced it.
    steered = sure(
        [seg(0.0, "We planted the rows of Vrothmaskiell by the river last spring before the rain came.")], 0.9
    )
    steered[0].words[5].probability = 0.001
    assert merge_glossary(plain, steered, ["Vrothmaskiell"]) == plain
    # The same term with the model's usual confidence is taken (the other guards let it through).
    steered[0].words[5].probability = 0.3
    assert "Vrothmaskiell" in merge_glossary(plain, steered, ["Vrothmaskiell"])[0].text


def test_in_a_long_disagreement_only_the_words_heard_as_the_term_are_replaced():
    plain = [seg(0.0, "a miller named Bram a Kellow rim and sold it to the market town")]
    steered = [seg(0.0, "a miller named so a bold in a few Kellorim sold it to the market town")]
    # The steered words squeezed into the time of the plain ones: "Kellorim" over "Kellow rim".
    for w, t in zip(steered[0].words[3:10], [1.5, 1.7, 1.9, 2.1, 2.3, 2.4, 2.6], strict=True):
        w.start, w.end = t, t + 0.15
    steered[0].words[9].end = 3.3
    (out,) = merge_glossary(plain, steered, ["Kellorim"])
    assert out.text == "a miller named Bram a Kellorim and sold it to the market town"


def test_a_name_the_plain_pass_wrote_alike_twice_is_the_term_both_times():
    plain = [seg(0.0, "We met friends from Danselow. The soil is dry."),
             seg(10.0, "In Danselow, a grower planted old trees. Red field lay there.")]  # fmt: skip
    steered = [seg(0.0, "We met friends from Tanzellow. The soil is dry."),
               seg(10.0, "In dun selo, a grower planted old trees. Redwall field lay there.")]  # fmt: skip
    out = merge_glossary(plain, steered, ["Tanzellow", "Redfeld"])
    assert texts(out) == ["We met friends from Tanzellow. The soil is dry.",
                          "In Tanzellow, a grower planted old trees. Red field lay there."]  # fmt: skip


def test_where_two_terms_claim_the_same_words_the_one_written_exactly_wins():
    plain = [seg(0.0, "thank you Tamsin vorrel and you both")]
    steered = [seg(0.0, "thank you pan tilling Vorrelby and you both")]
    for w in steered[0].words[2:4]:
        w.probability = 0.2  # sure enough to be a candidate
    for w, t in zip(steered[0].words[2:5], [1.0, 1.3, 1.5], strict=True):
        w.start, w.end = t, t + 0.3
    (out,) = merge_glossary(plain, steered, ["Vorrelby", "Pantillin"])
    assert out.text == "thank you Tamsin Vorrelby and you both"


def test_a_word_said_clearly_is_not_stretched_into_a_term_containing_it():
    plain = sure([seg(0.0, "Did the morrow fair sell out?")], 0.95)
    steered = sure([seg(0.0, "Did Dunmorrow fair sell out?")], 0.6)
    assert merge_glossary(plain, steered, ["Dunmorrow"]) == plain
    # Heard unsure, or heard with the rest of the term: the term.
    plain[0].words[2].probability = 0.5
    assert merge_glossary(plain, steered, ["Dunmorrow"])[0].text == "Did Dunmorrow fair sell out?"
    plain = sure([seg(0.0, "Did done morrow fair sell out?")], 0.95)
    assert merge_glossary(plain, steered, ["Dunmorrow"])[0].text == "Did Dunmorrow fair sell out?"


def test_a_common_word_once_misheard_for_a_name_is_not_that_name_everywhere():
    plain = [seg(0.0, "The red field co-op buys apples."), seg(10.0, "The river has red field in spring.")]
    steered = [seg(0.0, "The Redfeld co-op buys apples."), seg(10.0, "The river has red field in spring.")]
    out = merge_glossary(plain, steered, ["Redfeld"])
    assert texts(out) == ["The Redfeld co-op buys apples.", "The river has red field in spring."]


def test_nothing_to_merge_without_a_glossary():
    plain, steered = [seg(0.0, "with mining")], [seg(0.0, "Vist Mining")]
    assert merge_glossary(plain, steered, []) is plain


# -- aliasing at index time -------------------------------------------------------


def test_a_capitalised_word_sounding_like_a_term_is_indexed_as_the_term(tmp_path):
    d = tmp_path / "index"
    add_transcript(d, make_transcript("a", [
        (0.0, "SPEAKER_1", "Residents of Skilkovo approached Melarussian companies."),
    ], glossary=TERMS))  # fmt: skip
    for name, at in (("Skolkovo", 2), ("Belarusian", 4)):
        (hit,) = search(d, name, exact=True).hits
        assert (hit.match, hit.start) == ("exact", word_start(0.0, at)), name
    (hit,) = search(d, "Skolkovo").hits
    assert hit.text == "Residents of Skilkovo approached Melarussian companies."  # kept as heard
    assert search(d, "Skilkovo").hits[0].match == "exact"  # and findable as heard


def test_without_the_glossary_the_same_words_are_only_sound_alikes(tmp_path):
    d = tmp_path / "index"
    add_transcript(d, make_transcript("a", [(0.0, "SPEAKER_1", "Residents of Skilkovo approached us.")]))
    assert search(d, "Skolkovo", exact=True).hits == []
    assert [h.match for h in search(d, "Skolkovo").hits] == ["phonetic"]


COMMON_TEXT = [
    "We visit the vast park of the mining companies every year.",  # visit/vast ~ Vist, mining ~ Minsk
    "Visit our school and cover the market, the mink farm and the belts.",
    "Residents want cooperation on projects in technology and education.",
    "International partners, Belarus and Russia, visited Bellarus.",  # Belarus is not Belarusian
]


@pytest.fixture(scope="module")
def common_ix(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("common") / "index"
    add_transcript(d, make_transcript("c", [(10.0 * i, "SPEAKER_1", t) for i, t in enumerate(COMMON_TEXT)],
                                      glossary=TERMS + ["Kittiwake", "Vellacourt"]))  # fmt: skip
    return d


@pytest.mark.parametrize("name", TERMS + ["Kittiwake", "Vellacourt"])
def test_common_words_never_become_glossary_terms(common_ix, name):
    assert search(common_ix, name, exact=True).hits == []


def test_aliases_are_only_for_long_terms_and_need_sound_and_spelling():
    g = normalize.Glossary(TERMS + ["Vellacourt"])
    assert g.sounds_like("skilkovo") == "skolkovo"
    assert g.sounds_like("melarussian") == "belarusian"
    assert g.sounds_like("bellacourt") == "vellacourt"
    assert g.sounds_like("skolkovo") is None  # heard right: nothing to add
    for word in ("visit", "vast", "mink", "mining", "belarus", "school", "melacort", "velocity", "also", "kilcovo"):
        assert g.sounds_like(word) is None, word
    assert not normalize.Glossary(["Vist"]).sounds  # too short to be matched by sound


def test_only_capitalised_words_are_aliased():
    g = normalize.Glossary(["Skolkovo"])
    assert g.extra_tokens(["of", "skilkovo"], [False, True]) == [(1, "skolkovo")]
    assert g.extra_tokens(["of", "skilkovo"], [False, False]) == []
    assert normalize.prepare(["of", "skilkovo"], g) == normalize.prepare(["of", "skilkovo"])
    assert normalize.prepare(["of", "Skilkovo."], g) != normalize.prepare(["of", "Skilkovo."])


# -- no glossary: a name heard as two words glued to the word before -----------------


def test_name_heard_as_two_words_glued_to_the_word_before(tmp_path):
    d = tmp_path / "index"
    add_transcript(d, make_transcript("s", [
        (0.0, "SPEAKER_1", "A few months ago we tried to nineskill Corvo."),
        (10.0, "SPEAKER_1", "The school covered it."),  # SKL then KFRT: two edits from KF
        (20.0, "SPEAKER_1", "Joining the park in Minsk is easier."),
    ]))  # fmt: skip
    (hit,) = search(d, "Skolkovo").hits
    assert (hit.match, hit.start) == ("phonetic", word_start(0.0, 7))
    assert hit.highlighted() == "A few months ago we tried to **nineskill Corvo**."
    assert search(d, "Skolkovo", exact=True).hits == []
    # one key edit in all, as for single words (Kilcovo KLKF ~ SKLKF): "school cover" sounds alike too
    add_transcript(d, make_transcript("t", [(0.0, "SPEAKER_1", "The school cover was red.")]))
    assert sorted((h.video, h.match) for h in search(d, "Skolkovo").hits) == [("s", "phonetic"), ("t", "phonetic")]


def test_glued_split_is_only_for_long_sound_keys(tmp_path):
    d = tmp_path / "index"
    add_transcript(d, make_transcript("s", [(0.0, "SPEAKER_1", "Our marketplace rent went up.")]))
    # "market" (MRKT) is too short a key to be looked for as a glued pair
    assert [h.match for h in search(d, "market", limit=None).hits] == []
