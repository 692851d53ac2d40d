"""A question's key: what counts two wordings of a question as the same question.

Chat stores the key with each question (``question_key`` on a visitor's ``ai_message``
and on ``message_answered`` when it is a content gap), so analytics counts questions by a
plain group-by in the database instead of reading their texts.

The key is the question's *content words*: the clone's light stems with the stop words
dropped, in any order, plus the question words and negations (what, how, not, don't...)
that a stop-word list drops but that change a question. So "What is your refund
policy?", "what's your REFUND policy" and "What are your refund policies" share a key,
and "When are coaching calls?" and "Where are coaching calls?" (or "Do you offer
refunds?" and "Don't you offer refunds?") do not. A question of stop words only is keyed
by its text, case, spaces and punctuation ignored.
"""

from __future__ import annotations

import re

from plugins.clone.text import content_words

#: Words a stop-word list drops that change what a question asks.
KEPT_WORDS = frozenset(
    "what when where who whom whose why how which not no nor never cannot".split()
)
#: Longest key stored (a long question keys on its first content words).
MAX_KEY_CHARS = 500

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_TEXT = re.compile(r"\w+")


def question_key(question: str) -> str:
    """The key of ``question`` (see the module's docstring); empty for no words."""
    text = question.lower().replace("\u2019", "'")
    stems = sorted(set(content_words(text)))
    if not stems:
        return " ".join(_TEXT.findall(text))[:MAX_KEY_CHARS]
    kept = set()
    for word in _WORD.findall(text):
        if word.endswith("n't") or word == "cannot":
            kept.add("not")
        elif word.split("'")[0] in KEPT_WORDS:
            kept.add(word.split("'")[0])
    key = " ".join(stems)
    if kept:
        key += " | " + " ".join(sorted(kept))
    return key[:MAX_KEY_CHARS]
