"""Text a clone learns from: pasted text, Markdown, HTML, PDF, and a website's ``page``.

Every function returns plain text in paragraphs separated by blank lines (the knowledge
chunker packs whole paragraphs, so an edit changes only the chunks around it). Problems
with the input are 4xx errors that say what to do: a PDF that is encrypted or broken, a
file that is not text, a document with too much (or no) text.

Every reader takes time linear in its input, whatever the input (the tests feed each one
pathological shapes at the largest upload), and the services call them through
``sdk.run_cpu``, off the event loop.

A ``page`` is read from its thing's JSON (``properties["tree"]``: nodes with ``props`` and
``children``), the type the website plugin declares; this module never imports the
website plugin, and without it there are no pages to read.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from html import unescape
from typing import Any

import sdk
from plugins.clone.types import MAX_SOURCE_CHARS
from sdk import ValidationFailed

#: Most pages of a PDF read (a longer document should be split).
MAX_PDF_PAGES = 1000
#: Accepted file names' extensions and the kind of source each makes.
FILE_KINDS = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
ALLOWED_FILES = ".txt, .md, .html or .pdf"
PDF_MAGIC = b"%PDF-"

#: Props of a page's components that hold words a visitor reads.
PAGE_TEXT_PROPS = ("title", "text", "label", "html", "alt", "caption")

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")


def too_long(chars: int) -> ValidationFailed:
    return ValidationFailed(
        f"the text is {chars:,} characters long; a source may have at most "
        f"{MAX_SOURCE_CHARS:,}: split it into several sources",
        field="text",
    )


#: Text is cleaned in blocks of about this many characters: one normalisation or regular
#: expression over megabytes would hold the interpreter's lock, and so the event loop's
#: thread, for as long as it runs.
CLEAN_BLOCK_CHARS = 65_536
#: Where a line too long for one block is cut: never inside a run of spaces, and never
#: before a character that composes with the one before it.
_SAFE_CUT = re.compile(r"[A-Za-z0-9]")


def _blocks(text: str, size: int = CLEAN_BLOCK_CHARS) -> Iterator[str]:
    """``text`` in consecutive pieces of about ``size`` characters, each ending with a line
    end in its second half if there is one, else cut before a letter or digit."""
    start = 0
    while len(text) - start > size:
        cut = text.rfind("\n", start + size // 2, start + size) + 1
        if cut <= start:
            safe = _SAFE_CUT.search(text, start + size, start + size + 1024)
            cut = safe.start() if safe else start + size
        yield text[start:cut]
        start = cut
    yield text[start:]


def clean_text(text: str) -> str:
    """Normalised plain text: NFC, ``\\n`` line ends, no control characters, spaces
    collapsed within lines, at most one blank line between paragraphs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(
        _SPACES.sub(" ", _CONTROL.sub("", unicodedata.normalize("NFC", block)))
        for block in _blocks(text)
    )
    out: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _checked(text: str) -> str:
    text = clean_text(text)
    if len(text) > MAX_SOURCE_CHARS:
        raise too_long(len(text))
    return text


# -- Markdown -----------------------------------------------------------------------------

#: Link and image destinations: no spaces or line breaks, at most one level of parentheses
#: (``(https://en.wikipedia.org/wiki/Go_(game))``), an optional quoted title.
_DESTINATION = r"\((?:[^()\s]|\([^()\s]*\))*+(?:[ \t]+\"[^\"\n]*\")?\)"

