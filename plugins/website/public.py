"""What visitors get: published pages at ``/sites/{site}/{page}``, and at ``/{page}`` on a
site's own domain; ``sitemap.xml``, ``robots.txt`` and a themed 404 per site.

A published page is sent from the process's memory (see ``cache``); only the first
request after a publish reads PostgreSQL. Responses carry an ``ETag`` (a conditional
request gets a 304) and a short public ``Cache-Control``, so a CDN in front works too.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import msgspec
from litestar import Litestar, Request, Response, route
from litestar.params import FromPath

import sdk
from plugins.website import render
from plugins.website.cache import CachedPage
from plugins.website.live import LiveSite, etag_for
from plugins.website.services import WebsiteContext, Websites
from plugins.website.types import DOMAIN_RE, SLUG_RE, Seo

#: Public pages run only the platform's own scripts (a component such as the clone's chat
#: bubble), never inline ones; styles are inline; frames from https and the platform.
CSP = (
    "default-src 'none'; img-src 'self' https: data:; style-src 'unsafe-inline'; "
    "script-src 'self'; frame-src 'self' https:; base-uri 'none'; form-action 'self' https:; "
    "frame-ancestors 'self'"
)
HTML = "text/html"
REFERRER_POLICY = "strict-origin-when-cross-origin"
_NOT_A_SITE = b"<!doctype html><html lang=en><title>Not found</title><h1>Not found</h1></html>"
NOT_A_SITE = CachedPage(None, _NOT_A_SITE, etag_for(_NOT_A_SITE.decode()), 404)


def _respond(request: Request[Any, Any, Any], page: CachedPage, media_type: str) -> Response[bytes]:
    max_age = request.app.state.website_settings.page_max_age
    headers = {
        "ETag": page.etag,
        "Cache-Control": f"public, max-age={max_age}" if page.status == 200 else "no-cache",
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        # Links to other sites say which site the visitor came from, never which page.
        "Referrer-Policy": REFERRER_POLICY,
    }
    if page.status == 200 and _matches(request.headers.get("if-none-match"), page.etag):
        return Response(b"", status_code=304, headers=headers)
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(page.body))
        return Response(b"", status_code=page.status, media_type=media_type, headers=headers)
    return Response(page.body, status_code=page.status, media_type=media_type, headers=headers)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110's weak comparison: any listed tag (``W/`` or not) equal to ours, or ``*``."""
    if not if_none_match:
        return False
    if if_none_match == etag:
        return True
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


async def _site(service: WebsiteContext, kind: str, name: str) -> LiveSite | None:
    cache = service.purge.cache
    known, site = cache.site((kind, name))
    if known:
        return site
    generation = cache.generation
    if kind == "slug":
        site = await service.live.site_by_slug(name)
    else:
        site = await service.live.site_by_domain(name)
    cache.put_site((kind, name), site, generation=generation)
    return site


def _well_formed(kind: str, name: str, page_slug: str | None) -> bool:
    """Names that could exist; anything else is a 404 without a lookup or a cache entry."""
    if page_slug is not None and not SLUG_RE.match(page_slug):
        return False
    return bool(SLUG_RE.match(name) if kind == "slug" else DOMAIN_RE.match(name))


def site_info(service: WebsiteContext, site: LiveSite) -> render.SiteInfo:
    if site.custom_domain:
        base = f"https://{site.custom_domain}"
    else:
        base = f"{service.platform.hosts.sites_url}/sites/{site.slug}"
    return render.SiteInfo(
        id=str(site.id),
        name=site.name,
        slug=site.slug,
        description=site.description,
        language=site.language,
        settings=site.settings,
        base_url=base,
    )


async def serve_page(
    request: Request[Any, Any, Any],
    service: WebsiteContext,
    kind: str,
    name: str,
    page_slug: str | None,
) -> Response[bytes]:
    cache = service.purge.cache
    key = (kind, name, page_slug or "")
    hit = cache.get(key)
    if hit is not None:
        return _respond(request, hit, HTML)
    if not _well_formed(kind, name, page_slug):
        return _respond(request, NOT_A_SITE, HTML)
    generation = cache.generation
    site = await _site(service, kind, name)
    if site is None:
        cache.put(key, NOT_A_SITE, generation=generation)
        return _respond(request, NOT_A_SITE, HTML)
    live = await service.live.page(site, page_slug or site.settings.home_page)
    if live is None:
        info = site_info(service, site)
        published = sorted(await service.live.pages(site), key=lambda p: p.page_id.bytes)
        menu = [render.MenuPage(str(p.page_id), p.slug, p.title) for p in published]
        info = replace(info, menu=render.resolve_menu(info.base_url, site.settings, menu))
        html = render.not_found_document(info, service.theme(site.theme))
        entry = CachedPage(site.id, html.encode(), etag_for(html), 404)
    else:
        entry = CachedPage(site.id, live.html.encode(), live.etag)
    cache.put(key, entry, generation=generation)
    return _respond(request, entry, HTML)


