"""Text extraction (no platform needed): Markdown, HTML, PDF, uploaded files and website
pages' JSON."""

from __future__ import annotations

import functools
import time

import pytest

from core.errors import UnsupportedMediaType
from plugins.clone import extract
from plugins.clone.types import MAX_SOURCE_CHARS
from sdk import ValidationFailed


def test_plain_text_is_normalised() -> None:
    text = "  Hello\u00a0\u00a0world \r\n\r\n\r\n\r\nSecond\tparagraph\x00\x07 \n"
    assert extract.from_text(text) == "Hello world\n\nSecond paragraph"
    assert extract.from_text("   \n ") == ""


def test_markdown_keeps_the_words() -> None:
    md = (
        "# Welcome #\n\nSome **bold**, *italic*, _under_ and ~~old~~ words with `code`.\n\n"
        "* first\n+ second\n\n> A quote\n\n[Read more](https://x.example) "
        "![A cat](cat.png) [ref][1]\n\n```python\nprint('kept')\n```\n\n---\n\n"
        "Setext title\n===\n\n<span>inline html</span> snake_case_name and 2*3*4\n\n"
        "[1]: https://example.com\n"
    )
    assert extract.from_markdown(md) == (
        "Welcome\n\nSome bold, italic, under and old words with code.\n\n- first\n- second\n\n"
        "A quote\n\nRead more A cat ref\n\nprint('kept')\n\nSetext title\n\n"
        "inline html snake_case_name and 2*3*4"
    )


def test_html_keeps_headings_and_paragraphs() -> None:
    html = (
        "<!doctype html><html><head><title>Studio &amp; School</title>"
        "<style>body { color: red }</style><script>var secret = 1;</script></head>"
        "<body><nav><a href='/'>Home</a> | <a href='/blog'>Blog</a></nav>"
        "<h1>Our   courses</h1><p>Pottery for <em>beginners</em>.<br>Every week.</p>"
        "<ul><li>Clay</li><li>Glaze</li></ul><img src='x.png' alt='A vase'>"
        "<table><tr><td>Price</td><td>99 &euro;</td></tr></table>"
        "<form><button>Send</button></form><noscript>Enable JS</noscript>"
        "<footer>&copy; 2026</footer></body></html>"
    )
    assert extract.from_html(html) == (
        "Studio & School\n\nOur courses\n\nPottery for beginners. Every week.\n\n- Clay\n\n"
        "- Glaze\n\nA vase\n\nPrice 99 \u20ac\n\n\u00a9 2026"
    )


def test_html_with_an_unclosed_head_and_broken_markup() -> None:
    assert extract.from_html("<head><title>T</title><body><p>Body text") == "T\n\nBody text"
    assert extract.from_html("<p>a <b>b</i> c</p></div></div><p>d") == "a b c\n\nd"
    assert extract.from_html("<script>only()</script>") == ""
    assert extract.from_html("plain & simple") == "plain & simple"


def test_pdf_text(pdfs) -> None:
    pdf = pdfs.text("Refunds are possible within 30 days.", "Write to the help desk.")
    assert extract.from_pdf(pdf) == (
        "Refunds are possible within 30 days.\nWrite to the help desk."
    )


def test_pdfs_that_cannot_be_read(pdfs) -> None:
    cases = {
        "encrypted": pdfs.blank(password="s3cret"),
        "no_text": pdfs.blank(),
        "unreadable": b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage",
    }
    for reason, data in cases.items():
        with pytest.raises(ValidationFailed) as caught:
            extract.from_pdf(data)
        assert caught.value.extra["reason"] == reason, caught.value.detail
        assert caught.value.field == "file"


def test_a_pdf_encrypted_for_printing_only_is_read(pdfs) -> None:
    import io

    import pypdf

    writer = pypdf.PdfWriter()
    writer.append(io.BytesIO(pdfs.text("Readable words")))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert extract.from_pdf(buffer.getvalue()) == "Readable words"


