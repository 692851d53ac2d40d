"""Whole documents around rendered component trees: a published (or previewed) page, a
site's 404 page, ``sitemap.xml`` and ``robots.txt``.

Pages are plain semantic HTML5 with the theme's stylesheet inline and no script: the only
``<script>`` is the JSON-LD data block, whose JSON has ``<``, ``>`` and ``&`` escaped so
nothing in it can end the element. Everything a person wrote (titles, descriptions, names,
URLs) is escaped by Jinja2's autoescaping; the component markup (``body``) arrives already
rendered and escaped by the components. The template is compiled once, at import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.sax.saxutils import escape as xml_escape

import msgspec
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from plugins.website.themes import Theme, theme_css
from plugins.website.types import Seo, SiteSettings


@dataclass(frozen=True)
class NavLink:
    """An entry of a site's menu or footer, resolved to the address a visitor follows."""

    label: str
    href: str
    new_tab: bool = False


@dataclass(frozen=True)
class SiteInfo:
    id: str
    name: str
    slug: str
    description: str
    language: str
    settings: SiteSettings
    #: Absolute URL of the site's root, no trailing slash: ``https://domain`` or
    #: ``<public_url>/sites/<slug>``.
    base_url: str
    #: The header's menu, resolved (pages that are not published are left out).
    menu: tuple[NavLink, ...] = ()


@dataclass(frozen=True)
class PageInfo:
    id: str
    slug: str
    title: str
    seo: Seo
    is_home: bool
    published_at: datetime | None = None
    updated_at: datetime | None = None


def page_url(site: SiteInfo, page_slug: str, is_home: bool = False) -> str:
    """The public address of a page; the home page's is the site's root (``…/``)."""
    return site.base_url + "/" if is_home else f"{site.base_url}/{page_slug}"


def home_url(site: SiteInfo) -> str:
    return site.base_url + "/"


@dataclass(frozen=True)
class MenuPage:
    """A published page as a menu entry may name it."""

    id: str
    slug: str
    title: str


def resolve_menu(
    base_url: str, settings: SiteSettings, published: list[MenuPage]
) -> tuple[NavLink, ...]:
    """The menu a visitor sees: ``settings.menu``'s entries, with pages that are not
    published (or not the site's) left out; without a menu, every published page, the
    home page first, the others in ``published``'s order.

    Links to the site's pages are paths (``/sites/ada/about``, or ``/about`` on a custom
    domain), so they work on whichever host serves the page."""
    site = SiteInfo("", "", "", "", "", settings, urlsplit(base_url).path.rstrip("/"))
    by_id = {p.id: p for p in published}
    home = settings.home_page
    if settings.menu is None:
        ordered = sorted(published, key=lambda p: p.slug != home)
        return tuple(NavLink(p.title, page_url(site, p.slug, p.slug == home)) for p in ordered)
    links = []
    for item in settings.menu:
        if item.url:
            links.append(NavLink(item.label, item.url, item.new_tab))
            continue
        found = by_id.get(item.page_id or "")
        if found is not None:
            href = page_url(site, found.slug, found.slug == home)
            links.append(NavLink(item.label or found.title, href, item.new_tab))
    return tuple(links)


# -- the document --------------------------------------------------------------------------

_env = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

