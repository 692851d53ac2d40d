"""Text → overlapping chunks measured in tokens.

**What a token is.** When the embedding provider can count its model's tokens
(:class:`~core.knowledge.providers.TokenCounter`, as ``local`` does with e5's SentencePiece
tokenizer), a chunk's size is counted in those tokens: words are packed by what the
tokenizer makes of each alone, then the whole chunk is counted and words are given back
until the tokenizer's own count fits ``size`` (a chunk's ``tokens`` is that count).
Otherwise a token is approximated as one word or one punctuation mark (``\\w+`` or any
other non-space character); BPE tokenizers make about 1.3 tokens of an English word, so
budget ``chunk_tokens`` under the model's limit then.

**Where chunks break.** Paragraphs (separated by a blank line) are packed whole into a
chunk while they fit ``size`` tokens, so chunk boundaries fall between paragraphs and an
edit to one paragraph changes only the chunks around it: on re-ingest the others keep
their rows and vectors. A paragraph longer than ``size`` is cut into windows of its own:
a window ends at the last whole word that fits, and the next one starts so that it repeats
the last ``overlap`` tokens (or fewer, never more) of the previous one. Words are never
split; a single word longer than ``size`` tokens is a window of its own. Packed paragraphs
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

    def split(self, text: str) -> list[Chunk]:
        """Whole paragraphs packed together while they fit; a longer one in windows."""
        pieces: list[tuple[str, int]] = []
        packed: list[str] = []
        packed_tokens = 0

        def flush() -> None:
            nonlocal packed, packed_tokens
            if packed:
                joined = "\n\n".join(packed)
                pieces.append((joined, self.count(joined) if self.exact else packed_tokens))
            packed, packed_tokens = [], 0

        for paragraph in _PARAGRAPH.split(text.strip()):
            paragraph = paragraph.strip()
            if not paragraph:
                continue
            words = _WORD.findall(paragraph)
            costs = [max(1, self.count(word.strip())) for word in words]
            cost = self.count(paragraph) if self.exact else sum(costs)
            if cost > self.size:
                flush()
                pieces.extend(self._windows(words, costs))
                continue
            if packed:
                together = packed_tokens + cost
                if self.exact and together <= self.size:
                    together = self.count("\n\n".join([*packed, paragraph]))
                if together > self.size:
                    flush()
            packed.append(paragraph)
            packed_tokens += cost
        flush()
        return [Chunk(i, piece, tokens) for i, (piece, tokens) in enumerate(pieces)]

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
                # Per-word costs can miss a token or two at word joins: trust the tokenizer
                # on the whole window and give back words until it fits.
                total = self.count(text_of)
                while total > self.size and end - start > 1:
                    end -= 1
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
