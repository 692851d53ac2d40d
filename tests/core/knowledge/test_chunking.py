"""Chunking: sizes and overlaps in tokens, word boundaries, the token counts used."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from core.knowledge.chunking import Chunker, approximate_tokens
from core.knowledge.local import LocalEmbeddingProvider


def words(n: int, start: int = 0) -> str:
    return " ".join(f"w{i}" for i in range(start, start + n))


def test_short_text_is_one_chunk() -> None:
    chunks = Chunker(10, 2).split("  hello   there world  ")
    assert [(c.index, c.text, c.tokens) for c in chunks] == [(0, "hello   there world", 3)]


def test_empty_text_has_no_chunks() -> None:
    assert Chunker(10, 2).split("   \n ") == []


def test_exact_fit_is_one_chunk_and_one_more_word_is_two() -> None:
    assert len(Chunker(10, 3).split(words(10))) == 1
    chunks = Chunker(10, 3).split(words(11))
    assert [c.text for c in chunks] == [words(10), words(4, start=7)]


def test_sizes_and_overlap_boundaries() -> None:
    chunks = Chunker(10, 3).split(words(30))
    assert all(c.tokens <= 10 for c in chunks)
    assert chunks[0].text == words(10)
    for before, after in itertools.pairwise(chunks):
        shared = set(before.text.split()) & set(after.text.split())
        assert len(shared) == 3, (before.text, after.text)
        assert after.text.split()[:3] == before.text.split()[-3:]
    # every word is in some chunk, in order
    seen = [w for c in chunks for w in c.text.split()]
    assert list(dict.fromkeys(seen)) == words(30).split()
    assert chunks[-1].text.endswith("w29")


def test_no_overlap() -> None:
    chunks = Chunker(5, 0).split(words(12))
    assert [c.text for c in chunks] == [words(5), words(5, 5), words(2, 10)]


def test_overlap_never_exceeds_the_limit_with_uneven_words() -> None:
    # "a-b-c" costs 5 approximate tokens: overlap 3 cannot take it, so it takes less
    text = "one two a-b-c four five six seven eight"
    chunks = Chunker(8, 3).split(text)
    assert chunks[0].text == "one two a-b-c four"
    assert chunks[1].text.startswith("four")
    for c in chunks:
        assert c.tokens <= 8


def test_a_word_longer_than_a_chunk_is_cut_into_chunks_that_fit() -> None:
    long_word = "-".join(["x"] * 20)  # 39 approximate tokens
    chunks = Chunker(5, 0).split(f"a {long_word} b")
    assert all(c.tokens <= 5 for c in chunks)
    assert "".join(c.text for c in chunks).replace(" ", "") == f"a{long_word}b"
    # A word that fits is never cut.
    assert [c.text for c in Chunker(5, 0).split("a x-x b")] == ["a x-x b"]


def test_text_without_spaces_makes_chunks_the_embedder_can_read() -> None:
    # One "word" of a million characters made one chunk of a million tokens, which the
    # local model then embedded whole (minutes, past the request that asked for it).
    provider = LocalEmbeddingProvider()
    text = "<a" * 20_000
    chunks = Chunker(500, 50, provider.count_tokens).split(text)
    assert len(chunks) > 50
    assert all(c.tokens == provider.count_tokens(c.text) <= 500 for c in chunks)


def test_default_size_is_500_with_overlap_50() -> None:
    chunker = Chunker()
    assert (chunker.size, chunker.overlap) == (500, 50)
    chunks = chunker.split(words(1200))
    assert [c.tokens for c in chunks] == [500, 500, 300]
    assert chunks[1].text.split()[0] == "w450"


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, -1), (5, 7)])
def test_bad_settings_are_refused(size: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="chunk_"):
        Chunker(size, overlap)


def test_approximate_tokens_are_words_and_punctuation() -> None:
    assert approximate_tokens("Hello, world!") == 4
    assert approximate_tokens("don't") == 3
    assert approximate_tokens("") == 0


def test_chunks_measured_in_the_local_models_tokens() -> None:
    provider = LocalEmbeddingProvider()
    assert provider.count_tokens("hello") == 1
    assert provider.count_tokens("antidisestablishmentarianism") > 1
    text = " ".join(["antidisestablishmentarianism is a long word"] * 40)
    chunks = Chunker(50, 10, provider.count_tokens).split(text)
    assert len(chunks) > 3
    for c in chunks:
        # the tokenizer's own count of the chunk is what is recorded, and it fits
        assert c.tokens == provider.count_tokens(c.text) <= 50
    assert all(c.tokens >= 40 for c in chunks[:-1])  # packed close to the limit


def test_paragraphs_are_packed_whole_while_they_fit() -> None:
    paras = [words(4, 0), words(4, 10), words(4, 20), words(4, 30)]
    chunks = Chunker(10, 2).split("\n\n".join(paras))
    assert [c.text for c in chunks] == [
        f"{paras[0]}\n\n{paras[1]}",
        f"{paras[2]}\n\n{paras[3]}",
    ]
    assert [c.tokens for c in chunks] == [8, 8]


def test_a_long_paragraph_gets_windows_between_whole_ones() -> None:
    text = "\n\n".join(["short one", words(25), "tail end"])
    chunks = Chunker(10, 2).split(text)
    assert chunks[0].text == "short one"
    assert chunks[1].text == words(10)
    assert chunks[2].text.split()[:2] == ["w8", "w9"]  # overlap inside the long paragraph
    assert chunks[-1].text == "tail end"
    assert all(c.tokens <= 10 for c in chunks)


def test_an_edit_changes_only_the_chunks_around_it() -> None:
    paras = [f"paragraph {i} " + words(6, 10 * i) for i in range(8)]
    before = Chunker(20, 4).split("\n\n".join(paras))
    paras[3] = "paragraph 3 was rewritten completely"
    after = Chunker(20, 4).split("\n\n".join(paras))
    unchanged = {c.text for c in before} & {c.text for c in after}
    assert len(unchanged) >= len(before) - 2, (before, after)


class CountingTokens:
    """A token counter that records how many characters it was asked to count."""

    def __init__(self, count: Callable[[str], int]) -> None:
        self.count = count
        self.characters = 0

    def __call__(self, text: str) -> int:
        self.characters += len(text)
        return self.count(text)


def one_word_paragraphs(size: int) -> str:
    text = "\n\n".join(f"w{i}" for i in range(size // 4))
    return text[: text.rfind("\n\n", 0, size)]


@pytest.mark.parametrize("size", [2_000_000])
def test_each_paragraph_is_counted_once(size: int) -> None:
    # The review's input: one-word paragraphs, each once re-counted with the whole growing
    # chunk (about 250 characters counted per character of text). Now each paragraph is
    # counted once and each chunk once more, at the largest text a clone source holds.
    text = one_word_paragraphs(size)
    counter = CountingTokens(approximate_tokens)
    chunks = Chunker(500, 50, counter).split(text)
    assert counter.characters <= 3 * len(text)
    assert all(c.tokens <= 500 for c in chunks)
    assert "\n\n".join(c.text for c in chunks) == text


def test_counting_with_the_local_tokenizer_grows_with_the_text() -> None:
    provider = LocalEmbeddingProvider()
    work = []
    for size in (50_000, 100_000):
        counter = CountingTokens(provider.count_tokens)
        chunks = Chunker(500, 50, counter).split(one_word_paragraphs(size))
        assert all(c.tokens == provider.count_tokens(c.text) <= 500 for c in chunks)
        work.append(counter.characters)
    assert work[1] <= 2.2 * work[0]
    assert work[1] <= 3 * 100_000


def test_a_window_whose_words_undercount_is_shrunk_in_a_few_counts() -> None:
    # " *a" counts 2 tokens alone and more in a run, so a window packed by its words' counts
    # is far over once counted whole. Giving back one word's count at a time recounted the
    # window once per word (~250 s for a megabyte); shrinking in proportion takes a few.
    provider = LocalEmbeddingProvider()
    text = " *a" * 30_000
    counter = CountingTokens(provider.count_tokens)
    chunks = Chunker(500, 50, counter).split(text)
    assert all(c.tokens == provider.count_tokens(c.text) <= 500 for c in chunks)
    assert counter.characters <= 8 * len(text), counter.characters / len(text)
