"""Websites: create, list, change and delete them; their public names.

A site holds its slug and custom domain as public names (core's registry), claimed in the
transaction that sets them; a domain is ``pending``, and not served, until its DNS record
is found (:mod:`~plugins.website.services.domains`). A site's look and addresses are part
of every live page, so changing them renders the live pages again (through
:class:`Publishing`).
"""

from __future__ import annotations

from uuid import UUID

import msgspec

import sdk
from plugins.website.live import DOMAIN_NAME, SLUG_NAME, LivePages
from plugins.website.services.base import WebsiteContext, is_platform_name
from plugins.website.services.domains import new_token
from plugins.website.services.publishing import Publishing
from plugins.website.types import SiteSettings, WebsiteIn, WebsitePatch, WebsiteProps, WebsiteView


class Sites:
    """A group's websites."""

    def __init__(self, context: WebsiteContext, publishing: Publishing) -> None:
        self.context = context
        self.publishing = publishing

    async def list_sites(
        self, group: sdk.GroupContext, cursor: str | None, limit: int
    ) -> sdk.Page[WebsiteView]:
        group.require("website.read")
        page = await group.stores.things.list(type="website", cursor=cursor, limit=limit)
        views = await self.context.site_views(group.stores, page.items)
        return sdk.Page(items=views, next_cursor=page.next_cursor)

    async def get_site(self, group: sdk.GroupContext, site_id: UUID) -> WebsiteView:
        site = await self.context.get_site_thing(group, site_id)
        return await self.context.full_site_view(group.stores, site)

    async def create_site(self, group: sdk.GroupContext, data: WebsiteIn) -> WebsiteView:
        group.require("website.manage")
        context = self.context
        context.theme(data.theme)
        await self._check_public_names(data.slug, data.custom_domain, None)
        props = WebsiteProps(
            slug=data.slug,
            theme=data.theme,
            custom_domain=data.custom_domain,
            description=data.description,
            language=data.language,
            settings=data.settings or SiteSettings(),
            domain_token=new_token() if data.custom_domain else None,
        )
        clean = sdk.validate_object(WebsiteProps, msgspec.to_builtins(props), "properties")
        async with context.transaction(group) as o:
            await _check_menu(o, None, props.settings)  # a new site has no pages yet
            await context.platform.quotas.check(group.scope, "websites", within=o)
            thing = await o.things.create("website", name=data.name, properties=clean)
            await self._claim_public_names(o, thing.id, data.slug, data.custom_domain)
            await o.events.emit(
                "website_created",
                {"site_id": str(thing.id), "slug": data.slug},
                target_id=thing.id,
            )
            if data.custom_domain:
                await o.events.emit(
                    "domain_configured",
                    {"site_id": str(thing.id), "domain": data.custom_domain},
                    target_id=thing.id,
                )
            view = await context.full_site_view(o, thing)
        await context.purge.publish(thing.id)
        return view

    async def update_site(
        self,
        group: sdk.GroupContext,
        site_id: UUID,
        patch: WebsitePatch,
        expected_version: int | None = None,
    ) -> WebsiteView:
        group.require("website.manage")
        context = self.context
        await context.get_site_thing(group, site_id)
        async with context.transaction(group) as o:
            # Under the site's lock and re-read inside the transaction: two settings changes
            # apply one after the other (neither is lost), and no page is published with
            # the look the site had before.
            site = await context.lock_site(o, site_id)
            props = msgspec.convert(site.properties, WebsiteProps)
            before = msgspec.to_builtins(props)
            name = site.name if patch.name is msgspec.UNSET else patch.name
            for field in ("slug", "theme", "custom_domain", "description", "language"):
                value = getattr(patch, field)
                if value is not msgspec.UNSET:
                    setattr(props, field, value)
            before_settings = props.settings
            if patch.settings is not msgspec.UNSET:
                merged = {
                    **msgspec.to_builtins(props.settings),
                    **msgspec.to_builtins(patch.settings),
                }
                settings = sdk.validate_object(SiteSettings, merged, "settings")
                props.settings = msgspec.convert(settings, SiteSettings)
                await _check_menu(o, site_id, props.settings, before_settings)
            context.theme(props.theme)
            new_domain = props.custom_domain
            if (new_domain or "").lower() != (before.get("custom_domain") or "").lower():
                # a new domain, a new token: an old record proves nothing about it
                props.domain_token = new_token() if new_domain else None
            await self._check_public_names(
                props.slug if props.slug != before["slug"] else None,
                new_domain if new_domain and new_domain != before.get("custom_domain") else None,
                site_id,
            )
            clean = sdk.validate_object(WebsiteProps, msgspec.to_builtins(props), "properties")
            changed = sorted(
                k
                for k in set(clean) | set(before)
                if clean.get(k) != before.get(k) and k != "domain_token"
            )
            if name != site.name:
                changed.insert(0, "name")
            if not changed:
                return await context.full_site_view(o, site)
            site = await o.things.update(
                site_id,
                name=name,
                properties=clean,
                replace_properties=True,
                expected_version=expected_version,
            )
            await self._claim_public_names(o, site_id, props.slug, props.custom_domain)
            await o.events.emit(
                "website_updated",
                {"site_id": str(site_id), "slug": props.slug, "changed": changed},
                target_id=site_id,
            )
            if "custom_domain" in changed:
                await o.events.emit(
                    "domain_configured",
                    {
                        "site_id": str(site_id),
                        "domain": props.custom_domain,
                        "previous": before.get("custom_domain"),
                    },
                    target_id=site_id,
                )
            # The site's look and addresses are part of every live page: render them again
            # from the revisions that are live (their content does not change).
            await self.publishing.rerender_live(o, site)
            view = await context.full_site_view(o, site)
        await context.purge.publish(site_id)
        return view

    async def delete_site(
        self, group: sdk.GroupContext, site_id: UUID, expected_version: int | None = None
    ) -> None:
        group.require("website.manage")
        context = self.context
        site = await context.get_site_thing(group, site_id)
        async with context.transaction(group) as o:
            site = await context.lock_site(o, site_id)  # nothing is created or published meanwhile
            pages = await sdk.every_item(
                o.things.list, type="page", where={"site_id": str(site_id)}
            )
            for page in pages:
                await o.things.delete(page.id)
            async with o.session.transaction() as conn:
                await LivePages.remove_site(conn, site_id)
            await o.things.delete(site_id, expected_version=expected_version)
            props = msgspec.convert(site.properties, WebsiteProps)
            await o.events.emit(
                "website_updated",
                {"site_id": str(site_id), "slug": props.slug, "changed": ["deleted"]},
                target_id=site_id,
            )
        await context.purge.publish(site_id)

    # -- public names ---------------------------------------------------------------------

    async def _check_public_names(
        self, slug: str | None, domain: str | None, site_id: UUID | None
    ) -> None:
        if domain is not None and is_platform_name(domain.lower(), self.context.platform):
            raise sdk.ValidationFailed(
                f"{domain!r} is this platform's own address (or under it), not a domain of "
                "your own",
                field="custom_domain",
            )
        live = self.context.live
        if slug is not None and await live.slug_taken(slug, except_id=site_id):
            raise _name_taken(slug, None)
        if domain is not None and await live.domain_taken(domain, except_id=site_id):
            raise _name_taken(None, domain)

    @staticmethod
    async def _claim_public_names(
        o: sdk.ScopedOntology, site_id: UUID, slug: str, domain: str | None
    ) -> None:
        """The site holds its slug and custom domain (if any) as public names, in the
        transaction that sets them: a name another site took meanwhile is a conflict.
        A new domain is ``pending`` (the one the site held already keeps its status)
        until its DNS record is found."""
        try:
            await o.names.set(SLUG_NAME, site_id, slug, verified=True)
        except sdk.NameTaken:
            raise _name_taken(slug, None) from None
        try:
            await o.names.set(DOMAIN_NAME, site_id, domain)
        except sdk.NameTaken:
            raise _name_taken(None, domain) from None


