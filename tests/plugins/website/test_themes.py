"""Site themes: WCAG contrast of every built-in palette, and the stylesheet a page gets."""

from __future__ import annotations

import re
from typing import Any

import pytest
from markupsafe import Markup

from plugins.website.components import (
    BUILTIN_COMPONENTS,
    Component,
    MediaRef,
    RenderContext,
)
from plugins.website.themes import (
    BASE_CSS,
    BUILTIN_THEMES,
    FONT_KEYS,
    PALETTE_KEYS,
    Theme,
    check_theme,
    contrast_ratio,
    relative_luminance,
    theme_css,
)

# -- contrast_ratio ------------------------------------------------------------------------


def test_black_on_white_is_21() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#ffffff", "#000000") == pytest.approx(21.0)


def test_same_colour_is_1() -> None:
    for colour in ("#ffffff", "#000", "#1d4ed8", "#777777"):
        assert contrast_ratio(colour, colour) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("fg", "bg", "expected"),
    [
        ("#767676", "#ffffff", 4.54),  # the lightest grey that passes AA on white
        ("#777777", "#ffffff", 4.48),  # ... and the first one that fails
        ("#595959", "#ffffff", 7.0),  # AAA on white
        ("#ff0000", "#ffffff", 4.0),
        ("#0000ff", "#ffffff", 8.59),
        ("#00ff00", "#000000", 15.3),
    ],
)
def test_known_ratios(fg: str, bg: str, expected: float) -> None:
    assert contrast_ratio(fg, bg) == pytest.approx(expected, abs=0.01)


def test_short_hex_equals_long_hex_and_case_does_not_matter() -> None:
    assert contrast_ratio("#fff", "#000") == pytest.approx(21.0)
    assert contrast_ratio("#abc", "#123") == contrast_ratio("#aabbcc", "#112233")
    assert contrast_ratio("#1D4ED8", "#FFF") == contrast_ratio("#1d4ed8", "#ffffff")


def test_relative_luminance_of_extremes() -> None:
    assert relative_luminance("#000") == 0.0
    assert relative_luminance("#fff") == pytest.approx(1.0)


@pytest.mark.parametrize("bad", ["fff", "#ffff", "#gggggg", "red", "", "#1234567"])
def test_contrast_ratio_rejects_non_hex(bad: str) -> None:
    with pytest.raises(ValueError, match="hex"):
        contrast_ratio(bad, "#ffffff")


# -- the built-in themes --------------------------------------------------------------------


def test_three_builtin_themes_with_unique_names() -> None:
    names = [theme.name for theme in BUILTIN_THEMES]
    assert {"classic", "midnight", "sunrise"} <= set(names)
    assert len(names) == len(set(names))
    for theme in BUILTIN_THEMES:
        assert theme.label and theme.description


@pytest.mark.parametrize("theme", BUILTIN_THEMES, ids=lambda t: t.name)
def test_builtin_theme_passes_contrast_checks(theme: Theme) -> None:
    assert check_theme(theme) == []


@pytest.mark.parametrize("theme", BUILTIN_THEMES, ids=lambda t: t.name)
@pytest.mark.parametrize("mode", ["light", "dark"])
def test_builtin_palette_is_complete_and_aa(theme: Theme, mode: str) -> None:
    palette: dict[str, str] = getattr(theme, mode)
    assert set(PALETTE_KEYS) <= set(palette)
    for fg in ("--cp-text", "--cp-muted-text", "--cp-link"):
        for bg in ("--cp-bg", "--cp-surface"):
            assert contrast_ratio(palette[fg], palette[bg]) >= 4.5, (fg, bg)
    assert contrast_ratio(palette["--cp-on-accent"], palette["--cp-accent"]) >= 4.5
    assert contrast_ratio(palette["--cp-focus"], palette["--cp-bg"]) >= 3.0


def test_builtin_themes_differ_between_light_and_dark() -> None:
    for theme in BUILTIN_THEMES:
        assert theme.light["--cp-bg"] != theme.dark["--cp-bg"]
        assert relative_luminance(theme.light["--cp-bg"]) > relative_luminance(
            theme.dark["--cp-bg"]
        )


def test_fonts_are_system_stacks() -> None:
    for theme in BUILTIN_THEMES:
        assert set(FONT_KEYS) <= set(theme.fonts)
        for stack in theme.fonts.values():
            assert stack.rstrip().endswith(("sans-serif", "serif", "monospace"))