async def serve_file(
    request: Request[Any, Any, Any], service: WebsiteContext, kind: str, name: str, file: str
) -> Response[bytes]:
    cache = service.purge.cache
    key = (kind, name, "/" + file)
    hit = cache.get(key)
    if hit is not None:
        return _respond(request, hit, _FILE_TYPES[file])
    generation = cache.generation
    site = await _site(service, kind, name) if _well_formed(kind, name, None) else None
    if site is None:
        return Response(b"not found\n", status_code=404, media_type="text/plain")
    info = site_info(service, site)
    if file == "robots.txt":
        text = render.robots_txt(info)
    else:
        pages = [
            render.PageInfo(
                id=str(p.page_id),
                slug=p.slug,
                title=p.title,
                seo=Seo(description=p.description, noindex=p.noindex),
                is_home=p.slug == site.settings.home_page,
                published_at=p.published_at,
                updated_at=p.published_at,
            )
            for p in await service.live.pages(site)
            if not p.noindex
        ]
        text = render.sitemap_xml(info, pages if site.settings.allow_indexing else [])
    entry = CachedPage(site.id, text.encode(), etag_for(text))
    cache.put(key, entry, generation=generation)
    return _respond(request, entry, _FILE_TYPES[file])


_FILE_TYPES = {"robots.txt": "text/plain", "sitemap.xml": "application/xml"}


# -- on the platform's address ----------------------------------------------------------

# Public pages come from memory: the API's per-client budget is not for them.
_PUBLIC_OPT = {"public": True, **sdk.NO_API_RATE_LIMIT}
#: ``/sites/...``: tenant content, on ``public_sites_origin`` when it is set.
_PUBLIC = {
    "http_method": ["GET", "HEAD"],
    "tags": ["public sites"],
    "include_in_schema": True,
    "media_type": "text/html",
    "opt": {**_PUBLIC_OPT, **sdk.TENANT_CONTENT},
}
#: ``/`` and ``/{page}``: a custom domain's pages, and the platform's home on its own host.
_ON_EVERY_HOST = {**_PUBLIC, "opt": {**_PUBLIC_OPT, **sdk.ANY_HOST}}


@route("/sites/{site:str}", summary="A site's home page", **_PUBLIC)  # type: ignore[arg-type]
async def site_home(request: Request[Any, Any, Any], site: FromPath[str]) -> Response[bytes]:
    if sdk.host_kind(request) is sdk.HostKind.TENANT:
        return _not_found(request)  # a site's own domain shows that site only
    return await serve_page(request, _context(request), "slug", site, None)


@route("/sites/{site:str}/{page:str}", summary="A published page", **_PUBLIC)  # type: ignore[arg-type]
async def site_page(
    request: Request[Any, Any, Any], site: FromPath[str], page: FromPath[str]
) -> Response[bytes]:
    if sdk.host_kind(request) is sdk.HostKind.TENANT:
        return _not_found(request)  # a site's own domain shows that site only
    if page in _FILE_TYPES:
        return await serve_file(request, _context(request), "slug", site, page)
    return await serve_page(request, _context(request), "slug", site, page)


# -- on a site's own domain --------------------------------------------------------------


@route("/", summary="A custom domain's home page", **_ON_EVERY_HOST)  # type: ignore[arg-type]
async def domain_home(request: Request[Any, Any, Any]) -> Response[bytes]:
    kind = sdk.host_kind(request)
    if kind is sdk.HostKind.PLATFORM:
        return Response(b"", status_code=302, headers={"Location": "/app"})
    if kind is sdk.HostKind.SITES:
        return _not_found(request)  # every site is under /sites/ there
    return await serve_page(request, _context(request), "domain", _host(request), None)


@route("/{page:str}", summary="A published page on a custom domain", **_ON_EVERY_HOST)  # type: ignore[arg-type]
async def domain_page(request: Request[Any, Any, Any], page: FromPath[str]) -> Response[bytes]:
    if sdk.host_kind(request) is not sdk.HostKind.TENANT:
        return _not_found(request)
    host = _host(request)
    if page in _FILE_TYPES:
        return await serve_file(request, _context(request), "domain", host, page)
    return await serve_page(request, _context(request), "domain", host, page)


def _context(request: Request[Any, Any, Any]) -> WebsiteContext:
    """The website's services, read from the app's state rather than injected: these
    handlers need the request anyway, and a published page served from memory is the
    platform's hottest path, where Litestar's dependency resolution was a measurable
    share of the work (``benchmarks/website_serving.py``)."""
    websites: Websites = request.app.state.website
    return websites.context


def _not_found(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The platform's usual 404 problem, for paths that are not a page here."""
    body = sdk.problem_body(
        404, "not_found", "Not found", f"no route {request.url.path}", instance=request.url.path
    )
    return Response(
        msgspec.json.encode(body), status_code=404, media_type="application/problem+json"
    )


def _host(request: Request[Any, Any, Any]) -> str:
    return sdk.host_name(request.headers.get("host", ""))


_SITE_PATH = re.compile(r"^/sites/([^/]+)(?:/|$)")


async def group_serving(app: Litestar, url: str) -> UUID | None:
    """The group of the site whose pages answer at ``url`` (``public_url_group``): a path
    under ``/sites/{slug}`` on the platform's address, anything on a custom domain. The
    same cached lookups as serving the page, so the answer is what a visitor would see."""
    websites: Websites | None = getattr(app.state, "website", None)
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".")
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    if websites is None or not host:
        return None
    platform: sdk.Platform = app.state.platform
    if platform.hosts.kind(host.lower()) is not sdk.HostKind.TENANT:
        match = _SITE_PATH.match(parts.path)
        if match is None:
            return None
        kind, name = "slug", match.group(1)
    else:
        kind, name = "domain", host
    if not _well_formed(kind, name, None):
        return None
    site = await _site(websites.context, kind, name)
    return site.group_id if site is not None else None


PUBLIC_ROUTES = [site_home, site_page, domain_home, domain_page]
