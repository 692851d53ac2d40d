"""Text → overlapping chunks measured in tokens.

**What a token is.** When the embedding provider can count its model's tokens
(:class:`~core.knowledge.providers.TokenCounter`, as ``local`` does with e5's SentencePiece
tokenizer), a chunk's size is counted in those tokens. Each paragraph is counted once, and
paragraphs are packed by the sum of their counts and of the blank lines between them (a
long paragraph's words by what the tokenizer makes of each alone); then the whole chunk is
counted once more and paragraphs are given back (or a window of words is shrunk in
proportion to how far off its words' counts were) until the tokenizer's own count fits
``size`` (a chunk's ``tokens`` is that count). Counting the growing pack again for
every paragraph added would make the work grow with the chunk size times the number of
paragraphs.
Otherwise a token is approximated as one word or one punctuation mark (``\\w+`` or any
other non-space character); BPE tokenizers make about 1.3 tokens of an English word, so
budget ``chunk_tokens`` under the model's limit then.

**Where chunks break.** Paragraphs (separated by a blank line) are packed whole into a
chunk while they fit ``size`` tokens, so chunk boundaries fall between paragraphs and an
edit to one paragraph changes only the chunks around it: on re-ingest the others keep
their rows and vectors. A paragraph longer than ``size`` is cut into windows of its own:
a window ends at the last whole word that fits, and the next one starts so that it repeats
the last ``overlap`` tokens (or fewer, never more) of the previous one. Words are never
split, except one that alone is over ``size`` tokens (text without spaces), which is cut
into pieces of ``size // 2`` characters. Packed paragraphs
are joined by a blank line; whitespace inside a paragraph is kept as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_WORD = re.compile(r"\S+\s*")
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_APPROX_TOKEN = re.compile(r"\w+|[^\w\s]")

TokenCount = Callable[[str], int]


def approximate_tokens(text: str) -> int:
    """The fallback token count: words and punctuation marks."""
    return len(_APPROX_TOKEN.findall(text))


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    tokens: int


class Chunker:
    """Splits text into chunks of at most ``size`` tokens that overlap by ``overlap``."""

    def __init__(self, size: int = 500, overlap: int = 50, count: TokenCount | None = None):
        if size < 1:
            raise ValueError("chunk_tokens must be at least 1")
        if not 0 <= overlap < size:
            raise ValueError("chunk_overlap must be at least 0 and less than chunk_tokens")
        self.size = size
        self.overlap = overlap
        self.count = count or approximate_tokens
        self.exact = count is not None
        self._join_cost: int | None = None

    @property
    def join_cost(self) -> int:
        """What the blank line between two packed paragraphs costs (measured once: the
        tokenizer may make a token of it; the approximation never does)."""
        if self._join_cost is None:
            pair = self.count("word\n\nword") - 2 * self.count("word")
            self._join_cost = max(0, pair) if self.exact else 0
        return self._join_cost

    def split(self, text: str) -> list[Chunk]:
        """Whole paragraphs packed together while they fit; a longer one in windows."""
        pieces: list[tuple[str, int]] = []
        fitting: list[tuple[str, int]] = []  # consecutive paragraphs that fit alone
        for paragraph in _PARAGRAPH.split(text.strip()):
            paragraph = paragraph.strip()
            if not paragraph:
                continue
            # Each paragraph is counted once; a pack's size is the sum of its paragraphs'.
            cost = self.count(paragraph)
            if cost <= self.size:
                fitting.append((paragraph, cost))
                continue
            pieces.extend(self._pack(fitting))
            fitting = []
            words = [piece for word in _WORD.findall(paragraph) for piece in self._cut(word)]
            pieces.extend(self._windows(words, [max(1, self.count(w.strip())) for w in words]))
        pieces.extend(self._pack(fitting))
        return [Chunk(i, piece, tokens) for i, (piece, tokens) in enumerate(pieces)]

    def _cut(self, word: str) -> list[str]:
        """``word`` itself, or, if it alone is over ``size`` tokens (text without spaces: a
        pasted blob, ``"<a" * n``), pieces of ``size // 2`` characters: a token is at
        least a character, so each piece fits. Whole, it made one chunk of any length,
        which the embedder then read whole."""
        if len(word) <= self.size or self.count(word.strip()) <= self.size:
            return [word]
        step = max(1, self.size // 2)
        return [word[i : i + step] for i in range(0, len(word), step)]

    def _pack(self, paragraphs: list[tuple[str, int]]) -> list[tuple[str, int]]:
        """Consecutive paragraphs (each with its count) packed whole while their counts add
        up to at most ``size``. With the provider's tokenizer, each pack is counted once
        more as a whole (a join may cost a token) and paragraphs worth what it is over
        are given back to the next pack."""
        packs: list[tuple[str, int]] = []
        join = self.join_cost if paragraphs else 0
        start = 0
        while start < len(paragraphs):
            end, total = start + 1, paragraphs[start][1]
            while end < len(paragraphs) and total + join + paragraphs[end][1] <= self.size:
                total += join + paragraphs[end][1]
                end += 1
            joined = "\n\n".join(p for p, _ in paragraphs[start:end])
            if self.exact:
                total = self.count(joined)
                while total > self.size and end - start > 1:
                    over = total - self.size
                    while end - start > 1 and over > 0:
                        end -= 1
                        over -= join + paragraphs[end][1]
                    joined = "\n\n".join(p for p, _ in paragraphs[start:end])
                    total = self.count(joined)
            packs.append((joined, total))
            start = end
        return packs

    def _windows(self, words: list[str], costs: list[int]) -> list[tuple[str, int]]:
        """One long paragraph in windows of ``size`` tokens overlapping by ``overlap``."""
        windows: list[tuple[str, int]] = []
        start = 0
        while start < len(words):
            end, total = start, 0
            while end < len(words) and (end == start or total + costs[end] <= self.size):
                total += costs[end]
                end += 1
            text_of = "".join(words[start:end]).strip()
            if self.exact:
                # Per-word costs can miss tokens at word joins (" *a" is 2 tokens alone and
                # more in a run): trust the tokenizer on the whole window and shrink it in
                # proportion to how far off the costs were, so a window takes a few counts
                # however wrong they are (giving back a word's cost at a time took one
                # count per word: linear, but ~250 s for a megabyte of " *a").
                total = self.count(text_of)
                while total > self.size and end - start > 1:
                    fits = (end - start) * self.size // total
                    end = start + max(1, min(fits, end - start - 1))
                    text_of = "".join(words[start:end]).strip()
                    total = self.count(text_of)
            windows.append((text_of, total))
            if end >= len(words):
                break
            # Step back over at most ``overlap`` tokens, always moving forward.
            back, kept = end, 0
            while back - 1 > start and kept + costs[back - 1] <= self.overlap:
                back -= 1
                kept += costs[back]
            start = back
        return windows