_DOCUMENT = _env.from_string(
    """<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
{% if description %}
<meta name="description" content="{{ description }}">
{% endif %}
{% if noindex %}
<meta name="robots" content="noindex">
{% endif %}
{% if canonical %}
<link rel="canonical" href="{{ canonical }}">
{% endif %}
<link rel="icon" href="data:,">
{% for prop, value in og %}
<meta property="{{ prop }}" content="{{ value }}">
{% endfor %}
{% if twitter_card %}
<meta name="twitter:card" content="{{ twitter_card }}">
{% endif %}
{% if json_ld %}
<script type="application/ld+json">{{ json_ld }}</script>
{% endif %}
<style>{{ css }}</style>
</head>
<body>
<a class="cp-skip" href="#main">Skip to content</a>
{% if preview %}
<p class="cp-preview" role="status">Preview — not published</p>
{% endif %}
<header class="cp-header"><div class="cp-wrap cp-header-bar">
<a class="cp-site-name" href="{{ home }}"{% if is_home %} aria-current="page"{% endif %}>\
{% if logo %}<img class="cp-logo" src="{{ logo }}" alt="{{ '' if show_name else site_name }}" \
height="40">{% endif %}{% if show_name %}<span>{{ site_name }}</span>{% endif %}</a>
{% if menu %}
<nav class="cp-nav" aria-label="Main">
<ul class="cp-menu">{{ menu_items }}</ul>
<details class="cp-menu-small"><summary>Menu</summary><ul>{{ menu_items }}</ul></details>
</nav>
{% endif %}
</div></header>
<main id="main" class="cp-main">
{{ body }}
</main>
<footer class="cp-footer"><div class="cp-wrap">\
<p>{{ footer }}</p>{% if footer_links %}<nav aria-label="Footer"><ul class="cp-footer-links">\
{% for link in footer_links %}<li><a href="{{ link.href }}">{{ link.label }}</a></li>{% endfor %}\
</ul></nav>{% endif %}</div></footer>
</body>
</html>
"""
)

_MENU_ITEMS = _env.from_string(
    '{% for link in menu %}<li><a href="{{ link.href }}"{% if link.href == current %} '
    'aria-current="page"{% endif %}{% if link.new_tab %} target="_blank" '
    'rel="noopener noreferrer"{% endif %}>{{ link.label }}</a></li>{% endfor %}'
)

_NOT_FOUND_BODY = _env.from_string(
    '<section class="cp-section cp-bg-default cp-pad-large cp-width-narrow">'
    '<div class="cp-section-inner">'
    '<h1 class="cp-heading cp-align-start">Page not found</h1>'
    '<p class="cp-text">There is no page at this address. It may have moved, or the link '
    "may be mistyped.</p>"
    '<a class="cp-button cp-button-primary" href="{{ home }}">Go to the home page</a>'
    "</div></section>"
)


def _w3c(moment: datetime) -> str:
    """A W3C datetime (``2024-05-01T12:00:00+00:00``), in UTC; naive times are UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def absolute_url(site: SiteInfo, value: str) -> str:
    """``value`` resolved against the site's address (a media path ``/media/…`` becomes
    ``https://host/media/…``); empty when it is not an http(s) URL."""
    value = value.strip()
    if not value:
        return ""
    resolved = urljoin(site.base_url + "/", value)
    return resolved if _http_url(resolved) else ""


def json_for_script(data: Any) -> Markup:
    """JSON safe inside a ``<script>`` element: ``<``, ``>`` and ``&`` become ``\\u003c``,
    ``\\u003e`` and ``\\u0026``, so no ``</script>`` or ``<!--`` can appear."""
    text = msgspec.json.encode(data).decode()
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def document_title(site: SiteInfo, title: str, *, is_home: bool = False) -> str:
    """``Page title · Site name``; the home page's is the site's name alone (its title is
    usually just "Home")."""
    title = title.strip()
    if not title or title == site.name or is_home:
        return site.name
    return f"{title} · {site.name}"


def _shell(site: SiteInfo, theme: Theme, *, current: str = "", **values: Any) -> str:
    """The document around ``values["body"]``: header (logo, name, menu with ``current``
    marked as the page shown), main and footer."""
    settings = site.settings
    footer_links = [NavLink(link.label, link.url) for link in settings.footer_links]
    return _DOCUMENT.render(
        lang=site.language or "en",
        css=Markup(theme_css(theme, settings.color_mode).replace("</", "<\\/")),
        site_name=site.name,
        home=home_url(site),
        logo=settings.logo,
        show_name=settings.show_name or not settings.logo,
        menu=site.menu,
        menu_items=Markup(_MENU_ITEMS.render(menu=site.menu, current=current)),
        footer=settings.footer_text or site.name,
        footer_links=footer_links,
        **values,
    )


