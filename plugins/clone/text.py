"""Words and sentences of English text, for the clone's retrieval and its offline answerer:
the stop words, a light stemmer, content words and a sentence splitter. One module, so that
the words a question is matched on mean the same wherever they are compared."""

from __future__ import annotations

import functools
import re

#: English function words, words any question may use, and what is left of a contraction
#: cut at its apostrophe (``don``, ``t``, ``ll``): they are no evidence.
STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and another any anyone anything
    anywhere are aren as at be because been before being below between both but by can
    cannot could couldn d dear did didn do does doesn doing don done down during each
    either else even ever every few for from further get gets getting got had hadn has
    hasn have haven having he hello her here hers herself hi him himself his how however
    i if in into is isn it its itself just kind know let like ll lot m many may me might
    mine more most much must mustn my myself need no nor not now of off ok okay on once
    one only or other ought our ours ourselves out over own please re really s same say
    shall shan she should shouldn so some someone something somewhere still such t tell
    than thank thanks that the their theirs them themselves then there these they thing
    things this those through to too under until up upon us ve very via want was wasn
    way we well were weren what whats when where whether which while who whom whose why
    will with within without won would wouldn yes yet you your yours yourself yourselves
    """.split()
)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_DOUBLED = re.compile(r"([b-df-hj-km-npqrtv-y])\1$")
_BREAK = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*\s+")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc eg ie e.g i.e no fig approx inc ltd co".split()
)
_LIST_MARK = re.compile(r"^\s*(?:#{1,6}\s+|[-*•+>]\s+|\d{1,3}[.)]\s+)")


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix-stripping stemmer: the same stem for ``refund``, ``refunds`` and
    ``refunded``, ``policy`` and ``policies``, ``ship``, ``ships`` and ``shipping``,
    ``retail`` and ``retailers``, ``teach`` and ``teacher``."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("'s"):
        word = word[:-2]
    elif "'" in word:
        word = word.replace("'", "")
    if word[-1] not in "sgdyer":
        return word  # no suffix below ends so
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith(("xes", "ches", "shes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ingly", "edly", "ing", "ed", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if suffix in ("ing", "ed", "ingly", "edly") and _DOUBLED.search(word):
                word = word[:-1]  # shipped, shipping → ship
            break
    if word.endswith("er") and len(word) >= 7:
        # one who does it, or more of it (Porter's -er), kept off short words where it is
        # no suffix: member, order, offer, water. After -ed and -ing, so that deliver,
        # delivered and delivering keep one stem.
        word = word[:-2]
        if _DOUBLED.search(word):
            word = word[:-1]  # beginner → begin
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]  # price, priced, pricing → pric
    return word


def words_of(text: str) -> list[str]:
    """``text``'s words in lower case, in order (stop words too, not stemmed)."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def content_words(text: str) -> list[str]:
    """The stems of ``text``'s words that are not stop words."""
    return [stem(w) for w in words_of(text) if w.split("'")[0] not in STOP_WORDS]


def split_sentences(text: str) -> list[str]:
    """``text`` cut into sentences: at line breaks and after ``.``, ``!`` or ``?`` followed
    by a capital letter or digit (not after a common abbreviation); list markers and
    heading marks dropped, whitespace collapsed."""
    return [sentence for sentence, _ in marked_sentences(text)]


#: What :func:`marked_sentences` says of a sentence: a line marked as a heading (``#``) or
#: standing alone like one (short, no final punctuation, no figure), a list item, or text.
HEADING, ITEM, TEXT = "heading", "item", "text"
_HEADING_MARK = re.compile(r"^\s*#{1,6}\s")
_MAX_HEADING_WORDS = 6


def marked_sentences(text: str) -> list[tuple[str, str]]:
    """:func:`split_sentences`'s sentences (the same ones, in the same order), each with
    what it is: :data:`HEADING`, :data:`ITEM` (a line with a list marker) or :data:`TEXT`.
    The offline answerer quotes no heading, and reads a sentence ending on a colon with
    the items after it."""
    sentences: list[tuple[str, str]] = []
    for line in text.splitlines():
        mark = _LIST_MARK.match(line)
        kind = TEXT
        if mark is not None:
            kind = HEADING if _HEADING_MARK.match(line) else ITEM
        line = _LIST_MARK.sub("", line).strip()
        if not line:
            continue
        pieces: list[str] = []
        start = 0
        for match in _BREAK.finditer(line):
            after = line[match.end() : match.end() + 2].lstrip("\"'\u201c\u2018([")
            if not after or not (after[0].isupper() or after[0].isdigit()):
                continue
            before = line[start : match.start()].rsplit(None, 1)
            word = before[-1].lower().rstrip(".") if before else ""
            if word in _ABBREVIATIONS and (word != "no" or after[0].isdigit()):
                continue  # "No. 5" is a number; "No. The course ..." is an answer
            pieces.append(line[start : match.end()])
            start = match.end()
        pieces.append(line[start:])
        pieces = [" ".join(p.split()) for p in pieces if p.strip()]
        if kind == TEXT and len(pieces) == 1 and _looks_like_heading(pieces[0]):
            kind = HEADING
        sentences.extend((piece, kind) for piece in pieces)
    return sentences


def _looks_like_heading(line: str) -> bool:
    """A line of a few words with no final punctuation, colon, figure or table cell: a
    title ("Studio glaze recipes"), not a fact ("Monday: closed", "Hardcover, $34")."""
    words = line.split()
    return (
        len(words) <= _MAX_HEADING_WORDS
        and line[-1] not in ".!?\u2026:;,)\"'\u201d\u2019"
        and not any(c.isdigit() or c in ":|$\u20ac\u00a3%" for c in line)
    )
