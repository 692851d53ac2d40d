"""The website plugin's own hooks, used the way another plugin would use them."""

from __future__ import annotations

import msgspec
import pytest
from markupsafe import Markup

from plugins.website.components import Component, RenderContext
from plugins.website.themes import BUILTIN_THEMES, Theme
from sdk import hookimpl


class ProductCardProps(msgspec.Struct, forbid_unknown_fields=True):
    title: str = "A product"
    price_cents: int = 0


def render_product_card(p: ProductCardProps, children: Markup, ctx: RenderContext) -> Markup:
    return Markup('<article class="product"><h3>{}</h3><p>{} EUR</p></article>').format(
        p.title, f"{p.price_cents / 100:.2f}"
    )


class Shop:
    """Stands in for the business plugin: a product card creators can place."""

    @hookimpl
    def register_components(self) -> list[Component]:
        return [
            Component(
                "product_card",
                ProductCardProps,
                render_product_card,
                "Product card",
                "A product with its price",
                "commerce",
                inline=("title",),
            )
        ]


classic = BUILTIN_THEMES[0]


class Ocean:
    @hookimpl
    def register_themes(self) -> list[Theme]:
        return [
            Theme("ocean", "Ocean", "Blues", light=dict(classic.light), dark=dict(classic.dark))
        ]


async def _site(t, slug: str, theme: str = "classic") -> tuple[str, dict]:
    base = f"/api/v1/website/groups/{t.group.id}"
    r = await t.client.post(base + "/sites", json={"name": "S", "slug": slug, "theme": theme})
    assert r.status_code == 201, r.text
    site = r.json()
    r = await t.client.post(
        f"{base}/sites/{site['id']}/pages", json={"title": "Home", "slug": "home"}
    )
    assert r.status_code == 201, r.text
    return f"{base}/sites/{site['id']}/pages/{r.json()['id']}", site


@pytest.mark.creator_plugins("website", extra={"shop": Shop()})
async def test_hook_register_components(creator_platform):
    t = await creator_platform.tenant()
    page, _ = await _site(t, "shop-site")
    components = await t.client.get(f"/api/v1/website/groups/{t.group.id}/components")
    card = next(c for c in components.json() if c["type"] == "product_card")
    assert card["plugin"] == "shop" and card["defaults"] == {"title": "A product", "price_cents": 0}
    r = await t.client.post(
        page + "/components",
        json={"type": "product_card", "props": {"title": "Mug <b>", "price_cents": 1250}},
    )
    assert r.status_code == 201, r.text
    bad = await t.client.post(
        page + "/components", json={"type": "product_card", "props": {"price_cents": "free"}}
    )
    assert bad.status_code == 422 and bad.json()["field"] == "props.price_cents"
    assert (await t.client.post(page + "/publish")).status_code == 200
    html = (await creator_platform.client.get("/sites/shop-site")).text
    assert '<article class="product"><h3>Mug &lt;b&gt;</h3><p>12.50 EUR</p></article>' in html


@pytest.mark.creator_plugins("website")
async def test_absent_plugin_means_absent_component(creator_platform):
    t = await creator_platform.tenant()
    page, _ = await _site(t, "no-shop")
    r = await t.client.post(page + "/components", json={"type": "product_card"})
    assert r.status_code == 422 and "unknown component" in r.json()["detail"]


@pytest.mark.creator_plugins("website", extra={"ocean": Ocean()})
async def test_hook_register_themes(creator_platform):
    t = await creator_platform.tenant()
    themes = await t.client.get(f"/api/v1/website/groups/{t.group.id}/themes")
    assert {"classic", "ocean"} <= {th["name"] for th in themes.json()}
    _, site = await _site(t, "ocean-site", theme="ocean")
    assert site["theme"] == "ocean"


async def test_a_theme_two_plugins_register_stops_start_up_naming_both(
    creator_platform_factory,
) -> None:
    with pytest.raises(
        Exception, match="theme 'ocean' is registered by both plugin 'ocean' and plugin 'copy'"
    ):
        await creator_platform_factory(
            plugins=["website"], extra_plugins={"ocean": Ocean(), "copy": Ocean()}
        )
