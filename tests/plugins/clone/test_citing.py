"""What a citation shows: the sentences that answered, the question's words marked, a
text fragment that opens the source at them; linear in the passage."""

from __future__ import annotations

import time
from urllib.parse import unquote

from plugins.clone.citing import answering_quote, marks, text_fragment

PASSAGE = (
    "# Orders and delivery\n\n"
    "Shipping: we ship every order within 3 working days by tracked post.\n"
    "Pickup is possible on Fridays between 2pm and 6pm at the workshop.\n"
    "Returns are accepted within 14 days if the item is unused."
)


def test_the_quote_is_what_the_offline_provider_quoted() -> None:
    quoted = ["Pickup is possible on Fridays between 2pm and 6pm at the workshop."]
    assert answering_quote(PASSAGE, "When can I pick up my order?", "...", quoted) == quoted[0]


def test_for_a_models_answer_the_sentences_sharing_its_words() -> None:
    answer = "You can return an unused item within 14 days [1]."
    quote = answering_quote(PASSAGE, "Can I send it back?", answer)
    assert quote == "Returns are accepted within 14 days if the item is unused."
    # nothing in common: the passage's start, as before
    assert answering_quote(PASSAGE, "Hello?", "Hi there").startswith("# Orders and delivery")


def test_marks_are_the_questions_words() -> None:
    quote = "Pickup is possible on Fridays; we picked up orders daily."
    spans = marks(quote, "When can I pick up my order?")
    assert [quote[a:b] for a, b in spans] == ["Pickup", "picked", "orders"]
    assert marks(quote, "Is it?") == []  # stop words only


def test_a_text_fragment_names_the_quotes_start_and_end() -> None:
    short = "Pickup is possible on Fridays, 2-6pm."
    assert text_fragment(short) == "#:~:text=Pickup%20is%20possible%20on%20Fridays%2C%202%2D6pm."
    long = " ".join(f"w{i}" for i in range(30)) + "\u2026"
    start, end = text_fragment(long).removeprefix("#:~:text=").split(",")
    assert unquote(start) == "w0 w1 w2 w3 w4 w5" and unquote(end) == "w24 w25 w26 w27 w28 w29"
    assert text_fragment("") == ""


def test_linear_on_pathological_text() -> None:
    started = time.perf_counter()
    for text in ("a'" * 100_000, "a" * 200_000, "'b " * 70_000, "x.\n" * 70_000):
        marks(text, "a b x refund")
        answering_quote(text, "a b x refund", "a b x")
        text_fragment(text)
    assert time.perf_counter() - started < 5