def page_json_ld(
    site: SiteInfo, page: PageInfo, *, url: str, description: str, image: str
) -> dict[str, Any]:
    """The schema.org ``WebPage`` a page describes itself as."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "WebPage",
        "name": page.title,
        "url": url,
        "inLanguage": site.language,
        "isPartOf": {"@type": "WebSite", "name": site.name, "url": home_url(site)},
    }
    if description:
        data["description"] = description
    if image:
        data["primaryImageOfPage"] = {"@type": "ImageObject", "url": image}
    if page.published_at is not None:
        data["datePublished"] = _w3c(page.published_at)
    if page.updated_at is not None:
        data["dateModified"] = _w3c(page.updated_at)
    return data


def page_document(
    site: SiteInfo,
    page: PageInfo,
    body: Markup,
    theme: Theme,
    *,
    preview: bool = False,
    first_image: str = "",
) -> str:
    """The complete HTML document of ``page``: metadata for search engines and social
    sites, the theme's stylesheet, and ``body`` (the rendered components, trusted markup)
    in the site's header/main/footer shell. ``preview`` adds a banner and ``noindex``.

    The social image is the page's ``seo.image``, else the site's ``social_image``, else
    ``first_image`` (the page's first picture); the title is ``seo.title``, else the
    page's title with the site's name."""
    seo = page.seo
    description = (seo.description or site.description).strip()
    canonical = seo.canonical_url.strip()
    if not _http_url(canonical):
        canonical = page_url(site, page.slug, page.is_home)
    image = (
        absolute_url(site, seo.image)
        or absolute_url(site, site.settings.social_image)
        or absolute_url(site, first_image)
    )
    title = seo.title.strip() or document_title(site, page.title, is_home=page.is_home)
    noindex = seo.noindex or not site.settings.allow_indexing or preview
    og: list[tuple[str, str]] = [
        ("og:type", "website"),
        ("og:title", title),
        ("og:url", canonical),
        ("og:site_name", site.name),
    ]
    if description:
        og.append(("og:description", description))
    if image:
        og.append(("og:image", image))
    json_ld = page_json_ld(site, page, url=canonical, description=description, image=image)
    return _shell(
        site,
        theme,
        title=title,
        description=description,
        noindex=noindex,
        canonical=canonical,
        og=og,
        twitter_card="summary_large_image" if image else "summary",
        json_ld=json_for_script(json_ld),
        preview=preview,
        is_home=page.is_home and not preview,
        current=urlsplit(page_url(site, page.slug, page.is_home)).path,
        body=Markup(body),
    )


def not_found_document(site: SiteInfo, theme: Theme) -> str:
    """The site's themed 404 page: same shell, a way back home, never indexed."""
    return _shell(
        site,
        theme,
        title=document_title(site, "Page not found"),
        description="",
        noindex=True,
        canonical="",
        og=[],
        twitter_card="",
        json_ld="",
        preview=False,
        is_home=False,
        body=Markup(_NOT_FOUND_BODY.render(home=home_url(site))),
    )


# -- files for crawlers ----------------------------------------------------------------------


def _xml(text: str) -> str:
    return xml_escape(text, {'"': "&quot;", "'": "&apos;"})


def sitemap_xml(site: SiteInfo, pages: list[PageInfo]) -> str:
    """A sitemaps.org ``urlset`` of ``pages`` (the caller passes only indexable ones): each
    page's address and, when published, the time it was."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
    ]
    for page in pages:
        entry = f"<url><loc>{_xml(page_url(site, page.slug, page.is_home))}</loc>"
        if page.published_at is not None:
            entry += f"<lastmod>{_w3c(page.published_at)}</lastmod>"
        lines.append(entry + "</url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"


def robots_txt(site: SiteInfo) -> str:
    """Crawl rules: everything, or nothing when the site turned indexing off."""
    rule = "Allow: /" if site.settings.allow_indexing else "Disallow: /"
    return f"User-agent: *\n{rule}\n\nSitemap: {site.base_url}/sitemap.xml\n"