# -- check_theme ---------------------------------------------------------------------------


def _palette(**overrides: str) -> dict[str, str]:
    base = dict(BUILTIN_THEMES[0].light)
    base.update({f"--cp-{key.replace('_', '-')}": value for key, value in overrides.items()})
    return base


def test_check_theme_reports_low_contrast_pairs() -> None:
    theme = Theme(
        "pale",
        "Pale",
        light=_palette(muted_text="#aaaaaa", on_accent="#eeeeee", accent="#ffffff"),
        dark=dict(BUILTIN_THEMES[0].dark),
    )
    problems = check_theme(theme)
    assert any("--cp-muted-text" in p and "--cp-bg" in p and "light" in p for p in problems)
    assert any("--cp-muted-text" in p and "--cp-surface" in p for p in problems)
    assert any("--cp-on-accent" in p and "--cp-accent" in p for p in problems)
    assert not any(" dark:" in p for p in problems)


def test_check_theme_reports_weak_focus_ring() -> None:
    theme = Theme(
        "ring", "Ring", light=_palette(focus="#eeeeee"), dark=dict(BUILTIN_THEMES[0].dark)
    )
    problems = check_theme(theme)
    assert problems and all("--cp-focus" in p for p in problems)


def test_check_theme_reports_missing_and_non_hex_colours() -> None:
    light = _palette()
    del light["--cp-link"]
    light["--cp-text"] = "black"
    theme = Theme("broken", "Broken", light=light, dark={})
    problems = check_theme(theme)
    assert any("light: --cp-link is missing" in p for p in problems)
    assert any("--cp-text is not a hex colour" in p for p in problems)
    assert sum("dark:" in p and "missing" in p for p in problems) == len(PALETTE_KEYS)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"--cp-bg": "#fff}</style><script>alert(1)</script>"}, "contains"),
        ({"--cp-bg": "red;background:url(x)"}, "contains"),
        ({"background": "#fff"}, "property name"),
        ({"--other": "#fff"}, "property name"),
    ],
)
def test_theme_refuses_values_that_could_escape_the_stylesheet(
    props: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Theme("evil", "Evil", light=props)


# -- theme_css -----------------------------------------------------------------------------


def _only_in(theme: Theme, mode: str) -> set[str]:
    """Colour values of ``mode``'s palette that the other palette does not use."""
    other = theme.dark if mode == "light" else theme.light
    return set(getattr(theme, mode).values()) - set(other.values())


@pytest.mark.parametrize("theme", BUILTIN_THEMES, ids=lambda t: t.name)
def test_auto_mode_has_both_palettes_and_a_dark_media_query(theme: Theme) -> None:
    css = theme_css(theme, "auto")
    assert "prefers-color-scheme:dark" in css.replace(" ", "")
    assert "color-scheme:light dark" in css
    for value in _only_in(theme, "light") | _only_in(theme, "dark"):
        assert value in css
    head, _, dark = css.partition("@media (prefers-color-scheme:dark)")
    assert f"--cp-bg:{theme.light['--cp-bg']}" in head
    assert dark.startswith(f"{{:root{{--cp-bg:{theme.dark['--cp-bg']}")


@pytest.mark.parametrize("theme", BUILTIN_THEMES, ids=lambda t: t.name)
def test_light_mode_has_only_the_light_palette(theme: Theme) -> None:
    css = theme_css(theme, "light")
    assert "prefers-color-scheme" not in css
    assert "color-scheme:light" in css
    for value in _only_in(theme, "dark"):
        assert value not in css
    for key, value in theme.light.items():
        assert f"{key}:{value}" in css


@pytest.mark.parametrize("theme", BUILTIN_THEMES, ids=lambda t: t.name)
def test_dark_mode_has_only_the_dark_palette(theme: Theme) -> None:
    css = theme_css(theme, "dark")
    assert "prefers-color-scheme" not in css
    assert "color-scheme:dark" in css
    for value in _only_in(theme, "light"):
        assert value not in css
    for key, value in theme.dark.items():
        assert f"{key}:{value}" in css


def test_unknown_mode_falls_back_to_auto() -> None:
    theme = BUILTIN_THEMES[0]
    assert theme_css(theme, "sepia") == theme_css(theme, "auto")


def test_css_is_cached_per_theme_and_mode() -> None:
    theme = BUILTIN_THEMES[1]
    assert theme_css(theme, "dark") is theme_css(theme, "dark")
    other = Theme(
        theme.name, theme.label, light=dict(theme.light), dark=dict(BUILTIN_THEMES[2].dark)
    )
    assert theme_css(other, "dark") != theme_css(theme, "dark")


def test_fonts_are_declared_and_no_web_fonts_are_loaded() -> None:
    for theme in BUILTIN_THEMES:
        css = theme_css(theme, "auto")
        assert "--cp-font-body:" in css and "--cp-font-heading:" in css
        assert "@font-face" not in css and "@import" not in css and "url(" not in css


def test_css_is_small_and_balanced() -> None:
    for theme in BUILTIN_THEMES:
        for mode in ("auto", "light", "dark"):
            css = theme_css(theme, mode)
            assert len(css.encode()) < 8 * 1024
            assert css.count("{") == css.count("}")
            assert css.count("(") == css.count(")")
            assert "<" not in css


def test_css_has_accessibility_rules() -> None:
    css = BASE_CSS
    assert ":focus-visible{outline:3px solid var(--cp-ring,var(--cp-focus))" in css
    assert "prefers-reduced-motion:reduce" in css
    assert ".cp-skip{" in css and ".cp-skip:focus{" in css


def test_accent_sections_swap_text_link_and_button_colours() -> None:
    rule = re.search(r"\.cp-bg-accent\{([^}]*)\}", BASE_CSS)
    assert rule is not None
    body = rule.group(1)
    assert "background:var(--cp-accent)" in body
    assert "--cp-fg:var(--cp-on-accent)" in body and "color:var(--cp-fg)" in body
    assert "--cp-a:var(--cp-on-accent)" in body  # links
    assert "--cp-bb:var(--cp-on-accent)" in body and "--cp-bf:var(--cp-accent)" in body
    assert "--cp-ring:var(--cp-on-accent)" in body  # focus ring stays visible
    assert "color:var(--cp-bf,var(--cp-on-accent))" in BASE_CSS  # primary button text
    assert "color:var(--cp-a,var(--cp-link))" in BASE_CSS  # links and secondary buttons


def test_columns_stack_on_narrow_screens() -> None:
    assert ".cp-columns{display:grid;grid-template-columns:minmax(0,1fr)" in BASE_CSS
    wide = BASE_CSS[BASE_CSS.index("@media (min-width:") :]
    for n in (2, 3, 4):
        assert f".cp-cols-{n}" in wide


# -- every class a built-in component emits is styled -------------------------------------

_VARIANTS: dict[str, list[dict[str, Any]]] = {
    "heading": [{"align": a} for a in ("start", "center", "end")],
    "text": [{"align": a} for a in ("start", "center", "end")],
    "button": [{"style": "primary"}, {"style": "secondary"}],
    "image": [
        {"src": "https://example.com/a.png", "alt": "A", "width": "auto", "caption": "c"},
        {"asset_id": "a1", "alt": "A", "width": "full"},
        {},
    ],
    "section": [
        {"background": b, "padding": p, "width": w}
        for b, p, w in zip(
            ("default", "muted", "accent"),
            ("small", "medium", "large"),
            ("narrow", "normal", "wide"),
            strict=True,
        )
    ],
    "columns": [{"columns": c, "gap": g} for c, g in ((2, "small"), (3, "medium"), (4, "large"))],
    "embed": [{"url": "https://example.com/v", "title": "Video"}, {}],
}


def _classes(component: Component, props: dict[str, Any], editing: bool) -> set[str]:
    ctx = RenderContext(editing=editing, media={"a1": MediaRef("/media/a1.png", 10, 10)})
    html = component.render(component.props(**props), Markup("<p>x</p>"), ctx)
    found: set[str] = set()
    for value in re.findall(r'class="([^"]*)"', str(html)):
        found.update(value.split())
    return found


def test_every_builtin_component_class_is_styled() -> None:
    classes: set[str] = set()
    for component in BUILTIN_COMPONENTS:
        for props in _VARIANTS[component.type]:
            classes |= _classes(component, props, editing=False)
            classes |= _classes(component, props, editing=True)
    assert {"cp-image-empty", "cp-embed-empty", "cp-section-inner", "cp-cols-4"} <= classes
    missing = {c for c in classes if not re.search(rf"\.{re.escape(c)}(?![\w-])", BASE_CSS)}
    assert not missing
