"""Account pages: log in and sign up, for every plugin's UI.

Server-rendered forms (``core/templates/core``) and one script file
(``core/static/core/account.js``) that posts JSON to the auth API. The pages carry a strict
Content-Security-Policy: scripts and styles come from the platform's own files only.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any
from urllib.parse import unquote

from litestar import Request, get
from litestar.response import Template

#: The CSP of the platform's own HTML pages: no inline script or style, nothing from
#: elsewhere. A plugin may extend it (the builder allows https images and frames).
UI_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DEFAULT_NEXT = "/"


def ui_headers(csp: str = UI_CSP) -> dict[str, str]:
    """Headers of a platform HTML page (never cached: it shows who is logged in)."""
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


#: Paths where the platform serves what tenants wrote: published sites and their media,
#: and the API (a clone's widget pages among it). A log-in never continues there.
TENANT_PATHS = ("/sites/", "/media/", "/api/")


def safe_next(value: str | None) -> str:
    """``value`` if it is a page of the platform itself, else the home page: a path on this
    site (``/…`` but not ``//…`` or ``/\\…``, which browsers treat as another host) that is
    not under :data:`TENANT_PATHS` once decoded and normalised (``/%73ites/…``,
    ``/x/../sites/…``): a log-in must not end on a page a tenant wrote, which could ask for
    the password again."""
    if (
        not value
        or not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or any(ord(c) < 0x20 or c == "\\" for c in value)
        or len(value) > 2000
    ):
        return DEFAULT_NEXT
    path = unquote(re.split(r"[?#]", value, maxsplit=1)[0])
    normal = posixpath.normpath(path) + "/"  # "/sites" and "/sites/x" alike
    if any(c == "\\" or ord(c) < 0x20 for c in path) or normal.startswith(("//", *TENANT_PATHS)):
        return DEFAULT_NEXT
    return value


def _account_page(request: Request[Any, Any, Any], template: str, title: str) -> Template:
    raw = request.query_params.get("next")
    next_path = safe_next(raw)
    query = "" if raw is None or next_path == DEFAULT_NEXT else next_path
    return Template(
        template_name=f"core/{template}",
        context={"title": title, "next": next_path, "next_query": query},
        headers=ui_headers(),
    )


_PAGE: dict[str, Any] = {"include_in_schema": False, "sync_to_thread": False}


@get("/account/login", name="account:login", **_PAGE)
def login_page(request: Request[Any, Any, Any]) -> Template:
    return _account_page(request, "login.html", "Log in")


@get("/account/signup", name="account:signup", **_PAGE)
def signup_page(request: Request[Any, Any, Any]) -> Template:
    return _account_page(request, "signup.html", "Create your account")


ACCOUNT_ROUTES = [login_page, signup_page]
