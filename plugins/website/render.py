"""Whole documents around rendered component trees. (Stub: the render helper replaces
this module; keep these names and signatures.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

from plugins.website.themes import Theme
from plugins.website.types import Seo, SiteSettings


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
    return site.base_url + "/" if is_home else f"{site.base_url}/{page_slug}"


def page_document(
    site: SiteInfo, page: PageInfo, body: Markup, theme: Theme, *, preview: bool = False
) -> str:
    return f"<!doctype html><html lang='{site.language}'><title>{page.title}</title><main>{body}</main></html>"


def not_found_document(site: SiteInfo, theme: Theme) -> str:
    return "<!doctype html><title>Not found</title>"


def sitemap_xml(site: SiteInfo, pages: list[PageInfo]) -> str:
    return ""


def robots_txt(site: SiteInfo) -> str:
    return ""