def test_file_kinds(pdfs) -> None:
    assert extract.file_kind("notes.TXT", b"words") == "text"
    assert extract.file_kind("guide.markdown", b"# G") == "markdown"
    assert extract.file_kind("page.htm", b"<p>x</p>") == "html"
    assert extract.file_kind("misnamed.txt", pdfs.text("x")) == "pdf"
    assert extract.file_kind("doc.pdf", b"\n" * 10 + pdfs.text("x")) == "pdf"
    with pytest.raises(ValidationFailed):
        extract.file_kind("fake.pdf", b"not a pdf")
    for name, data in (("a.exe", b"MZ"), ("noext", b"x"), ("bin.txt", b"ab\x00cd")):
        with pytest.raises(UnsupportedMediaType):
            extract.file_kind(name, data)


def test_file_text_encodings() -> None:
    assert extract.from_file("text", "\ufeffcaf\u00e9".encode()) == "caf\u00e9"
    assert extract.from_file("text", "caf\u00e9".encode("utf-16")) == "caf\u00e9"
    assert extract.from_file("markdown", b"**Bold** move") == "Bold move"
    with pytest.raises(ValidationFailed, match="UTF-8"):
        extract.from_file("text", "caf\u00e9".encode("latin-1"))


def test_too_much_text() -> None:
    with pytest.raises(ValidationFailed, match="at most 2,000,000"):
        extract.from_text("x" * (MAX_SOURCE_CHARS + 1))
    assert len(extract.from_text("x" * MAX_SOURCE_CHARS)) == MAX_SOURCE_CHARS


def test_a_website_pages_words() -> None:
    page = {
        "site_id": "s",
        "slug": "about",
        "title": "About us",
        "seo": {"description": "Who we are."},
        "tree": [
            {"id": "h", "type": "heading", "props": {"text": "Founded in 2019", "level": 1}},
            {
                "id": "s",
                "type": "section",
                "props": {"label": "Story", "background": "#fff"},
                "children": [
                    {"id": "t", "type": "text", "props": {"html": "<p>We <b>teach</b>.</p>"}},
                    {
                        "id": "i",
                        "type": "image",
                        "props": {"alt": "Our studio", "src": "a.png", "caption": "Lisbon"},
                    },
                    {
                        "id": "b",
                        "type": "button",
                        "props": {"label": "Book", "href": "https://example.com"},
                    },
                    {
                        "id": "e",
                        "type": "embed",
                        "props": {"url": "https://v.example", "title": ""},
                    },
                ],
            },
            "not a node",
            {"id": "x", "type": "heading", "props": "not props"},
        ],
    }
    assert extract.page_text(page) == (
        "About us\n\nWho we are.\n\nFounded in 2019\n\nStory\n\nWe teach.\n\nOur studio\n\n"
        "Lisbon\n\nBook"
    )
    live = [{"id": "h", "type": "heading", "props": {"text": "Live words"}}]
    assert extract.page_text(page, live) == "About us\n\nWho we are.\n\nLive words"
    assert extract.page_text({}) == ""


# -- linear time --------------------------------------------------------------------------
#
# Each reader is timed (CPU time of this thread, so other processes on the machine do not
# count) on a pathological input and on ordinary input of the same size, first small, so
# a quadratic regression fails in a second instead of running for hours, then at the
# largest upload a source accepts. The bound is generous (many times the ordinary input's
# time), yet a quadratic reader misses it by orders of magnitude at either size.

SMALL = 32 * 1024
#: The clone's default ``max_upload_bytes``: the largest file a source is read from.
LARGEST_UPLOAD = 10 * 1024 * 1024


def _cpu_seconds(kind: str, data: bytes) -> float:
    started = time.thread_time()
    try:
        extract.from_file(kind, data)
    except ValidationFailed:  # too much text once read: the time spent reading still counts
        pass
    return time.thread_time() - started


