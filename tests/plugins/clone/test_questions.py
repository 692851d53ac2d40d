"""A question's key: wordings of one question share it, different questions do not."""

from __future__ import annotations

from plugins.clone.questions import MAX_KEY_CHARS, question_key


def test_wordings_of_one_question_share_a_key() -> None:
    same = [
        [
            "What is your refund policy?",
            "what's your REFUND  policy",
            "What are your refund policies",
        ],
        ["Who are you?", "who are YOU", "Who are you!!"],
        ["Do you offer refunds?", "do you offer a refund"],
        ["Question 3", "question 3?"],
    ]
    for wordings in same:
        assert len({question_key(w) for w in wordings}) == 1, wordings


def test_question_words_and_negations_tell_questions_apart() -> None:
    different = [
        ("When are coaching calls?", "Where are coaching calls?"),
        ("Do you offer refunds?", "Don't you offer refunds?"),
        ("Do you offer refunds?", "You cannot offer refunds?"),
        ("Question 1", "Question 2"),
    ]
    for first, second in different:
        assert question_key(first) != question_key(second)


def test_a_key_of_stop_words_is_the_text_and_keys_are_bounded() -> None:
    assert question_key("  Hello?! ") == "hello"
    assert question_key("?!") == ""
    assert question_key("What is the capital of Mongolia?") == "capital mongolia | what"
    assert len(question_key(" ".join(f"word{n}" for n in range(1000)))) == MAX_KEY_CHARS
