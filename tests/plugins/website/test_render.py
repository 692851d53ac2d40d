"""Whole documents: a page's HTML and metadata, the 404 page, sitemap.xml and robots.txt."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import Any

import pytest
from markupsafe import Markup

from plugins.website.components import (
    BUILTIN_COMPONENTS,
    ComponentRegistry,
    MediaRef,
    RenderContext,
)
from plugins.website.render import (
    MenuPage,
    NavLink,
    PageInfo,
    SiteInfo,
    not_found_document,
    page_document,
    page_url,
    resolve_menu,
    robots_txt,
    sitemap_xml,
)
from plugins.website.themes import BUILTIN_THEMES, Theme, theme_css
from plugins.website.types import Node, Seo, SiteSettings

THEME: Theme = BUILTIN_THEMES[0]
HOSTILE = '</script><script>alert("x")</script><img src=x onerror=alert(1)>'
PUBLISHED = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
UPDATED = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def site(**changes: Any) -> SiteInfo:
    settings = changes.pop("settings", SiteSettings())
    values: dict[str, Any] = {
        "id": "s1",
        "name": "Ada's Studio",
        "slug": "ada",
        "description": "Pottery and workshops",
        "language": "en",
        "settings": settings,
        "base_url": "https://example.com/sites/ada",
    }
    values.update(changes)
    return SiteInfo(**values)


def page(**changes: Any) -> PageInfo:
    values: dict[str, Any] = {
        "id": "p1",
        "slug": "about",
        "title": "About us",
        "seo": Seo(),
        "is_home": False,
        "published_at": PUBLISHED,
        "updated_at": UPDATED,
    }
    values.update(changes)
    return PageInfo(**values)


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside each ``<script>``."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[str] = []
        self.title = ""
        self._in: str | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag in {"script", "title"}:
            self._in = tag
            if tag == "script":
                self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.scripts[-1] += data
        elif self._in == "title":
            self.title += data

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            a
            for t, a in self.tags
            if t == tag
            and all(a.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())
        ]

    def meta(self, key: str) -> str | None:
        found = self.find("meta", name=key) or self.find("meta", property=key)
        return found[0]["content"] if found else None


def json_ld(html: str) -> dict[str, Any]:
    scripts = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert len(scripts) == 1
    data: dict[str, Any] = json.loads(scripts[0])
    return data


def document(s: SiteInfo | None = None, p: PageInfo | None = None, **kw: Any) -> str:
    return page_document(s or site(), p or page(), Markup("<p>Hello</p>"), THEME, **kw)


# -- page_url ------------------------------------------------------------------------------


def test_page_url() -> None:
    assert page_url(site(), "about") == "https://example.com/sites/ada/about"
    assert page_url(site(), "home", is_home=True) == "https://example.com/sites/ada/"
    assert page_url(site(base_url="https://ada.art"), "x") == "https://ada.art/x"


# -- the document --------------------------------------------------------------------------


def test_document_shape_and_landmarks() -> None:
    html = document()
    assert html.startswith('<!doctype html>\n<html lang="en">')
    tags = Tags(html)
    assert tags.find("meta", charset="utf-8")
    assert tags.meta("viewport") == "width=device-width, initial-scale=1"
    assert tags.title == "About us · Ada's Studio"
    body_tags = [t for t, _ in tags.tags[[t for t, _ in tags.tags].index("body") + 1 :]]
    assert body_tags[0] == "a"  # the skip link comes first
    skip = tags.find("a", href="#main")
    assert skip and skip[0]["class"] == "cp-skip"
    assert len(tags.find("header")) == 1
    assert len(tags.find("main", id="main")) == 1
    assert len(tags.find("footer")) == 1
    home = tags.find("a", href="https://example.com/sites/ada/")
    assert home and home[0]["class"] == "cp-site-name"
    assert '<main id="main" class="cp-main">\n<p>Hello</p>\n</main>' in html
    assert "Preview" not in html


def test_theme_stylesheet_is_inline_and_follows_the_colour_mode() -> None:
    for mode in ("auto", "light", "dark"):
        s = site(settings=SiteSettings(color_mode=mode))  # type: ignore[arg-type]
        html = document(s)
        assert f"<style>{theme_css(THEME, mode)}</style>" in html
    assert '<link rel="stylesheet"' not in html


def test_no_javascript_but_the_json_ld_block() -> None:
    html = document(preview=True)
    tags = Tags(html)
    scripts = tags.find("script")
    assert len(scripts) == 1 and scripts[0] == {"type": "application/ld+json"}
    assert html.count("<script") == 1
    assert not any(k.startswith("on") for _, attrs in tags.tags for k in attrs)
    assert "javascript:" not in html


def test_hostile_text_is_escaped_everywhere() -> None:
    s = site(
        name=HOSTILE,
        description=HOSTILE,
        settings=SiteSettings(footer_text=HOSTILE[:300]),
    )
    p = page(title="Page " + HOSTILE, seo=Seo(description=HOSTILE[:300]))
    html = page_document(s, p, Markup("<p>ok</p>"), THEME, preview=True)
    assert "<script>" not in html
    assert "<img" not in html
    assert html.count("</script>") == 1  # only the JSON-LD block's own end tag
    assert "&lt;/script&gt;&lt;script&gt;" in html
    tags = Tags(html)
    assert tags.title == f"Page {HOSTILE} · {HOSTILE}"
    assert tags.meta("description") == HOSTILE
    assert tags.meta("og:title") == f"Page {HOSTILE} · {HOSTILE}"
    assert tags.meta("og:site_name") == HOSTILE
    assert len(tags.scripts) == 1
    data = json.loads(tags.scripts[0])
    assert data["name"] == "Page " + HOSTILE and data["isPartOf"]["name"] == HOSTILE


def test_json_ld_cannot_break_out_of_its_script_element() -> None:
    for evil in ("</script><b>x</b>", "</SCRIPT >", "<!--<script>", "a&b</scr" + "ipt>"):
        html = document(p=page(title=evil))
        block = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
        assert block is not None
        raw = block.group(1)
        assert "<" not in raw and ">" not in raw
        assert json.loads(raw)["name"] == evil
        assert html.lower().count("</script") == 1


def test_hostile_urls_are_escaped_in_attributes() -> None:
    p = page(seo=Seo(image='https://cdn.example/a.png"><script>x()</script>'))
    html = document(p=p)
    assert "<script>x()" not in html
    assert Tags(html).meta("og:image") == 'https://cdn.example/a.png"><script>x()</script>'


def test_canonical_og_and_json_ld_of_a_page() -> None:
    html = document()
    tags = Tags(html)
    url = "https://example.com/sites/ada/about"
    assert tags.find("link", rel="canonical", href=url)
    assert tags.meta("og:type") == "website"
    assert tags.meta("og:title") == "About us · Ada's Studio"
    assert tags.meta("og:url") == url
    assert tags.meta("og:site_name") == "Ada's Studio"
    assert tags.meta("description") == "Pottery and workshops"  # the site's, as fallback
    assert tags.meta("og:description") == "Pottery and workshops"
    assert tags.meta("og:image") is None
    assert tags.meta("twitter:card") == "summary"
    assert tags.meta("robots") is None
    data = json_ld(html)
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "WebPage"
    assert data["name"] == "About us"
    assert data["description"] == "Pottery and workshops"
    assert data["url"] == url
    assert data["inLanguage"] == "en"
    assert data["isPartOf"] == {
        "@type": "WebSite",
        "name": "Ada's Studio",
        "url": "https://example.com/sites/ada/",
    }
    assert data["datePublished"] == "2024-05-01T12:30:00+00:00"
    assert data["dateModified"] == "2024-05-02T08:00:00+00:00"


def test_page_seo_overrides_site_defaults() -> None:
    seo = Seo(
        description="Who we are",
        image="https://cdn.example/og.png",
        canonical_url="https://ada.art/about",
    )
    s = site(settings=SiteSettings(social_image="https://cdn.example/default.png"))
    html = document(s, page(seo=seo))
    tags = Tags(html)
    assert tags.find("link", rel="canonical", href="https://ada.art/about")
    assert tags.meta("og:url") == "https://ada.art/about"
    assert tags.meta("description") == "Who we are"
    assert tags.meta("og:description") == "Who we are"
    assert tags.meta("og:image") == "https://cdn.example/og.png"
    assert tags.meta("twitter:card") == "summary_large_image"
    data = json_ld(html)
    assert data["url"] == "https://ada.art/about"
    assert data["description"] == "Who we are"


def test_social_image_falls_back_to_the_site_and_media_paths_become_absolute() -> None:
    s = site(settings=SiteSettings(social_image="/media/og/site.png"))
    tags = Tags(document(s))
    assert tags.meta("og:image") == "https://example.com/media/og/site.png"
    assert tags.meta("twitter:card") == "summary_large_image"
    tags = Tags(document(site(base_url="https://ada.art"), page(seo=Seo(image="/media/p.png"))))
    assert tags.meta("og:image") == "https://ada.art/media/p.png"


def test_unusable_canonical_and_image_urls_are_refused_and_ignored() -> None:
    with pytest.raises(ValueError, match="canonical_url"):
        Seo(canonical_url="javascript:alert(1)")
    with pytest.raises(ValueError, match="image"):
        Seo(image="javascript:alert(2)")
    seo = Seo()  # as stored before the fields were checked: the renderer still drops them
    seo.canonical_url, seo.image = "javascript:alert(1)", "javascript:alert(2)"
    html = document(p=page(seo=seo))
    tags = Tags(html)
    assert tags.find("link", rel="canonical", href="https://example.com/sites/ada/about")
    assert tags.meta("og:image") is None
    assert "javascript:" not in html


def test_home_page_uses_the_site_root_and_the_site_name_as_title() -> None:
    p = page(slug="home", title="Ada's Studio", is_home=True)
    html = document(p=p)
    tags = Tags(html)
    assert tags.title == "Ada's Studio"
    assert tags.find("link", rel="canonical", href="https://example.com/sites/ada/")
    assert tags.find("a", class_="cp-site-name", aria_current="page")


def test_no_description_means_no_description_tags() -> None:
    html = document(site(description=""), page(seo=Seo()))
    tags = Tags(html)
    assert tags.meta("description") is None and tags.meta("og:description") is None
    assert "description" not in json_ld(html)


def test_unknown_dates_are_left_out_of_json_ld() -> None:
    data = json_ld(document(p=page(published_at=None, updated_at=None)))
    assert "datePublished" not in data and "dateModified" not in data


def test_dates_are_utc_w3c_datetimes() -> None:
    cet = timezone(timedelta(hours=2))
    p = page(published_at=datetime(2024, 5, 1, 14, 30, tzinfo=cet), updated_at=None)
    assert json_ld(document(p=p))["datePublished"] == "2024-05-01T12:30:00+00:00"
    naive = page(published_at=datetime(2024, 5, 1, 12, 30), updated_at=None)
    assert json_ld(document(p=naive))["datePublished"] == "2024-05-01T12:30:00+00:00"


def test_language_is_the_sites() -> None:
    html = document(site(language="pt-BR"))
    assert '<html lang="pt-BR">' in html
    assert json_ld(html)["inLanguage"] == "pt-BR"


@pytest.mark.parametrize(
    ("s", "p", "preview"),
    [
        (site(), page(seo=Seo(noindex=True)), False),
        (site(settings=SiteSettings(allow_indexing=False)), page(), False),
        (site(), page(), True),
    ],
    ids=["page-noindex", "site-disallows-indexing", "preview"],
)
def test_noindex(s: SiteInfo, p: PageInfo, preview: bool) -> None:
    assert Tags(document(s, p, preview=preview)).meta("robots") == "noindex"


def test_indexable_page_has_no_robots_meta() -> None:
    assert 'name="robots"' not in document()


def test_preview_banner() -> None:
    html = document(preview=True)
    banner = Tags(html).find("p", role="status")
    assert banner and banner[0]["class"] == "cp-preview"
    assert ">Preview — not published</p>" in html
    assert html.index("cp-preview") < html.index("<header")


def test_footer_text_or_site_name() -> None:
    html = document(site(settings=SiteSettings(footer_text="© 2024 Ada & co")))
    assert '<footer class="cp-footer"><div class="cp-wrap"><p>© 2024 Ada &amp; co</p>' in html
    assert "<p>Ada&#39;s Studio</p></div></footer>" in document()


def test_rendered_components_become_the_main_content() -> None:
    registry = ComponentRegistry()
    for component in BUILTIN_COMPONENTS:
        registry.add(component, "website")
    tree = registry.validate_tree(
        [
            Node(
                id="hero",
                type="section",
                props={"background": "accent", "label": "Welcome"},
                children=[
                    Node(id="h", type="heading", props={"text": "Hi <there>", "level": 1}),
                    Node(
                        id="t",
                        type="text",
                        props={"html": "<p>Hand-made <b>pots</b></p><script>bad()</script>"},
                    ),
                    Node(id="b", type="button", props={"label": "Shop", "href": "/shop"}),
                ],
            ),
            Node(
                id="cols",
                type="columns",
                props={"columns": 3},
                children=[
                    Node(
                        id="i",
                        type="image",
                        props={"src": "https://cdn.example/p.jpg", "alt": "A pot"},
                    ),
                    Node(
                        id="e",
                        type="embed",
                        props={"url": "https://video.example/1", "title": "Film"},
                    ),
                ],
            ),
        ]
    )
    body = registry.render(tree, RenderContext())
    html = page_document(site(), page(), body, THEME)
    main = html[html.index('<main id="main"') : html.index("</main>")]
    assert '<section class="cp-section cp-bg-accent cp-pad-medium cp-width-normal"' in main
    assert 'aria-label="Welcome"' in main
    assert '<h1 class="cp-heading cp-align-start">Hi &lt;there&gt;</h1>' in main
    assert "<b>pots</b>" in main and "bad()" not in main
    assert '<a class="cp-button cp-button-primary" href="/shop">Shop</a>' in main
    assert '<div class="cp-columns cp-cols-3 cp-gap-medium">' in main
    assert 'alt="A pot"' in main and 'title="Film"' in main
    assert "data-node-id" not in html
    assert html.count("<script") == 1
    tags = Tags(html)
    assert len(tags.find("h1")) == 1


# -- the 404 page --------------------------------------------------------------------------


def test_not_found_document() -> None:
    s = site(name="<b>Ada</b>", settings=SiteSettings(color_mode="dark", footer_text="Bye"))
    html = not_found_document(s, BUILTIN_THEMES[1])
    tags = Tags(html)
    assert html.startswith("<!doctype html>")
    assert tags.title == "Page not found · <b>Ada</b>"
    assert "<b>Ada</b>" not in html
    assert tags.meta("robots") == "noindex"
    assert [t for t, _ in tags.tags].count("h1") == 1
    assert '<h1 class="cp-heading cp-align-start">Page not found</h1>' in html
    assert tags.find(
        "a", class_="cp-button cp-button-primary", href="https://example.com/sites/ada/"
    )
    assert tags.find("a", href="#main") and tags.find("main", id="main")
    assert tags.find("header") and tags.find("footer") and "<p>Bye</p>" in html
    assert f"<style>{theme_css(BUILTIN_THEMES[1], 'dark')}</style>" in html
    assert "<script" not in html
    assert not tags.find("link", rel="canonical")


# -- sitemap.xml ---------------------------------------------------------------------------


def test_sitemap_lists_pages_with_lastmod() -> None:
    s = site(base_url="https://ada.art")
    pages = [
        page(slug="home", is_home=True),
        page(slug="about", published_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        page(slug="draft-ish", published_at=None),
    ]
    text = sitemap_xml(s, pages)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(text.encode())
    assert root.tag == f"{SITEMAP_NS}urlset"
    urls = root.findall(f"{SITEMAP_NS}url")
    assert [u.findtext(f"{SITEMAP_NS}loc") for u in urls] == [
        "https://ada.art/",
        "https://ada.art/about",
        "https://ada.art/draft-ish",
    ]
    assert [u.findtext(f"{SITEMAP_NS}lastmod") for u in urls] == [
        "2024-05-01T12:30:00+00:00",
        "2024-01-02T03:04:05+00:00",
        None,
    ]


def test_sitemap_escapes_urls() -> None:
    s = site(base_url="https://example.com/sites/a&b<c>")
    text = sitemap_xml(s, [page(slug="x")])
    assert "a&b" not in text and "&amp;" in text
    root = ET.fromstring(text)
    assert root.findtext(f"{SITEMAP_NS}url/{SITEMAP_NS}loc") == "https://example.com/sites/a&b<c>/x"


def test_empty_sitemap_is_valid() -> None:
    root = ET.fromstring(sitemap_xml(site(), []))
    assert root.tag == f"{SITEMAP_NS}urlset" and len(root) == 0


# -- robots.txt ----------------------------------------------------------------------------


def test_robots_allows_by_default() -> None:
    text = robots_txt(site(base_url="https://ada.art"))
    lines = text.splitlines()
    assert lines[0] == "User-agent: *"
    assert "Allow: /" in lines and "Disallow: /" not in lines
    assert "Sitemap: https://ada.art/sitemap.xml" in lines
    assert text.endswith("\n")


def test_robots_disallows_when_indexing_is_off() -> None:
    text = robots_txt(site(settings=SiteSettings(allow_indexing=False)))
    lines = text.splitlines()
    assert lines[0] == "User-agent: *"
    assert "Disallow: /" in lines and "Allow: /" not in lines
    assert "Sitemap: https://example.com/sites/ada/sitemap.xml" in lines


# -- theme_css colour modes, as pages use them ---------------------------------------------


def test_colour_modes_of_the_page_stylesheet() -> None:
    auto = theme_css(THEME, "auto")
    light = theme_css(THEME, "light")
    dark = theme_css(THEME, "dark")
    assert "prefers-color-scheme" in auto
    assert "prefers-color-scheme" not in light and "prefers-color-scheme" not in dark
    dark_only = set(THEME.dark.values()) - set(THEME.light.values())
    assert dark_only and not any(value in light for value in dark_only)
    assert all(value in auto and value in dark for value in dark_only)


# -- menu, social image, pictures ----------------------------------------------------------


def test_the_default_menu_lists_published_pages_home_first_as_paths() -> None:
    published = [
        MenuPage("p1", "about", "About"),
        MenuPage("p2", "start", "Start"),
        MenuPage("p3", "shop", "Shop"),
    ]
    settings = SiteSettings(home_page="start")
    on_domain = resolve_menu("https://ada.example", settings, published)
    assert on_domain == (
        NavLink("Start", "/"),
        NavLink("About", "/about"),
        NavLink("Shop", "/shop"),
    )
    on_platform = resolve_menu("https://sites.example.net/sites/ada", settings, published)
    assert [link.href for link in on_platform] == [
        "/sites/ada/",
        "/sites/ada/about",
        "/sites/ada/shop",
    ]


def test_the_current_page_is_marked_in_both_menus() -> None:
    menu = (NavLink("Home", "/sites/ada/"), NavLink("About <us>", "/sites/ada/about"))
    html = document(site(menu=menu))
    assert html.count('<a href="/sites/ada/about" aria-current="page">About &lt;us&gt;</a>') == 2
    assert '<nav class="cp-nav" aria-label="Main">' in html
    assert '<nav class="cp-nav"' not in document(site())  # no published page, no menu


def test_social_image_falls_back_to_the_sites_and_then_the_first_picture() -> None:
    first = "/media/g/pic.png"
    assert (
        Tags(document(first_image=first)).meta("og:image") == "https://example.com/media/g/pic.png"
    )
    with_site = site(settings=SiteSettings(social_image="/media/site.png"))
    html = document(with_site, first_image=first)
    assert Tags(html).meta("og:image") == "https://example.com/media/site.png"
    html = document(with_site, page(seo=Seo(image="https://cdn.example/p.png")), first_image=first)
    assert Tags(html).meta("og:image") == "https://cdn.example/p.png"
    assert Tags(html).meta("twitter:card") == "summary_large_image"


def test_only_pictures_after_the_first_two_load_lazily_and_copies_fill_srcset() -> None:
    registry = ComponentRegistry()
    for component in BUILTIN_COMPONENTS:
        registry.add(component, "website")
    ref = MediaRef("/media/g/a.png", 1000, 500, widths=(320, 640, 960))
    tree = [
        Node(id=f"i{n}", type="image", props={"asset_id": "a", "alt": "A", "width": width})
        for n, width in enumerate(("full", "auto", "auto"))
    ]
    ctx = RenderContext(media={"a": ref})
    images = re.findall(r"<img [^>]*>", str(registry.render(tree, ctx)))
    assert 'fetchpriority="high"' in images[0] and "loading" not in images[0]
    assert "loading" not in images[1] and "fetchpriority" not in images[1]
    assert 'loading="lazy"' in images[2]
    srcset = ", ".join(
        [f"/media/g/a.png?w={w} {w}w" for w in (320, 640, 960)] + ["/media/g/a.png 1000w"]
    )
    assert all(f'srcset="{srcset}"' in img for img in images)
    assert 'sizes="min(100vw, 72rem)"' in images[0]  # full width
    assert 'sizes="min(100vw, 72rem, 1000px)"' in images[1]  # never wider than itself
    assert ctx.image_urls == ["/media/g/a.png"] * 3