def _repeated(unit: str, size: int) -> bytes:
    return (unit * (size // len(unit) + 1))[:size].encode()


@functools.cache
def _baseline(kind: str, size: int) -> float:
    ordinary = ORDINARY_MARKDOWN if kind == "markdown" else ORDINARY_HTML
    return min(_cpu_seconds(kind, _repeated(ordinary, size)) for _ in range(2))


def assert_linear(kind: str, pathological: str, sizes: tuple[int, ...] = (SMALL,)) -> None:
    for size in sizes:
        spent = _cpu_seconds(kind, _repeated(pathological, size))
        baseline = _baseline(kind, size)
        slack = 0.1 if size <= SMALL else 1.0
        assert spent < 10 * baseline + slack, (kind, pathological, size, spent, baseline)


ORDINARY_MARKDOWN = (
    "## A heading\n\nSome *emphasis*, **strong** words, a [link](https://example.com/a_(b)) "
    'and `code`, with ~~old~~ text and an ![image](cat.png "Cat").\n\n* a bullet\n> a quote\n\n'
)
ORDINARY_HTML = (
    "<section><h2>A heading</h2><p>Some <em>emphasis</em>, <a href='/x'>a link</a> &amp; "
    "an <img src='a.png' alt='image'>.</p><ul><li>one</li><li>two</li></ul></section>\n"
)


@pytest.mark.parametrize(
    "pathological",
    [
        " *a",
        " _a",
        "**a ",
        " __a",
        "~~a ",
        "[a",
        "[a](",
        '![a](b "',
        "[a][",
        "<a",
        "`a",
        "# a #",
        "a*b ",
        " " * 7 + "#",
    ],
)
def test_markdown_is_read_in_linear_time(pathological: str) -> None:
    assert_linear("markdown", pathological)


@pytest.mark.parametrize(
    "pathological",
    [
        "<a",
        "<a>",
        "<div>",
        "</a",
        "<!--",
        "<!x",
        "<?",
        '<a x="',
        "<a x='y\" ",
        "<script>",
        "<title>",
        "< ",
        "&#",
        "<li>x",
    ],
)
def test_html_is_read_in_linear_time(pathological: str) -> None:
    assert_linear("html", pathological)


@pytest.mark.parametrize(("kind", "pathological"), [("markdown", " *a"), ("html", "<a")])
def test_the_reviews_inputs_at_the_largest_upload(kind: str, pathological: str) -> None:
    # the review's measurements: 24 KB of " *a" took seconds, 160 KB of "<a" half a minute
    assert_linear(kind, pathological, (SMALL, LARGEST_UPLOAD))


def test_markdown_and_html_edge_cases_keep_their_words() -> None:
    assert extract.from_markdown("# C#\n\n#hashtag\n\n### Title ###") == "C#\n\n#hashtag\n\nTitle"
    assert extract.from_markdown("[Go](https://en.wikipedia.org/wiki/Go_(game)) rules") == (
        "Go rules"
    )
    assert extract.from_markdown("*compute 2*3*4 now* and _snake_case here_") == (
        "compute 2*3*4 now and snake_case here"
    )
    assert extract.from_markdown("***both*** and **bold *inner* text**") == (
        "both and bold inner text"
    )
    assert extract.from_html("a<b then c") == "a<b then c"  # a tag never closed is text
    assert extract.from_html("<p>x</p><!-- a note --><p>y</p><!-- open") == "x\n\ny"
    assert extract.from_html("<script>if (a<b) x = '</p>'</script><p>kept") == "kept"
    assert extract.from_html("<IMG ALT='A &amp; B' SRC=x><p title=\"a>b\">c</p>") == "A & B\n\nc"


def test_long_markdown_is_read_in_slices_that_change_nothing() -> None:
    paragraph = "Some *emphasis* and a [link](https://example.com) here.\n\n"
    text = paragraph * (3 * extract.MARKDOWN_SLICE_CHARS // len(paragraph))
    assert extract.from_markdown(text) == "\n\n".join(
        ["Some emphasis and a link here."] * text.count("\n\n")
    )
