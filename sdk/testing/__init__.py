"""pytest fixtures that boot the platform on real PostgreSQL (+pgvector) and Redis.

Installed as a pytest plugin (entry point ``pytest11``), so a plugin's own test suite has
these fixtures with no set-up. The same fixtures test Creator Platform itself.

* one embedded PostgreSQL and Redis per test session (or the servers named by
  ``CREATOR_DATABASE_URL`` / ``CREATOR_REDIS_URL``), with a template database migrated
  once;
* per test, a fresh database cloned from the template and an empty Redis database;
* ``creator_platform``: the started app with the chosen plugins, and helpers to make
  people, groups and authenticated clients;
* ``creator_dns``: a DNS server on 127.0.0.1 (:class:`LocalDNS`) that every platform
  the fixtures start asks (``dns_nameservers``); ``creator_platform.dns.set_txt(name,
  *values)`` decides what a name publishes;
* for browser tests, ``creator_live_server`` (that app on a real HTTP port) and
  ``creator_browser`` (headless Chromium through Playwright; skips without them).
* for tests of a plugin's pages, plain helpers (the platform's own UI tests use them):

  - over HTTP: ``await sign_up(client)`` (a new person through the JSON API; the client
    keeps the session; returns it, with ``csrf_token``) and ``assert_ui_page(response,
    *landmarks)`` (a whole HTML page with a strict CSP and nothing inline; returns the
    HTML), ``assert_login_redirect(response, path)`` (no session: to the log-in page
    and back to ``path``);
  - in the browser: ``page, errors = await open_page(creator_browser)`` (a fresh context
    collecting console errors and uncaught exceptions; at the end ``assert
    real_errors(errors) == []``), ``await sign_up_in_browser(page, base, "/yours")``
    (from the log-in redirect through sign-up and back) and ``await
    assert_accessible(page, "where")`` (no serious or critical axe-core violation).

* ``report = await creator_platform.fuzz(paths="/api/v1/<plugin>")``: the served API
  fuzzed from its OpenAPI document with schemathesis as a real group's owner (fails on a
  5xx or an undocumented response; ``--fuzz-examples N`` for longer runs); see
  :mod:`sdk.testing.fuzz`. ``async with serving(creator_platform) as base_url`` serves
  the app over real HTTP.
* for any test, plain helpers:

  - ``await creator_platform.client_as("org_user", group=tenant)``: a new person with
    that role (``org_owner``, ``org_user`` or ``customer``) in ``group`` (a
    :class:`Tenant` or a group; none: a new group with an owner of its own), returned as
    a :class:`Tenant` whose ``client`` sends their API token; with ``session=True`` the
    client is signed in with a browser session cookie instead and sends its CSRF token
    (what HTML pages and cookie-authenticated writes need). ``tenant()`` (a new owner of
    a new group) and ``member(of, role)`` are the same with the role fixed first;
  - ``body = assert_problem(response, 404, "not_found", field="slug")``: the response is
    an RFC 9457 problem (``application/problem+json``, ``type``, ``title``, ``status``
    equal to the HTTP status, a stable ``code`` that ``type`` ends with), not a server
    error unless ``status`` says so, with the given status, code and field (each
    optional); returns the body for further checks;
  - ``value = await wait_until(lambda: condition, within=10, message="job done")``:
    polls a sync or async callable until it returns something truthy and returns that;
    an ``AssertionError`` raised by the callable counts as "not yet". At the deadline it
    fails naming ``message`` (or the callable), the last value and the last assertion.
    For what completes in the background: jobs, event handlers, caches.

Choose plugins with ``@pytest.mark.creator_plugins("website", "clone")`` (no names: only
core); without the marker every installed plugin is enabled. Pass plugin objects that
are not installed with ``creator_plugins(extra={"name": module})``.

Everything is imported from ``sdk.testing`` (this package re-exports its modules:
``servers``, ``platform``, ``checks``, ``browser``, ``ui``), which pytest loads as the
plugin.
"""

from __future__ import annotations

import pytest

from sdk.testing.browser import CHROMIUM_ARGS, creator_browser, creator_live_server, serving
from sdk.testing.checks import assert_problem, wait_until
from sdk.testing.dns import LocalDNS, creator_dns
from sdk.testing.fuzz import DEFAULT_EXAMPLES, FuzzReport, fuzz_api
from sdk.testing.platform import (
    CreatorPlatform,
    PlatformFactory,
    Tenant,
    creator_platform,
    creator_platform_factory,
    creator_tenant,
)
from sdk.testing.servers import BASE_URL, Servers, creator_servers, database_url
from sdk.testing.ui import (
    TEST_PASSWORD,
    assert_accessible,
    assert_login_redirect,
    assert_ui_page,
    open_page,
    real_errors,
    sign_up,
    sign_up_in_browser,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-examples",
        type=int,
        default=None,
        help="examples per operation and phase for creator_platform.fuzz (default: "
        f"{DEFAULT_EXAMPLES}); raise it for a longer local run",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "creator_plugins(*names, extra=None): plugins enabled for the creator_platform "
        "fixture (no names: core only); extra maps names to plugin objects to register.",
    )


__all__ = [
    "BASE_URL",
    "CHROMIUM_ARGS",
    "TEST_PASSWORD",
    "CreatorPlatform",
    "FuzzReport",
    "LocalDNS",
    "PlatformFactory",
    "Servers",
    "Tenant",
    "assert_accessible",
    "assert_login_redirect",
    "assert_problem",
    "assert_ui_page",
    "creator_browser",
    "creator_dns",
    "creator_live_server",
    "creator_platform",
    "creator_platform_factory",
    "creator_servers",
    "creator_tenant",
    "database_url",
    "fuzz_api",
    "open_page",
    "real_errors",
    "serving",
    "sign_up",
    "sign_up_in_browser",
    "wait_until",
]
