"""What the clone plugin adds to the creator app's shell: the "Clones" entry of the
navigation, two settings entries (the clones; their voice and video), and the dashboard's
clone questions card (questions asked in the last 30 days, the share left unanswered, how
many clones are trained), counted in the database under the caller's group."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar

import sdk
from plugins.clone.analytics import ANSWERED, ASKED

NAV = [sdk.NavItem("Clones", "/clones/{group_id}", icon="chat", order=20)]
SETTINGS = [
    sdk.SettingsPage(
        "AI clones",
        "/clones/{group_id}",
        "Each clone's sources, voice, look of its chat widget and where it may be embedded.",
        icon="chat",
        order=20,
    ),
    sdk.SettingsPage(
        "Voice and video",
        "/clones/{group_id}/voice",
        "Your clones' voice and talking-head video, and the services that make them.",
        icon="user",
        order=21,
    ),
]
WINDOW_DAYS = 30
QUESTION_COUNTS = [
    sdk.Metric.count(where=ASKED, name="questions"),
    sdk.Metric.count_distinct("properties.thread_id", where=ASKED, name="conversations"),
    sdk.Metric.count(where={**ANSWERED, "unanswered": True}, name="unanswered"),
]


async def questions_card(app: Litestar, group: sdk.GroupContext) -> Mapping[str, Any]:
    """The workspace's clone questions of the last 30 days, and its clones by status."""
    since = datetime.now(UTC) - timedelta(days=WINDOW_DAYS)
    [asked] = await group.stores.things.aggregate(QUESTION_COUNTS, type="ai_message", since=since)
    by_status = await group.stores.things.aggregate(
        [sdk.Metric.count(name="n")], group_by=["status"], type="ai_clone"
    )
    clones = {str(row.key[0]): int(row.values["n"]) for row in by_status}
    total = sum(clones.values())
    return {
        "icon": "chat",
        "value": int(asked.values["questions"]),
        "label": f"questions in the last {WINDOW_DAYS} days",
        "rows": [
            {"label": "Conversations", "value": int(asked.values["conversations"])},
            {"label": "Left unanswered", "value": int(asked.values["unanswered"])},
            {"label": "Clones trained", "value": f"{clones.get('active', 0)} of {total}"}
            if total
            else {"label": "Clones", "value": "None yet"},
        ],
        "href": f"/clones/{group.group_id}",
        "link_label": "Open your clones" if total else "Create your first clone",
    }


WIDGETS = [sdk.DashboardWidget("clone.questions", "Clone questions", questions_card, order=20)]
