"""Section and page templates: every one is a valid tree, the API lists them, a page can
start from one, and the builder's canvas gets the site theme's own stylesheet."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import msgspec
import pytest

from plugins.website.blueprints import (
    PAGE_TEMPLATES,
    SECTION_TEMPLATES,
    placeholder_texts,
)
from plugins.website.builder import canvas_css
from plugins.website.components import BUILTIN_COMPONENTS, ComponentRegistry
from plugins.website.themes import BUILTIN_THEMES, theme_css
from plugins.website.types import Node
from sdk.testing import CreatorPlatform, sign_up

pytestmark = pytest.mark.creator_plugins("website")

_ids = itertools.count()


def with_ids(tree: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**node, "id": f"n{next(_ids)}", "children": with_ids(node.get("children", []))}
        for node in tree
    ]


@pytest.mark.parametrize("blueprint", [*SECTION_TEMPLATES, *PAGE_TEMPLATES], ids=lambda b: b.name)
def test_every_template_is_a_valid_tree(blueprint: Any) -> None:
    registry = ComponentRegistry()
    for component in BUILTIN_COMPONENTS:
        registry.add(component, "website")
    tree = msgspec.convert(with_ids(blueprint.tree), list[Node])
    validated = registry.validate_tree(tree)
    assert len(validated) == len(blueprint.tree)


def test_the_section_templates_the_issue_asks_for() -> None:
    names = {b.name for b in SECTION_TEMPLATES}
    assert {"hero", "features", "testimonials", "pricing", "faq", "contact", "footer"} <= names
    assert {"blank", "landing", "about", "contact"} <= {b.name for b in PAGE_TEMPLATES}


def test_placeholders_cover_component_defaults_and_template_copy() -> None:
    placeholders = set(placeholder_texts())
    assert {"Heading", "<p>Write something here.</p>", "Learn more"} <= placeholders
    assert "Say what you do in one clear line" in placeholders
    assert "Introduction" not in placeholders  # a section's label is not copy


def test_canvas_css_is_the_theme_stylesheet_scoped_to_the_canvas() -> None:
    sunrise = next(t for t in BUILTIN_THEMES if t.name == "sunrise")
    css = canvas_css(sunrise, "light")
    assert css.startswith(".bl-canvas{container:bl-canvas/inline-size;") and css.endswith("}")
    assert "#fffaf5" in css and "#a8380f" in css  # cream and terracotta
    assert ":root" not in css and "body{" not in css
    assert "&{color-scheme:light" in css
    # width queries and vw units follow the canvas's width
    assert "@media (min-width" not in css and "@container bl-canvas (min-width:56rem)" in css
    assert "vw" not in css and "2.5cqi" in css
    # everything else is the published stylesheet as it is
    published = theme_css(sunrise, "light")
    assert "@media (prefers-reduced-motion:reduce)" in published and (
        "@media (prefers-reduced-motion:reduce)" in css
    )
    assert ".cp-button-primary{background:var(--cp-bb,var(--cp-accent))" in css


async def test_templates_api_and_a_page_made_from_one(creator_platform: CreatorPlatform) -> None:
    client = creator_platform.client
    session = await sign_up(client)
    headers = {"X-CSRF-Token": session["csrf_token"]}
    group = (
        await client.post(
            "/api/v1/groups",
            json={"name": "Studio", "slug": f"studio-{uuid.uuid4().hex[:8]}"},
            headers=headers,
        )
    ).json()
    base = f"/api/v1/website/groups/{group['id']}"
    found = (await client.get(base + "/templates")).json()
    assert [s["name"] for s in found["sections"]][:3] == ["hero", "features", "testimonials"]
    assert "Heading" in found["placeholders"]
    landing = next(p for p in found["pages"] if p["name"] == "landing")

    site = (
        await client.post(
            base + "/sites",
            json={"name": "Site", "slug": f"s-{uuid.uuid4().hex[:8]}", "theme": "sunrise"},
            headers=headers,
        )
    ).json()
    r = await client.post(
        f"{base}/sites/{site['id']}/pages",
        json={"title": "Home", "slug": "home", "tree": with_ids(landing["tree"])},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    assert [n["type"] for n in r.json()["tree"]] == ["section"] * 6

    css = await client.get(f"/builder/{group['id']}/sites/{site['id']}/canvas.css?v=1")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert css.text.startswith(".bl-canvas{") and "#a8380f" in css.text

    # Another person's site: not found, as on the API.
    stranger = await creator_platform.client_as("org_owner", session=True)
    r = await stranger.client.get(f"/builder/{group['id']}/sites/{site['id']}/canvas.css")
    assert r.status_code == 404
