"""What a citation shows: the sentences of a retrieved passage that answered, the
question's words in them, and a link that opens the source at that spot.

A passage is a whole chunk (up to 500 tokens); its first characters are rarely what
answered. The offline provider says which sentences it quoted (``Finished.quotes``);
for a model's answer, the passage's sentences that share the most words with the answer
(and then the question) are taken. The question's words are marked as character spans of
the quote, so a reader finds them at a glance.

The link is a text fragment (``#:~:text=start,end``, which browsers scroll to and
highlight) on the source's own page: a website page's public address, or the clone's
source view for text a creator pasted or uploaded (only members see that one).

Everything here is linear in the passage: one tokenising pass per sentence, no regular
expression that backtracks on user text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote as url_quote
from uuid import UUID

import sdk
from plugins.clone.providers.offline import offline_words
from plugins.clone.text import HEADING, STOP_WORDS, content_words, marked_sentences, stem

#: Longest quote a citation keeps (characters); a longer one is cut at a word.
MAX_QUOTE_CHARS = 600
#: Most sentences a quote picked for a model's answer holds.
MAX_QUOTE_SENTENCES = 2
#: Words of the quote's start and end a text fragment names.
FRAGMENT_WORDS = 6
#: A word as marks find it: letters and digits, with an apostrophe's ending.
_TOKEN = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)?")


def _cut(text: str, limit: int = MAX_QUOTE_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,.;:") + "\u2026"


def answering_quote(passage: str, question: str, answer: str, quoted: Sequence[str] = ()) -> str:
    """The part of ``passage`` that answered: the ``quoted`` sentences (what the offline
    provider quoted from it) in the passage's order, else its sentences sharing the most
    words with ``answer`` (then ``question``), at most :data:`MAX_QUOTE_SENTENCES` in a
    row; the passage's start if none shares a word."""
    sentences = [text for text, kind in marked_sentences(passage) if kind != HEADING]
    if quoted:
        wanted = {" ".join(q.split()) for q in quoted}
        kept = [s for s in sentences if s in wanted]
        if kept:
            return _cut(" ".join(kept))
    said = set(content_words(answer))
    asked = set(content_words(question))
    best, best_score = -1, 0.0
    for position, sentence in enumerate(sentences):
        words = set(content_words(sentence))
        if not words:
            continue
        score = len(words & said) + 0.5 * len(words & asked)
        if score > best_score:
            best, best_score = position, score
    if best < 0:
        return _cut(passage, 300)
    picked = sentences[best : best + MAX_QUOTE_SENTENCES]
    if len(picked) > 1:  # the next sentence only if it says something of the answer too
        following = set(content_words(picked[1]))
        if not following & said:
            picked = picked[:1]
    return _cut(" ".join(picked))


def marks(quote: str, question: str) -> list[tuple[int, int]]:
    """``[start, end)`` character spans of ``quote``'s words that the question asked
    about (the same stem, "pickup" for "pick up"; stop words never)."""
    asked = offline_words(question)
    if not asked:
        return []
    spans: list[tuple[int, int]] = []
    for match in _TOKEN.finditer(quote):
        word = match.group().lower().replace("\u2019", "'")
        if word.split("'")[0] in STOP_WORDS or stem(word) not in asked:
            continue
        start, end = match.span()
        if spans and quote[spans[-1][1] : start].isspace():
            spans[-1] = (spans[-1][0], end)  # neighbours make one mark
        else:
            spans.append((start, end))
    return spans


def _fragment_part(words: Sequence[str]) -> str:
    # a text directive's own separators must be escaped ("-" and "," and "&")
    return url_quote(" ".join(words), safe="").replace("-", "%2D")


def text_fragment(quote: str) -> str:
    """A URL fragment that makes a browser scroll to ``quote`` and highlight it:
    ``#:~:text=<first words>,<last words>`` (only ``#:~:text=<quote>`` if it is short)."""
    words = quote.rstrip("\u2026").split()
    if not words:
        return ""
    if len(words) <= 2 * FRAGMENT_WORDS:
        return "#:~:text=" + _fragment_part(words)
    return (
        "#:~:text="
        + _fragment_part(words[:FRAGMENT_WORDS])
        + ","
        + _fragment_part(words[-FRAGMENT_WORDS:])
    )


#: The public-name kind the website plugin holds custom domains under.
WEBSITE_DOMAIN_KIND = "domain"


def page_address(sites_url: str, site: sdk.Thing, page: sdk.Thing, *, on_domain: bool) -> str:
    """A website page's public address, as the website serves it: on the site's custom
    domain if it is served there (``on_domain``: verified), else under ``/sites/{slug}`` of
    where sites are served (``platform.hosts.sites_url``); the home page at the site's
    root."""
    props = site.properties
    domain = props.get("custom_domain") if on_domain else None
    base = f"https://{domain}" if domain else f"{sites_url}/sites/{props.get('slug', '')}"
    settings = props.get("settings") or {}
    slug = str(page.properties.get("slug", ""))
    return base + "/" if slug == settings.get("home_page", "home") else f"{base}/{slug}"


async def cited_source(
    platform: sdk.Platform, stores: sdk.ScopedOntology, source_id: str
) -> tuple[str, str]:
    """``(kind, public address)`` of a source: a published website page's address,
    or ``""`` for pasted and uploaded text (and a source gone since)."""
    try:
        thing = await stores.things.get(UUID(source_id))
    except (ValueError, sdk.NotFound):
        return "", ""
    if thing.type != "page":
        return str(thing.properties.get("kind", "text")), ""
    if thing.status != "published":
        return "page", ""
    try:
        site = await stores.things.get(UUID(str(thing.properties["site_id"])), type="website")
    except (KeyError, ValueError, sdk.NotFound):
        return "page", ""
    domain = site.properties.get("custom_domain")
    held = (
        await platform.ontology.names.resolve(WEBSITE_DOMAIN_KIND, str(domain), verified_only=True)
        if domain
        else None
    )
    on_domain = held is not None and held.thing_id == site.id
    return "page", page_address(platform.hosts.sites_url, site, thing, on_domain=on_domain)