async def _check_menu(
    o: sdk.ScopedOntology,
    site_id: UUID | None,
    settings: SiteSettings,
    before: SiteSettings | None = None,
) -> None:
    """Every page the menu names anew is one of this site's pages (published or not: a
    draft shows up once it is published). Pages the menu named already may have been
    deleted since: they are not shown, and they do not block other changes."""
    known = {item.page_id for item in (before.menu if before and before.menu else [])}
    wanted = [
        (i, item.page_id)
        for i, item in enumerate(settings.menu or [])
        if item.page_id and item.page_id not in known
    ]
    if not wanted:
        return
    pages = (
        await sdk.every_item(o.things.list, type="page", where={"site_id": str(site_id)})
        if site_id is not None
        else []
    )
    ours = {str(page.id) for page in pages}
    for index, page_id in wanted:
        if page_id not in ours:
            raise sdk.ValidationFailed(
                f"the menu names page {page_id}, which is not a page of this site",
                field=f"settings.menu[{index}].page_id",
            )


def _name_taken(slug: str | None, domain: str | None) -> sdk.Conflict:
    if domain and not slug:
        return sdk.Conflict(
            f"the domain {domain!r} is already used by another website", field="custom_domain"
        )
    return sdk.Conflict(
        f"the address {slug!r} is taken by another website; choose another slug",
        field="slug",
    )
