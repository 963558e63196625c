"""Rule-based fact extraction, through the public extractor only."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentic_memory.domain.fact_lexicon import singular, topic_of
from agentic_memory.domain.fact_text import as_caller
from agentic_memory.domain.facts import FactExtractor, RuleFactExtractor
from agentic_memory.domain.models import Conversation, DataPoint, Evaluation, Fact, Turn

EXTRACTOR: FactExtractor = RuleFactExtractor()


def call(*turns: tuple[str, str], summary: str = "", evaluations: tuple[Evaluation, ...] = (),
         data: tuple[DataPoint, ...] = ()) -> Conversation:
    return Conversation(
        conversation_id="conv_1", agent_id="agent_1", caller_id="+14155550100",
        started_at=datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
        turns=tuple(Turn(index=i, role="user" if role == "user" else "agent", text=text)
                    for i, (role, text) in enumerate(turns)),
        summary=summary, evaluations=evaluations, data=data)


def said(*texts: str) -> list[Fact]:
    return EXTRACTOR.extract(call(*(("user", t) for t in texts)))


def only(text: str, category: str) -> Fact:
    facts = [f for f in said(text) if f.category == category]
    assert len(facts) == 1, facts
    return facts[0]


@pytest.mark.parametrize(("sentence", "text", "slot"), [
    ("I prefer oat milk in my latte.", "Caller prefers oat milk in their latte.", "preference:milk"),
    ("I'd prefer an aisle seat if possible.", "Caller would prefer an aisle seat.", "preference:seat"),
    ("Yeah, I always get a window seat.", "Caller always gets a window seat.", "preference:seat"),
    ("I usually have oat milk, thanks.", "Caller usually has oat milk.", "preference:milk"),
    ("I prefer morning appointments.", "Caller prefers morning appointments.", "preference:appointment time"),
    ("Honestly I prefer afternoons.", "Caller prefers afternoons.", "preference:appointment time"),
    ("I'm allergic to peanuts.", "Caller is allergic to peanuts.", "preference:allergy:peanut"),
    ("I'm vegetarian, by the way.", "Caller is vegetarian.", "preference:diet"),
    ("I don't like cilantro.", "Caller doesn't like cilantro.", "preference:cilantro"),
    ("I hate window seats.", "Caller hates window seats.", "preference:seat"),
    ("I love the almond croissants.", "Caller loves the almond croissants.", "preference:croissant"),
    ("I like to sit by the window.", "Caller likes to sit by the window.", "preference:seat"),
    ("I usually pay by card.", "Caller usually pays by card.", "preference:payment"),
    ("I'd rather have tea.", "Caller would rather have tea.", "preference:drink"),
    ("I prefer a quiet room on a high floor.", "Caller prefers a quiet room on a high floor.",
     "preference:room"),
    ("I'm not a big fan of the window seat.", "Caller is not a big fan of the window seat.",
     "preference:seat"),
    ("I prefer Spanish.", "Caller prefers Spanish.", "preference:language"),
    ("From now on, I'd like decaf.", "Caller would like decaf from now on.", "preference:drink"),
    ("Prefiero leche de avena.", "Caller prefers leche de avena.", "preference:milk"),
    ("Soy alérgica a los mariscos.", "Caller is allergic to los mariscos.", "preference:allergy:marisco"),
    ("Je préfère une place côté couloir.", "Caller prefers une place côté couloir.", "preference:seat"),
    ("Je suis végétarienne.", "Caller is végétarienne.", "preference:diet"),
    ("Ich bevorzuge einen Fensterplatz.", "Caller prefers einen Fensterplatz.", "preference:seat"),
    ("Ich trinke lieber Tee.", "Caller prefers Tee.", "preference:drink"),
    ("Ich möchte keine Hafermilch mehr.", "Caller no longer wants Hafermilch.", "preference:milk"),
])
def test_preferences_are_restated_in_the_third_person_with_a_topic_slot(
        sentence: str, text: str, slot: str) -> None:
    fact = only(sentence, "preference")
    assert (fact.text, fact.slot, fact.turn_index) == (text, slot, 0)


@pytest.mark.parametrize(("original", "change"), [
    ("I prefer oat milk in my latte.", "Can you switch me to almond milk instead of oat?"),
    ("I prefer oat milk in my latte.", "Actually, make it almond milk instead."),
    ("I prefer oat milk in my latte.", "Not oat milk anymore, please."),
    ("I always get an aisle seat.", "Make it a window seat instead."),
    ("I prefer morning appointments.", "Actually, switch me to afternoons."),
    ("Prefiero leche de avena.", "Cámbiame a leche de almendra."),
])
def test_a_change_of_preference_lands_in_the_same_slot_as_the_original(original: str, change: str) -> None:
    first, second = only(original, "preference"), only(change, "preference")
    assert first.slot == second.slot
    assert first.text != second.text


def test_oat_to_almond_change_keeps_the_callers_words() -> None:
    facts = said("I prefer oat milk in my latte.", "Actually, switch me to almond milk instead of oat.")
    assert [(f.text, f.slot, f.turn_index) for f in facts] == [
        ("Caller prefers oat milk in their latte.", "preference:milk", 0),
        ("Caller switched to almond milk instead of oat.", "preference:milk", 1),
    ]


@pytest.mark.parametrize(("sentence", "text", "slot"), [
    ("Call me back on my mobile.", "Caller wants to be called back on their mobile.", "contact:channel"),
    ("Email is best.", "Caller says email is best.", "contact:channel"),
    ("Just text me instead.", "Caller wants to be texted instead.", "contact:channel"),
    ("Please don't call before 10.", "Caller asks not to be called before 10.", "contact:time"),
    ("Please call me after 5pm.", "Caller wants to be called after 5pm.", "contact:time"),
    ("You can reach me at 555-201-3344.", "Caller can be reached at 555-201-3344.", "contact:channel"),
    ("I'd prefer to be called in the morning.", "Caller would prefer to be called in the morning.",
     "contact:time"),
    ("The best way to reach me is by email.", "The best way to reach the caller is by email.",
     "contact:channel"),
    ("I prefer email.", "Caller prefers email.", "contact:channel"),
    ("I prefer calls in the morning.", "Caller prefers calls in the morning.", "contact:time"),
    ("Prefiero que me llamen por la tarde, por favor.", "Caller prefers que me llamen por la tarde.",
     "contact:time"),
])
def test_contact_preferences(sentence: str, text: str, slot: str) -> None:
    fact = only(sentence, "contact")
    assert (fact.text, fact.slot) == (text, slot)


@pytest.mark.parametrize(("sentence", "text"), [
    ("I'm flying to Denver next Tuesday.", "Caller is flying to Denver next Tuesday (Tue 4 Mar 2025)."),
    ("My appointment is on the 14th.", "Caller's appointment is on the 14th."),
    ("Okay so I'll come in Friday at 3.", "Caller will come in Friday at 3."),
    ("I have a dentist appointment tomorrow at 9.", "Caller has a dentist appointment tomorrow (Sun 2 Mar 2025) at 9."),
    ("My name is Elizabeth and I'm calling about my appointment on Monday.",
     "Caller is calling about their appointment on Monday."),
])
def test_plans_stand_alone_without_a_slot(sentence: str, text: str) -> None:
    fact = only(sentence, "plan")
    assert (fact.text, fact.slot) == (text, None)


@pytest.mark.parametrize(("sentence", "text", "slot"), [
    ("I need to move my appointment to Thursday at 2pm.",
     "Caller asked to move their appointment to Thursday at 2pm.", "plan:appointment"),
    ("I'd like to change my reservation to the 20th.",
     "Caller asked to change their reservation to the 20th.", "plan:reservation"),
    ("My flight was moved to Sunday.", "Caller's flight was moved to Sunday.", "plan:flight"),
    ("Actually, call me Liz. I need to move Monday's appointment.",
     "Caller asked to move Monday's appointment.", "plan:appointment"),
])
def test_a_reschedule_gets_a_slot_so_it_supersedes(sentence: str, text: str, slot: str) -> None:
    fact = only(sentence, "plan")
    assert (fact.text, fact.slot) == (text, slot)


def test_several_plans_coexist() -> None:
    facts = said("I'm flying to Denver next Tuesday.", "I'll come in Friday at 3.")
    assert [f.slot for f in facts if f.category == "plan"] == [None, None]


@pytest.mark.parametrize(("sentence", "text", "slot"), [
    ("My order number is A-48213.", "Caller's order number is A-48213.", "identifier:order"),
    ("my order number is, uh, A-48213", "Caller's order number is A-48213.", "identifier:order"),
    ("Hi, I'm looking for my order A-48213.", "Caller's order number is A-48213.", "identifier:order"),
    ("It's about claim 77-1234.", "Caller's claim number is 77-1234.", "identifier:claim"),
    ("I'm in room 512.", "Caller's room number is 512.", "identifier:room"),
    ("My reference is ZX9-441.", "Caller's reference number is ZX9-441.", "identifier:reference"),
    ("The tracking number is 1Z999AA10123456784.", "Caller's tracking number is 1Z999AA10123456784.",
     "identifier:tracking"),
    ("My confirmation code is K7J2P.", "Caller's confirmation code is K7J2P.", "identifier:confirmation"),
    ("Reservation number R7-8890.", "Caller's reservation number is R7-8890.", "identifier:reservation"),
    ("Ticket 4521 please.", "Caller's ticket number is 4521.", "identifier:ticket"),
    ("My policy number is PX-2231-09.", "Caller's policy number is PX-2231-09.", "identifier:policy"),
    ("Mi número de pedido es A-48213.", "Caller's order number is A-48213.", "identifier:order"),
    ("Mi reserva es la XJ-991.", "Caller's booking number is XJ-991.", "identifier:booking"),
    ("Mon numéro de commande est 55123.", "Caller's order number is 55123.", "identifier:order"),
    ("Mon numéro de dossier, c'est 4411-B.", "Caller's case number is 4411-B.", "identifier:case"),
    ("Meine Bestellnummer ist 778812.", "Caller's order number is 778812.", "identifier:order"),
    ("Meine Kundennummer lautet K-55821.", "Caller's customer number is K-55821.", "identifier:customer"),
])
def test_identifiers_are_kept_exactly_as_said(sentence: str, text: str, slot: str) -> None:
    fact = only(sentence, "identifier")
    assert (fact.text, fact.slot) == (text, slot)


def test_two_identifiers_in_one_sentence() -> None:
    facts = said("My policy number is PX-2231-09 and my account number is 99812345.")
    assert [f.slot for f in facts] == ["identifier:policy", "identifier:account"]


@pytest.mark.parametrize("sentence", [
    "I'm calling about billing.", "I want to order 2 lattes.", "My booking is 3 nights.", "I like it.",
    "I love you guys.", "Do you like oat milk?", "I'd like to book a table for two.",
    "I don't want to cancel.",
    "I'll hold.", "I don't know.", "Call me Liz.", "I'm calling because my delivery is late.",
    "I prefer not to say.", "Don't worry about it.", "I'll text you later.", "Email me the receipt.",
    "I'm calling about my appointment.", "No, I'm calling for my wife Sarah, she booked the table.",
])
def test_small_talk_and_requests_yield_no_facts(sentence: str) -> None:
    assert said(sentence) == []


def test_agent_turns_are_never_mined() -> None:
    conversation = call(("agent", "Is this Maria? User prefers email. Your order number is A-48213."),
                        ("agent", "I prefer oat milk myself. I'm flying to Denver next Tuesday."),
                        ("user", "Okay."))
    assert EXTRACTOR.extract(conversation) == []


def test_analysis_summary_evaluations_and_data() -> None:
    conversation = call(
        ("user", "Hello."),
        summary="The caller asked about\nbilling. User prefers email.",
        evaluations=(Evaluation("issue_resolved", "success", "The agent fixed the invoice."),),
        data=(DataPoint("caller_name", "Stefan"), DataPoint("preferredContactTime", "mornings"),
              DataPoint("order_id", ""), DataPoint("email", "None")))
    assert [(f.category, f.slot, f.text) for f in EXTRACTOR.extract(conversation)] == [
        ("summary", None, "The caller asked about billing. User prefers email."),
        ("evaluation", None, "issue_resolved: success — The agent fixed the invoice."),
        ("data", "data:caller_name", "Caller name: Stefan"),
        ("data", "data:preferredContactTime", "Preferred contact time: mornings"),
    ]


def test_repeated_statements_are_emitted_once() -> None:
    facts = said("My order number is A-48213.", "Again, my order number is A-48213.",
                 "I prefer oat milk.", "i prefer OAT milk.")
    assert [f.text for f in facts] == ["Caller's order number is A-48213.", "Caller prefers oat milk."]


def test_facts_are_capped_and_free_of_control_characters() -> None:
    facts = said("I prefer oat\x00 milk\u200b in my latte " + "and lots of foam " * 30 + ".")
    assert facts
    assert all(len(f.text) <= 200 for f in facts)
    assert not any(unicodedata.category(ch)[0] == "C" for f in facts for ch in f.text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["user", "agent"]), st.text(max_size=300)), max_size=4),
       st.text(max_size=300))
def test_extract_never_raises_and_emits_clean_bounded_text(
        turns: list[tuple[str, str]], summary: str) -> None:
    facts = EXTRACTOR.extract(call(*turns, summary=summary, data=(DataPoint("note", summary),)))
    for fact in facts:
        assert fact.text.strip()
        assert len(fact.text) <= 1000
        assert fact.category == "summary" or len(fact.text) <= 200
        assert not any(unicodedata.category(ch)[0] == "C" for ch in fact.text)


@pytest.mark.parametrize(("phrase", "expected"), [
    ("I watch the news", "Caller watches the news."), ("I fix bikes", "Caller fixes bikes."),
    ("I go running", "Caller goes running."), ("I study law", "Caller studies law."),
    ("I play chess", "Caller plays chess."), ("I can swim", "Caller can swim."),
    ("I always buy a latte", "Caller always buys a latte."),
])
def test_first_person_phrases_are_conjugated_for_the_caller(phrase, expected):
    assert as_caller(phrase) == expected


@pytest.mark.parametrize(("word", "expected"), [
    ("berries", "berry"), ("boxes", "box"), ("churches", "church"), ("glasses", "glass"), ("cats", "cat"),
    ("bus", "bus"), ("tea", "tea"),
])
def test_topic_words_are_made_singular(word, expected):
    assert singular(word) == expected


@pytest.mark.parametrize("obj", ["", "the a", "..."])
def test_an_object_without_content_words_has_no_topic(obj):
    assert topic_of(obj) is None


def test_a_dropped_preference_keeps_what_replaced_it() -> None:
    facts = [f for f in said("I'm not vegetarian anymore, I've gone pescatarian.") if f.category == "preference"]
    assert [(f.text, f.slot) for f in facts] == [
        ("Caller no longer wants vegetarian; they've gone pescatarian.", "preference:diet")]


def test_a_dropped_value_carries_the_replacement_said_just_before() -> None:
    facts = [f for f in said("Actually, my new address is 41 Elm Court, apartment 2. Not Oak Street anymore.")
             if f.category == "preference"]
    assert len(facts) == 1
    assert "41 Elm Court" in facts[0].text
    assert "Oak Street" in facts[0].text


@pytest.mark.parametrize("sentence", [
    "Can my roommate do the demo instead of me?",  # who does it, asked: no preference
    "Is it okay if my son picks it up instead of me?",
    "She'll take the appointment instead of me.",  # someone else instead of the caller
    "Could my husband have the early slot instead of them?",
    "Can my wife get the window seat instead of the aisle?",  # a question about someone else
])
def test_someone_instead_of_the_caller_or_a_question_about_others_is_no_preference(sentence: str) -> None:
    assert not [f for f in said(sentence) if f.category == "preference"]


@pytest.mark.parametrize(("sentence", "text", "slot"), [
    ("I work days, so it has to be a weekday evening, after six.",
     "Caller says it has to be a weekday evening, after six.", "preference:appointment time"),
    ("the only time i can do now is saturday mornings", "Caller can only do saturday mornings now.",
     "preference:appointment time"),
    ("We can only come in on Thursdays now.", "Caller can only do on Thursdays now.",
     "preference:appointment time"),
    ("So schedule everything on Mondays from now on.", "Caller: schedule everything on Mondays from now on.",
     "preference:appointment time"),
    ("Going forward, book the cleanings on Friday afternoons.",
     "Caller: book the cleanings on Friday afternoons from now on.", "preference:appointment time"),
    ("It has to be paid by card.", "Caller says it has to be paid by card.", "preference:payment"),
    ("Needs to be a weekday morning, before we open.", "Caller says it has to be a weekday morning, before we open.",
     "preference:appointment time"),
    ("We're shut Fridays now, so book everything on Fridays from now on, any time of day.",
     "Caller: We're shut Fridays now, so book everything on Fridays from now on.", "preference:appointment time"),
])
def test_a_standing_arrangement_said_as_a_constraint_gets_a_slot(sentence: str, text: str, slot: str) -> None:
    assert [(f.text, f.slot) for f in said(sentence) if f.category == "preference"] == [(text, slot)]


def test_a_changed_arrangement_lands_in_the_slot_of_the_old_one() -> None:
    old = only("I work days, so it has to be a weekday evening, after six.", "preference")
    new = only("Evenings are out now. The only time I can do now is Saturday mornings.", "preference")
    assert old.slot == new.slot == "preference:appointment time"
    assert "Saturday mornings" in new.text


@pytest.mark.parametrize("sentence", [
    "It has to be today.",  # a one-off: no known topic, no standing slot
    "Can it be Tuesdays from now on?",  # asked, not agreed
    "Does it have to be a Monday?",
    "From now on I'll be more careful.",
    "Tell me if it has to be a Monday, fine.",  # a condition, not a standing rule
])
def test_one_offs_and_questions_are_no_standing_arrangement(sentence: str) -> None:
    assert not [f for f in said(sentence) if f.category == "preference"]


@pytest.mark.parametrize(("sentence", "text"), [
    ("It's 58 Birch Hill Road in Milltown.", "Address the caller gave: 58 Birch Hill Road in Milltown."),
    ("My new address is 41 Elm Court, apartment 2.", "Address the caller gave: 41 Elm Court, apartment 2."),
    ("Send it to 7 Harbour St, please.", "Address the caller gave: 7 Harbour St."),
])
def test_a_street_address_is_one_slot_so_the_newest_replaces_the_older(sentence: str, text: str) -> None:
    assert [(f.text, f.slot) for f in said(sentence) if f.category == "contact"] == [(text, "contact:address")]


@pytest.mark.parametrize("sentence", [
    "It's about 2 miles down the road.", "I have 3 dogs on the farm.", "Room 12 Main building, please.",
])
def test_numbers_that_are_no_street_address_are_none(sentence: str) -> None:
    assert not [f for f in said(sentence) if f.slot == "contact:address"]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["it has to be ", "the only time I can do now is ", "I can only do ", ""]),
       st.text(max_size=60), st.sampled_from(["", " from now on", " going forward", "?"]))
def test_arrangement_rules_never_raise_and_slot_only_known_topics(lead: str, obj: str, tail: str) -> None:
    for fact in said(f"{lead}{obj}{tail}"):
        assert fact.text.strip()
        assert len(fact.text) <= 200
        if fact.category == "preference" and fact.text.startswith(("Caller says it has to be", "Caller can only do")):
            assert (fact.slot or "").startswith("preference:")