# Every rule runs in time linear in its input: a match attempt that fails stops at the next
# character that could start another attempt (a bracket stops a link, a ``*`` stops
# emphasis, a ``<`` stops a tag), so no character is rescanned from many starting points;
# and no pattern nests quantifiers that could split the same text in several ways.
_MD_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^[ \t]{0,3}(`{3,}|~{3,}).*$", re.M), ""),  # code fences (keep the code)
    (re.compile(r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]+\S.*$", re.M), ""),  # link reference definitions
    (re.compile(r"!\[([^\[\]]*)\]" + _DESTINATION), r"\1"),  # images: their alt text
    (re.compile(r"\[([^\[\]]+)\]" + _DESTINATION), r"\1"),  # links: their text
    (re.compile(r"\[([^\[\]]+)\]\[[^\[\]]*\]"), r"\1"),  # reference links
    (re.compile(r"^[ \t]{0,3}(?:[-*_][ \t]*){3,}$", re.M), ""),  # horizontal rules
    (re.compile(r"^[ \t]{0,3}(?:=+|-+)[ \t]*$", re.M), ""),  # setext underlines
    (re.compile(r"^[ \t]{0,3}>[ \t]?", re.M), ""),  # block quotes
    (re.compile(r"^([ \t]*)[*+][ \t]+", re.M), r"\1- "),  # bullets, as "- "
    # strong: the content may hold a single delimiter but not a pair
    (re.compile(r"\*\*(?=[^\s*])((?:[^*\n]|\*(?!\*))*?[^\s*])\*\*"), r"\1"),
    (re.compile(r"(?<!\w)__(?=[^\s_])((?:[^_\n]|_(?!_))*?[^\s_])__(?!\w)"), r"\1"),
    # emphasis: the content may hold the delimiter only inside a word (2*3*4, snake_case)
    (re.compile(r"(?<![\w*])\*(?=[^\s*])((?:[^*\n]|(?<=\w)\*(?=\w))*?[^\s*])\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=[^\s_])((?:[^_\n]|(?<=\w)_(?=\w))*?[^\s_])_(?![\w_])"), r"\1"),
    (re.compile(r"~~((?:[^~\n]|~(?!~))+?)~~"), r"\1"),  # strikethrough
    (re.compile(r"`([^`]+)`"), r"\1"),  # inline code
    (re.compile(r"<[A-Za-z/!][^<>\n]*>"), ""),  # inline HTML tags
]
_ATX_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}(?:[ \t]+(.*))?$", re.M)
_CLOSING_HASHES = re.compile(r"[ \t]#+[ \t]*$")


def _heading(match: re.Match[str]) -> str:
    """An ATX heading's text, without an optional closing run of ``#`` (which, as in
    CommonMark, needs a space before it: ``# C#`` keeps its ``#``)."""
    text = (match.group(1) or "").strip(" \t")
    if text.strip("#") == "":
        return ""
    return _CLOSING_HASHES.sub("", " " + text)[1:].rstrip(" \t") if "#" in text[-1:] else text


#: Markdown is read in slices of about this many characters, cut between paragraphs where
#: it can be: one regular expression over megabytes would hold the interpreter's lock,
#: and so the event loop's thread, for as long as it runs.
MARKDOWN_SLICE_CHARS = 65_536


def _slices(text: str, size: int = MARKDOWN_SLICE_CHARS) -> Iterator[str]:
    """``text`` in consecutive pieces of at most ``size`` characters, each cut at a blank
    line in its second half if there is one, else at a line end, else at a space."""
    start = 0
    while len(text) - start > size:
        cut = -1
        for separator in ("\n\n", "\n", " "):
            cut = text.rfind(separator, start + size // 2, start + size)
            if cut > start:
                break
        if cut <= start:
            cut = start + size
        yield text[start:cut]
        start = cut
    yield text[start:]


def _markdown_slice(text: str) -> str:
    text = _ATX_HEADING.sub(_heading, text)
    for pattern, replacement in _MD_RULES:
        text = pattern.sub(replacement, text)
    return text


def from_markdown(text: str) -> str:
    """Markdown's text with its markup lightly removed (headings, emphasis, links and
    images keep their words; code keeps its content). Inline markup never spans a blank
    line, so reading paragraph blocks one by one changes nothing."""
    return _checked("".join(_markdown_slice(piece) for piece in _slices(text)))


# -- HTML ---------------------------------------------------------------------------------

#: Elements whose content is never text a reader sees (or is site navigation).
_SKIPPED = frozenset(
    "script style nav noscript template svg iframe object head select button form canvas "
    "math".split()
)
#: Elements that start a new paragraph.
_BLOCKS = frozenset(
    "p div section article main header footer aside h1 h2 h3 h4 h5 h6 ul ol li dl dt dd "
    "table tr blockquote pre figure figcaption hr address details summary title body html "
    "caption thead tbody tfoot".split()
)
_VOID = frozenset("area base br col embed hr img input link meta source track wbr".split())


class _TextParser:
    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.current: list[str] = []
        self.skipping: list[str] = []
        self.in_title = False

    def _flush(self) -> None:
        line = " ".join("".join(self.current).split())
        if line:
            self.blocks.append(line)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        if tag == "body":
            self.skipping.clear()  # an unclosed <head> ends where the body starts
        if self.skipping:
            if tag in _SKIPPED and tag not in _VOID:
                self.skipping.append(tag)
            return
        if tag in _SKIPPED:
            self.skipping.append(tag)
            return
        if tag == "br":
            self.current.append("\n")
        elif tag in _BLOCKS:
            self._flush()
            if tag == "li":
                self.current.append("- ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and alt.strip():
                self.current.append(f" {alt.strip()} ")
        elif tag in ("td", "th"):
            self.current.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.skipping:
            self.handle_starttag(tag, attrs)
            if tag not in _VOID and tag in _SKIPPED:
                self.skipping.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if self.skipping:
            if tag == self.skipping[-1]:
                self.skipping.pop()
            return
        if tag in _BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self.in_title:  # <title> sits in <head>, which is skipped: keep it anyway
            line = " ".join(data.split())
            if line:
                self.blocks.append(line)
            return
        if not self.skipping:
            self.current.append(data)

    def text(self) -> str:
        self._flush()
        return "\n\n".join(self.blocks)


# The standard library's html.parser rescans the rest of the document from every "<" that
# does not end in a ">" (``"<a" * n`` takes quadratic time), and html5ever (nh3) is
# quadratic in how deep elements nest. This tokenizer follows HTML's own tokenizing rules
# closely enough for reading text and never scans a character more than a few times: a
# tag runs to its ">" (quoted attribute values may hold one), a comment to its "-->", a
# script or style to its end tag, and where one never ends the rest of the document is
# read as text (a tag or end tag) or dropped (a comment, as a browser would).
_START_TAG = re.compile(
    r"<([A-Za-z][^\t\n\f\r />]*+)"
    r"((?:[\t\n\f\r /]++"
    r"|=[\t\n\f\r ]*+(?:\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r >\"'][^\t\n\f\r >]*+)?+"
    r"|[^\t\n\f\r />=]++)*+)>"
)
_END_TAG = re.compile(r"</([A-Za-z][^\t\n\f\r />]*+)[^>]*+>")
_ATTRIBUTE = re.compile(
    r"([^\t\n\f\r />=]++)"
    r"(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r >\"']\S*+))?+"
)
#: Elements whose content is text up to their end tag, never markup.
_RAW_TEXT = frozenset("script style textarea title xmp iframe noembed noframes noscript".split())
_raw_text_ends: dict[str, re.Pattern[str]] = {
    name: re.compile(rf"</{name}[\t\n\f\r />]", re.I) for name in _RAW_TEXT
}


def _attributes(text: str) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for match in _ATTRIBUTE.finditer(text):
        value = match.group(2)
        if value is not None and value[:1] in ("'", '"'):
            value = value[1:-1]
        found.append((match.group(1).lower(), None if value is None else unescape(value)))
    return found


def _tokenize(html: str, parser: _TextParser) -> None:
    """Feed ``html``'s tags and text to ``parser``, in time linear in ``len(html)``."""
    pos, end = 0, len(html)
    while pos < end:
        lt = html.find("<", pos)
        if lt < 0:
            lt = end
        if lt > pos:
            parser.handle_data(unescape(html[pos:lt]))
        if lt >= end:
            return
        nxt = html[lt + 1 : lt + 2]
        if nxt.isascii() and nxt.isalpha():
            match = _START_TAG.match(html, lt)
            if match is None:  # never closed: the rest is text
                parser.handle_data(unescape(html[lt:]))
                return
            tag, attributes = match.group(1).lower(), match.group(2)
            attrs = _attributes(attributes) if tag == "img" else []
            pos = match.end()
            if attributes.endswith("/"):
                parser.handle_startendtag(tag, attrs)
                continue
            parser.handle_starttag(tag, attrs)
            if tag in _RAW_TEXT:
                closing = _raw_text_ends[tag].search(html, pos)
                stop = closing.start() if closing else end
                content = html[pos:stop]
                parser.handle_data(unescape(content) if tag in ("title", "textarea") else content)
                pos = stop
        elif nxt == "/":
            match = _END_TAG.match(html, lt)
            if match is not None:
                parser.handle_endtag(match.group(1).lower())
                pos = match.end()
            elif html.startswith("</>", lt):
                pos = lt + 3
            elif html[lt + 2 : lt + 3].isalpha():  # never closed: the rest is text
                parser.handle_data(unescape(html[lt:]))
                return
            else:  # "</" and no name: a bogus comment up to the next ">"
                close = html.find(">", lt + 2)
                pos = end if close < 0 else close + 1
        elif html.startswith("<!--", lt):
            close = html.find("-->", lt + 2)
            pos = end if close < 0 else close + 3
        elif nxt in ("!", "?"):  # doctype, CDATA, processing instruction: up to ">"
            close = html.find(">", lt + 2)
            pos = end if close < 0 else close + 1
        else:
            parser.handle_data("<")
            pos = lt + 1


def from_html(html: str) -> str:
    """The words of an HTML document or fragment: headings, paragraphs and list items as
    paragraphs; scripts, styles, navigation and forms dropped; entities decoded."""
    parser = _TextParser()
    _tokenize(html, parser)
    return _checked(parser.text())


# -- plain text ---------------------------------------------------------------------------


def from_text(text: str) -> str:
    return _checked(text)


def extract(kind: str, text: str) -> str:
    """Pasted text of ``kind`` (``text``, ``markdown`` or ``html``) as plain text."""
    if kind == "markdown":
        return from_markdown(text)
    if kind == "html":
        return from_html(text)
    return from_text(text)


# -- PDF ----------------------------------------------------------------------------------


def is_pdf(data: bytes) -> bool:
    """A PDF starts with ``%PDF-`` (within its first KiB, by Acrobat's leniency)."""
    return PDF_MAGIC in data[:1024]


def from_pdf(data: bytes) -> str:
    """The text of every page of a PDF, one paragraph block per page. Blocking (pypdf is
    pure Python): call it through ``sdk.run_cpu``. An encrypted, broken or image-only PDF
    is a 422."""
    import pypdf
    from pypdf.errors import FileNotDecryptedError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Many PDFs are "encrypted" with an empty password only to restrict printing.
            try:
                opened = bool(reader.decrypt(""))
            except Exception:
                opened = False
            if not opened:
                raise ValidationFailed(
                    "the PDF is protected by a password; upload an unprotected copy",
                    field="file",
                    reason="encrypted",
                )
        if len(reader.pages) > MAX_PDF_PAGES:
            raise ValidationFailed(
                f"the PDF has {len(reader.pages)} pages; at most {MAX_PDF_PAGES} are read: "
                "split it into several files",
                field="file",
            )
        pages = [page.extract_text() or "" for page in reader.pages]
    except ValidationFailed:
        raise
    except FileNotDecryptedError:
        raise ValidationFailed(
            "the PDF is protected by a password; upload an unprotected copy",
            field="file",
            reason="encrypted",
        ) from None
    except Exception as exc:  # malformed files raise many kinds of error (pypdf's and others)
        raise ValidationFailed(
            f"the PDF could not be read ({type(exc).__name__}); it may be damaged: export it "
            "again or paste its text",
            field="file",
            reason="unreadable",
        ) from None
    text = _checked("\n\n".join(clean_text(p) for p in pages))
    if not text:
        raise ValidationFailed(
            "the PDF has no text to learn from (a scan or images only?); paste its text instead",
            field="file",
            reason="no_text",
        )
    return text


# -- files --------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    else:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
    raise ValidationFailed("the file is not UTF-8 text; save it as UTF-8", field="file")


def file_kind(filename: str, data: bytes) -> str:
    """The kind of an uploaded file: ``pdf`` by its first bytes whatever its name, else by
    its extension (415 for any other)."""
    if is_pdf(data):
        return "pdf"
    dot = filename.rfind(".")
    kind = FILE_KINDS.get(filename[dot:].lower()) if dot >= 0 else None
    if kind is None:
        raise sdk.UnsupportedMediaType(
            f"upload a {ALLOWED_FILES} file", allowed=sorted(set(FILE_KINDS))
        )
    if kind == "pdf":
        raise ValidationFailed(
            "the file is named .pdf but is not a PDF", field="file", reason="unreadable"
        )
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise sdk.UnsupportedMediaType(
            f"the file is not text; upload a {ALLOWED_FILES} file",
            allowed=sorted(set(FILE_KINDS)),
        )
    return kind


def from_file(kind: str, data: bytes) -> str:
    """The text of an uploaded file of ``kind`` (from :func:`file_kind`). Its time grows
    with the file: call it through ``sdk.run_cpu``."""
    if kind == "pdf":
        return from_pdf(data)
    return extract(kind, _decode(data))


# -- website pages ------------------------------------------------------------------------


def _walk(nodes: Any, depth: int = 0) -> Iterable[Mapping[str, Any]]:
    if not isinstance(nodes, list) or depth > 20:
        return
    for node in nodes:
        if isinstance(node, Mapping):
            yield node
            yield from _walk(node.get("children"), depth + 1)


def page_text(properties: Mapping[str, Any], tree: Any = None) -> str:
    """The words of a website ``page`` thing: its title, SEO description and every
    component's text props (``tree`` overrides the draft tree in ``properties``, e.g.
    with the published revision's)."""
    parts: list[str] = []
    title = properties.get("title")
    if isinstance(title, str):
        parts.append(title)
    seo = properties.get("seo")
    if isinstance(seo, Mapping) and isinstance(seo.get("description"), str):
        parts.append(seo["description"])
    for node in _walk(properties.get("tree") if tree is None else tree):
        props = node.get("props")
        if not isinstance(props, Mapping):
            continue
        for key in PAGE_TEXT_PROPS:
            value = props.get(key)
            if not isinstance(value, str) or not value.strip():
                continue
            parts.append(from_html(value) if key == "html" else value)
    text = "\n\n".join(clean_text(p) for p in parts if p.strip())
    return _checked(text)
