"""Screens for what a workspace manages in core, in the shell: its members and invitations
(``/app/{group_id}/settings/members``), the page where an invitee accepts an invitation
(``/invite/{token}``), and the plan's quotas with this month's hosted usage
(``/app/{group_id}/settings/plan``): under the workspace's settings, whose navigation
entry they keep marked. API tokens are on the account page (``core.shell_pages``): they
belong to a person, not a workspace.

The pages are drawn on the server from what the API would answer; their writes go through
the API from ``/static/core/workspace.js`` (session + CSRF token, problems shown in place),
so the pages follow the API's rules (who may manage members, the last owner) rather than
repeating them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Template

from core.api.deps import provide_actor
from core.ontology.scope import GROUP_ROLES
from core.shell import APP_HOME, SettingsPage, shell_view
from core.shell_pages import PAGES
from core.ui import crumbs
from core.usage import USAGE_KINDS

#: How the roles read on the screens, with what each may do.
ROLE_LABELS = {"org_owner": "Owner", "org_user": "Member", "customer": "Customer"}
ROLE_HINTS = {
    "org_owner": "Everything, including members and deleting the workspace.",
    "org_user": "Creates and edits everything; does not manage members.",
    "customer": "Sees what is published, nothing else.",
}
USAGE_LABELS = {"llm_tokens": "AI answer tokens", "embedding_tokens": "AI indexing tokens"}
#: The members a page lists at most (a workspace with more lists the rest through the API).
MEMBERS_SHOWN = 200

WORKSPACE_SETTINGS = [
    SettingsPage(
        "Members",
        f"{APP_HOME}/{{group_id}}/settings/members",
        "Who works in this workspace, their roles, and invitations.",
        icon="users",
        order=10,
        permission="members.read",
    ),
    SettingsPage(
        "Plan and usage",
        f"{APP_HOME}/{{group_id}}/settings/plan",
        "Your plan's limits and what this workspace uses of them this month.",
        icon="chart",
        order=20,
    ),
    SettingsPage(
        "API tokens",
        "/account#tokens",
        "Tokens that let scripts use the API as you.",
        icon="key",
        order=30,
    ),
]


@dataclass(frozen=True)
class Meter:
    """One row of the plan page: ``used`` of ``limit`` (``None``: unlimited)."""

    label: str
    description: str
    used: int
    limit: int | None

    @property
    def percent(self) -> int:
        if not self.limit:
            return 0
        return min(100, round(100 * self.used / self.limit))

    @property
    def level(self) -> str:
        """``ok``, ``high`` (from 80 %) or ``full``: the meter's colour."""
        if self.limit is None:
            return "ok"
        if self.used >= self.limit:
            return "full"
        return "high" if self.percent >= 80 else "ok"


def _quota_label(name: str) -> str:
    words = name.split(".")[-1].replace("_", " ")
    return words[:1].upper() + words[1:]


@get(f"{APP_HOME}/{{group_id:uuid}}/settings/members", name="shell:members", **PAGES.route_options)
async def members_page(request: Request[Any, Any, Any], group_id: FromPath[UUID]) -> Template:
    group, record = await PAGES.group(request, group_id)
    group.require("members.read")
    manage = group.permissions.can(group.scope, "members.manage", group.resource())
    platform = group.platform
    members = await platform.members.list(group.scope, cursor=None, limit=MEMBERS_SHOWN)
    invitations = await platform.members.pending(group.scope) if manage else []
    owners = sum(1 for m in members.items if m.role == "org_owner")
    return PAGES.render(
        "core/members.html",
        title=f"Members · {record.name}",
        view="members",
        group=record,
        me=group.scope.person_id,
        members=members.items,
        more=members.next_cursor is not None,
        owners=owners,
        invitations=invitations,
        manage=manage,
        roles=GROUP_ROLES,
        role_labels=ROLE_LABELS,
        role_hints=ROLE_HINTS,
        crumbs=crumbs(("Settings", f"{APP_HOME}/{record.id}/settings"), ("Members", None)),
    )


@get(f"{APP_HOME}/{{group_id:uuid}}/settings/plan", name="shell:plan", **PAGES.route_options)
async def plan_page(request: Request[Any, Any, Any], group_id: FromPath[UUID]) -> Template:
    group, record = await PAGES.group(request, group_id)
    group.require("group.read")
    platform = group.platform
    report = await platform.quotas.usage(group.scope)
    quotas = [
        Meter(
            _quota_label(q.name),
            f"{q.description} (the fullest one is shown)" if q.per_parent else q.description,
            q.usage,
            q.limit,
        )
        for q in report.quotas
    ]
    hosted = []
    for kind in USAGE_KINDS:
        usage = await platform.usage.report(group.group_id, kind)
        hosted.append(Meter(USAGE_LABELS.get(kind, kind), "", usage.used, usage.budget))
    return PAGES.render(
        "core/plan.html",
        title=f"Plan and usage · {record.name}",
        view="plan",
        group=record,
        plan=report.plan,
        quotas=quotas,
        hosted=hosted,
        month=datetime.now(UTC).strftime("%B %Y"),
        crumbs=crumbs(("Settings", f"{APP_HOME}/{record.id}/settings"), ("Plan and usage", None)),
    )


@get("/invite/{token:str}", name="shell:invite", **PAGES.route_options)
async def invite_page(request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
    """Where an invitee lands from their link: logged out, the log-in page first (its
    sign-up link keeps the way back here); then what the invitation is and a button to
    accept it, or why it cannot be (unknown, expired, used, sent to another address)."""
    person = await provide_actor(request)
    view = await shell_view(request, person)
    platform = request.app.state.platform
    invitation = await platform.members.find(token) if len(token) <= 200 else None
    state = "open"
    group = None
    if invitation is None:
        state = "unknown"
    elif invitation.accepted_at is not None:
        state = "used"
    elif invitation.expires_at <= datetime.now(UTC):
        state = "expired"
    else:
        group = await platform.directory.get_group(invitation.group_id)
        if any(g.id == invitation.group_id for g in view.groups):
            state = "member"
        elif invitation.email.lower() != person.email.lower():
            state = "other_email"
    status = {"unknown": 404, "used": 410, "expired": 410}.get(state, 200)
    return PAGES.render(
        "core/invite.html",
        status=status,
        title="Invitation",
        view="invite",
        state=state,
        person=person,
        invitation=invitation if state in ("open", "member", "other_email") else None,
        group=group,
        role_label=ROLE_LABELS.get(invitation.role, "") if invitation else "",
        role_hint=ROLE_HINTS.get(invitation.role, "") if invitation else "",
        crumbs=[],
    )


WORKSPACE_ROUTES = [members_page, plan_page, invite_page]
