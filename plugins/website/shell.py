"""What the website plugin adds to the creator app's shell: the "Websites" and "Media"
entries of the navigation, a settings entry, and the dashboard's websites card (sites,
pages published, pages in draft), counted in the database under the caller's group."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Litestar

import sdk

NAV = [
    sdk.NavItem("Websites", "/builder/{group_id}", icon="globe", order=10),
    sdk.NavItem(
        "Media", "/builder/{group_id}/media", icon="image", order=12, permission="website.read"
    ),
]
SETTINGS = [
    sdk.SettingsPage(
        "Websites",
        "/builder/{group_id}",
        "Each site's theme, custom domain, search indexing and pages.",
        icon="globe",
        order=10,
    )
]


async def websites_card(app: Litestar, group: sdk.GroupContext) -> Mapping[str, Any]:
    """Sites and their pages, published or in draft: two counts."""
    [sites] = await group.stores.things.aggregate([sdk.Metric.count(name="n")], type="website")
    by_status = await group.stores.things.aggregate(
        [sdk.Metric.count(name="n")], group_by=["status"], type="page"
    )
    pages = {str(row.key[0]): int(row.values["n"]) for row in by_status}
    href = f"/builder/{group.group_id}"
    return {
        "icon": "globe",
        "value": pages.get("published", 0),
        "label": "pages published",
        "rows": [
            {"label": "Websites", "value": int(sites.values["n"])},
            {"label": "Pages in draft", "value": pages.get("draft", 0)},
        ],
        "href": href,
        "link_label": "Open the builder" if sites.values["n"] else "Create your first website",
    }


WIDGETS = [sdk.DashboardWidget("website.pages", "Websites", websites_card, order=10)]
