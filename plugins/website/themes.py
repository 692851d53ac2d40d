"""Site themes: the look of a whole public site.

A :class:`Theme` is a set of CSS custom properties, one palette for light and one for dark
colour schemes, plus font stacks (system fonts only: a public page loads nothing but
itself). :func:`theme_css` turns a theme into the complete inline stylesheet of a page;
:func:`check_theme` lists every colour pair that misses WCAG AA contrast, so a theme
another plugin registers can be checked the same way as the built-in ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Every colour a palette defines, and what it is for.
PALETTE_KEYS: tuple[str, ...] = (
    "--cp-bg",  # page background
    "--cp-surface",  # muted section and footer background
    "--cp-text",  # body text
    "--cp-muted-text",  # captions, footer
    "--cp-accent",  # primary button and accent section background
    "--cp-on-accent",  # text on --cp-accent
    "--cp-link",  # links, secondary buttons
    "--cp-border",  # dividers (decorative)
    "--cp-focus",  # focus ring
)
FONT_KEYS: tuple[str, ...] = ("--cp-font-body", "--cp-font-heading")

SANS = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", Arial, sans-serif'
SERIF = 'Charter, "Bitstream Charter", "Sitka Text", Cambria, Georgia, serif'
HUMANIST = 'Seravek, "Gill Sans Nova", Ubuntu, Calibri, "DejaVu Sans", sans-serif'
GEOMETRIC = 'Avenir, "Avenir Next", Montserrat, Corbel, "URW Gothic", sans-serif'

DEFAULT_FONTS: dict[str, str] = {"--cp-font-body": SANS, "--cp-font-heading": SANS}

_NAME_RE = re.compile(r"^--cp-[a-z0-9-]{1,40}$")
#: Characters that could end a declaration, a rule or the ``<style>`` element.
_UNSAFE_VALUE = re.compile(r"[<>{};\\\n\r]")
_HEX_RE = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


@dataclass(frozen=True)
class Theme:
    """A look for a whole site: CSS custom properties for a light and a dark palette.

    ``light`` and ``dark`` map each of :data:`PALETTE_KEYS` to a hex colour; ``fonts``
    maps :data:`FONT_KEYS` to font stacks (a palette may also override a font). Names
    must start with ``--cp-`` and values cannot contain ``< > { } ;``: a theme can restyle
    a page, never inject into it."""

    name: str
    label: str
    description: str = ""
    light: dict[str, str] = field(default_factory=dict)
    dark: dict[str, str] = field(default_factory=dict)
    fonts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FONTS))

    def __post_init__(self) -> None:
        for where, props in (("light", self.light), ("dark", self.dark), ("fonts", self.fonts)):
            for key, value in props.items():
                if not _NAME_RE.match(key):
                    raise ValueError(
                        f"theme {self.name!r} {where}: {key!r} is not a --cp-* property name"
                    )
                if _UNSAFE_VALUE.search(value):
                    raise ValueError(
                        f"theme {self.name!r} {where}: the value of {key} contains one of "
                        "< > { } ; \\ or a line break"
                    )


BUILTIN_THEMES: tuple[Theme, ...] = (
    Theme(
        "classic",
        "Classic",
        "Clean white pages, deep blue accents and serif headings. Easy to read anywhere.",
        light={
            "--cp-bg": "#ffffff",
            "--cp-surface": "#f3f5f8",
            "--cp-text": "#1a1d23",
            "--cp-muted-text": "#4b5361",
            "--cp-accent": "#1d4ed8",
            "--cp-on-accent": "#ffffff",
            "--cp-link": "#1b48c4",
            "--cp-border": "#d3d8e0",
            "--cp-focus": "#1d4ed8",
        },
        dark={
            "--cp-bg": "#111418",
            "--cp-surface": "#1b2028",
            "--cp-text": "#eef1f5",
            "--cp-muted-text": "#aab3c0",
            "--cp-accent": "#8ab4ff",
            "--cp-on-accent": "#0b1220",
            "--cp-link": "#8ab4ff",
            "--cp-border": "#343c48",
            "--cp-focus": "#8ab4ff",
        },
        fonts={"--cp-font-body": SANS, "--cp-font-heading": SERIF},
    ),
    Theme(
        "midnight",
        "Midnight",
        "Ink blue and violet with cool greys; striking in dark mode, calm in light.",
        light={
            "--cp-bg": "#f7f7fc",
            "--cp-surface": "#ebebf7",
            "--cp-text": "#181830",
            "--cp-muted-text": "#4a4a68",
            "--cp-accent": "#4f3cc9",
            "--cp-on-accent": "#ffffff",
            "--cp-link": "#4334b5",
            "--cp-border": "#cfcfe6",
            "--cp-focus": "#6d28d9",
        },
        dark={
            "--cp-bg": "#0d0f1e",
            "--cp-surface": "#171a2e",
            "--cp-text": "#e8e9f7",
            "--cp-muted-text": "#a4a8c8",
            "--cp-accent": "#a599ff",
            "--cp-on-accent": "#14102e",
            "--cp-link": "#b4abff",
            "--cp-border": "#2e3252",
            "--cp-focus": "#c4bbff",
        },
        fonts={"--cp-font-body": SANS, "--cp-font-heading": SANS},
    ),
    Theme(
        "sunrise",
        "Sunrise",
        "Warm cream and terracotta with friendly rounded type.",
        light={
            "--cp-bg": "#fffaf5",
            "--cp-surface": "#fcecdd",
            "--cp-text": "#2b1d14",
            "--cp-muted-text": "#664a37",
            "--cp-accent": "#a8380f",
            "--cp-on-accent": "#ffffff",
            "--cp-link": "#9c340e",
            "--cp-border": "#ecd2bc",
            "--cp-focus": "#c2410c",
        },
        dark={
            "--cp-bg": "#1c130e",
            "--cp-surface": "#2a1d15",
            "--cp-text": "#fbeee4",
            "--cp-muted-text": "#d4b8a3",
            "--cp-accent": "#ffa270",
            "--cp-on-accent": "#2b1206",
            "--cp-link": "#ffb48a",
            "--cp-border": "#4a3426",
            "--cp-focus": "#ffb48a",
        },
        fonts={"--cp-font-body": HUMANIST, "--cp-font-heading": GEOMETRIC},
    ),
)


# -- contrast -----------------------------------------------------------------------------


def _rgb(color: str) -> tuple[int, int, int]:
    if not _HEX_RE.match(color):
        raise ValueError(f"not a hex colour (#rgb or #rrggbb): {color!r}")
    digits = color[1:]
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(color: str) -> float:
    """WCAG 2.x relative luminance of a hex colour (0 black … 1 white)."""
    r, g, b = _rgb(color)
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(fg: str, bg: str) -> float:
    """WCAG 2.x contrast ratio of two hex colours (``#rgb`` or ``#rrggbb``): 1 to 21."""
    a, b = relative_luminance(fg), relative_luminance(bg)
    lighter, darker = max(a, b), min(a, b)
    return (lighter + 0.05) / (darker + 0.05)


#: (foreground, background, minimum ratio) pairs every palette must meet: AA for text
#: (4.5:1), 3:1 for the focus ring (a non-text indicator, WCAG 1.4.11).
CONTRAST_PAIRS: tuple[tuple[str, str, float], ...] = (
    ("--cp-text", "--cp-bg", 4.5),
    ("--cp-text", "--cp-surface", 4.5),
    ("--cp-muted-text", "--cp-bg", 4.5),
    ("--cp-muted-text", "--cp-surface", 4.5),
    ("--cp-link", "--cp-bg", 4.5),
    ("--cp-link", "--cp-surface", 4.5),
    ("--cp-on-accent", "--cp-accent", 4.5),
    ("--cp-focus", "--cp-bg", 3.0),
    ("--cp-focus", "--cp-surface", 3.0),
)


def check_theme(theme: Theme) -> list[str]:
    """Every problem of ``theme``'s palettes: a missing or non-hex colour, or a pair of
    :data:`CONTRAST_PAIRS` below its minimum. Empty when the theme is fine."""
    problems: list[str] = []
    for mode, palette in (("light", theme.light), ("dark", theme.dark)):
        bad: set[str] = set()
        for key in PALETTE_KEYS:
            value = palette.get(key)
            if value is None:
                problems.append(f"{theme.name} {mode}: {key} is missing")
                bad.add(key)
            elif not _HEX_RE.match(value):
                problems.append(f"{theme.name} {mode}: {key} is not a hex colour: {value!r}")
                bad.add(key)
        for fg, bg, minimum in CONTRAST_PAIRS:
            if fg in bad or bg in bad:
                continue
            ratio = contrast_ratio(palette[fg], palette[bg])
            if ratio < minimum:
                problems.append(
                    f"{theme.name} {mode}: {fg} {palette[fg]} on {bg} {palette[bg]} has "
                    f"contrast {ratio:.2f}:1, below {minimum:g}:1"
                )
    return problems


# -- the stylesheet -----------------------------------------------------------------------

# Sections set the colours their content uses (--cp-fg text, --cp-a links, --cp-mt muted
# text, --cp-bb/--cp-bf primary button, --cp-ring focus), so an accent section swaps
# them and anything nested in a default or muted section gets them back.
_BASE_CSS = """
*,*::before,*::after{box-sizing:border-box}
@media (prefers-reduced-motion:no-preference){html{scroll-behavior:smooth}}
body{margin:0;min-height:100vh;display:flex;flex-direction:column;
 background:var(--cp-bg);color:var(--cp-text);font:1.0625rem/1.6 var(--cp-font-body);
 overflow-wrap:break-word}
h1,h2,h3,h4,h5,h6{font-family:var(--cp-font-heading);line-height:1.2;margin:0 0 .5em;
 text-wrap:balance}
h1{font-size:clamp(2rem,1.5rem + 2.5vw,3rem)}
h2{font-size:clamp(1.6rem,1.3rem + 1.5vw,2.25rem)}
h3{font-size:1.375rem}
h4{font-size:1.15rem}
p,ul,ol,blockquote,pre,figure{margin:0 0 1rem}
a{color:var(--cp-a,var(--cp-link));text-underline-offset:.15em}
a:hover{text-decoration-thickness:.125em}
img{max-width:100%;height:auto}
blockquote{padding-inline-start:1rem;border-inline-start:4px solid currentColor}
pre{overflow:auto}
:focus-visible{outline:3px solid var(--cp-ring,var(--cp-focus));outline-offset:2px}
.cp-skip{position:absolute;left:1rem;top:-10rem;z-index:10;padding:.625rem 1rem;
 border-radius:.375rem;background:var(--cp-accent);color:var(--cp-on-accent);
 font-weight:600}
.cp-skip:focus{top:1rem;outline-color:var(--cp-text)}
.cp-preview{margin:0;padding:.5rem 1rem;text-align:center;font-weight:600;
 background:var(--cp-text);color:var(--cp-bg)}
.cp-wrap{width:min(72rem,100% - 2.5rem);margin-inline:auto}
.cp-header{border-bottom:1px solid var(--cp-border)}
.cp-header .cp-wrap{padding-block:1rem}
.cp-header-bar{display:flex;align-items:center;justify-content:space-between;gap:1rem}
.cp-site-name{display:inline-flex;align-items:center;gap:.625rem;min-width:0;
 font:700 1.25rem/1.3 var(--cp-font-heading);color:var(--cp-text);text-decoration:none}
.cp-site-name:hover{text-decoration:underline}
.cp-logo{display:block;height:2.5rem;width:auto;max-width:12rem;object-fit:contain}
.cp-nav{position:relative;flex:none}
.cp-nav ul{list-style:none;margin:0;padding:0}
.cp-menu{display:flex;flex-wrap:wrap;justify-content:flex-end;gap:.25rem 1.75rem}
.cp-nav a{display:inline-block;padding:.375rem 0;color:var(--cp-text);font-weight:500;
 text-decoration:none}
.cp-nav a:hover{text-decoration:underline}
.cp-nav a[aria-current=page]{color:var(--cp-link);box-shadow:inset 0 -2px 0 currentColor}
.cp-menu-small{display:none}
.cp-menu-small summary{display:flex;align-items:center;gap:.5rem;padding:.5rem .875rem;
 border:1px solid var(--cp-border);border-radius:.5rem;font-weight:600;cursor:pointer;
 list-style:none}
.cp-menu-small summary::-webkit-details-marker{display:none}
.cp-menu-small summary::before{content:"";width:1rem;height:.75rem;
 background:linear-gradient(currentColor 0 0) top/100% 2px no-repeat,
 linear-gradient(currentColor 0 0) center/100% 2px no-repeat,
 linear-gradient(currentColor 0 0) bottom/100% 2px no-repeat}
.cp-menu-small[open] summary{background:var(--cp-surface)}
.cp-menu-small ul{position:absolute;right:0;top:calc(100% + .5rem);z-index:5;
 min-width:14rem;padding:.375rem;background:var(--cp-bg);border:1px solid var(--cp-border);
 border-radius:.5rem;box-shadow:0 .5rem 1.5rem rgb(0 0 0 / .14)}
.cp-menu-small li a{display:block;padding:.625rem .75rem;border-radius:.375rem}
.cp-menu-small li a[aria-current=page]{box-shadow:none;background:var(--cp-surface)}
@media (max-width:40rem){.cp-menu{display:none}.cp-menu-small{display:block}}
.cp-main{flex:1;display:grid;align-content:start;padding-bottom:2.5rem;
 grid-template-columns:minmax(1.25rem,1fr) min(60rem,100% - 2.5rem) minmax(1.25rem,1fr)}
.cp-main>*{grid-column:2;min-width:0}
.cp-main>.cp-section{grid-column:1/-1}
.cp-main>:not(.cp-section):first-child,.cp-section+:not(.cp-section){margin-top:2.5rem}
.cp-main>.cp-button{justify-self:start}
.cp-footer{background:var(--cp-surface);color:var(--cp-muted-text);
 border-top:1px solid var(--cp-border);font-size:.9375rem}
.cp-footer .cp-wrap{display:flex;flex-wrap:wrap;align-items:baseline;
 justify-content:space-between;gap:.75rem 2rem;padding-block:1.5rem}
.cp-footer p{margin:0}
.cp-footer-links{display:flex;flex-wrap:wrap;gap:.25rem 1.25rem;list-style:none;margin:0;
 padding:0}
.cp-footer-links a{display:inline-block;padding-block:.25rem;color:var(--cp-muted-text)}
.cp-align-start{text-align:start}
.cp-align-center{text-align:center}
.cp-align-end{text-align:end}
.cp-heading:not(:first-child){margin-top:1.5rem}
.cp-text{margin-bottom:1rem}
.cp-text>:last-child{margin-bottom:0}
.cp-button{display:inline-block;margin:0 .5rem 1rem 0;padding:.6875rem 1.25rem;
 border:2px solid;border-radius:.5rem;font-weight:600;line-height:1.2;
 text-decoration:none;transition:background-color .15s,color .15s}
.cp-button:hover{text-decoration:underline}
.cp-button-primary{background:var(--cp-bb,var(--cp-accent));
 color:var(--cp-bf,var(--cp-on-accent));border-color:var(--cp-bb,var(--cp-accent))}
.cp-button-secondary{background:transparent;color:var(--cp-a,var(--cp-link));
 border-color:currentColor}
.cp-image img{display:block;border-radius:.5rem}
.cp-image-auto img{width:auto}
.cp-image-full img{width:100%}
.cp-image figcaption{margin-top:.5rem;font-size:.9375rem;
 color:var(--cp-mt,var(--cp-muted-text))}
.cp-image-empty,.cp-embed-empty{display:grid;place-items:center;min-height:8rem;
 margin-bottom:1.5rem;padding:1rem;border:2px dashed var(--cp-muted-text);
 border-radius:.5rem;background:var(--cp-surface);color:var(--cp-muted-text)}
.cp-bg-default,.cp-bg-muted{--cp-fg:var(--cp-text);--cp-a:var(--cp-link);
 --cp-mt:var(--cp-muted-text);--cp-bb:var(--cp-accent);--cp-bf:var(--cp-on-accent);
 --cp-ring:var(--cp-focus)}
.cp-bg-default{background:var(--cp-bg);color:var(--cp-fg)}
.cp-bg-muted{background:var(--cp-surface);color:var(--cp-fg)}
.cp-bg-accent{--cp-fg:var(--cp-on-accent);--cp-a:var(--cp-on-accent);
 --cp-mt:var(--cp-on-accent);--cp-bb:var(--cp-on-accent);--cp-bf:var(--cp-accent);
 --cp-ring:var(--cp-on-accent);background:var(--cp-accent);color:var(--cp-fg)}
.cp-pad-small{padding-block:1.5rem}
.cp-pad-medium{padding-block:3rem}
.cp-pad-large{padding-block:clamp(4rem,3rem + 4vw,6rem)}
.cp-width-narrow{--cp-w:40rem}
.cp-width-normal{--cp-w:60rem}
.cp-width-wide{--cp-w:72rem}
.cp-section-inner{width:min(var(--cp-w,60rem),100% - 2.5rem);margin-inline:auto}
.cp-section-inner>:last-child{margin-bottom:0}
.cp-section .cp-section .cp-section-inner{width:100%}
.cp-columns{display:grid;grid-template-columns:minmax(0,1fr);margin-bottom:1.5rem}
.cp-columns>*{min-width:0;margin-bottom:0}
.cp-gap-small{gap:.75rem}
.cp-gap-medium{gap:1.5rem}
.cp-gap-large{gap:clamp(1.5rem,1rem + 2vw,3rem)}
@media (min-width:40rem){.cp-cols-2,.cp-cols-4{grid-template-columns:repeat(2,minmax(0,1fr))}}
@media (min-width:56rem){.cp-cols-3{grid-template-columns:repeat(3,minmax(0,1fr))}
 .cp-cols-4{grid-template-columns:repeat(4,minmax(0,1fr))}}
.cp-embed{margin-bottom:1.5rem}
.cp-embed iframe{display:block;width:100%;border:0;border-radius:.5rem;
 background:var(--cp-surface)}
@media (prefers-reduced-motion:reduce){*{transition:none!important;animation:none!important}}
"""


def _minify(css: str) -> str:
    css = re.sub(r"\s+", " ", css)
    css = re.sub(r"\s*([{};,])\s*", r"\1", css)
    return css.replace(";}", "}").strip()


BASE_CSS = _minify(_BASE_CSS)


def _declarations(props: dict[str, str]) -> str:
    return ";".join(f"{key}:{_COMMA.sub(',', value.strip())}" for key, value in props.items())


_COMMA = re.compile(r"\s*,\s*")
_COLOR_MODES = ("auto", "light", "dark")
_css_cache: dict[tuple[int, str], tuple[Theme, str]] = {}


def theme_css(theme: Theme, color_mode: str) -> str:
    """The stylesheet of a page in ``theme``: its custom properties and the base styles of
    the page shell and of every built-in component.

    ``color_mode`` ``light`` or ``dark`` uses that palette only; ``auto`` (also the answer
    to an unknown mode) uses the light one and switches to the dark one when the visitor's
    system prefers it. Built once per theme and mode, then served from memory."""
    if color_mode not in _COLOR_MODES:
        color_mode = "auto"
    key = (id(theme), color_mode)
    cached = _css_cache.get(key)
    if cached is not None and cached[0] is theme:
        return cached[1]
    fonts = _declarations({**DEFAULT_FONTS, **theme.fonts})
    if color_mode == "auto":
        root = (
            f":root{{color-scheme:light dark;{fonts};{_declarations(theme.light)}}}"
            "@media (prefers-color-scheme:dark){"
            f":root{{{_declarations(theme.dark)}}}}}"
        )
    else:
        palette = theme.light if color_mode == "light" else theme.dark
        root = f":root{{color-scheme:{color_mode};{fonts};{_declarations(palette)}}}"
    css = root + BASE_CSS
    if len(_css_cache) > 256:
        _css_cache.clear()
    _css_cache[key] = (theme, css)
    return css
