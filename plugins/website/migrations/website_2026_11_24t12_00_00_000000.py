"""Live pages and unique public names.

``website_live_pages`` holds the HTML of each published page, rendered once at publish
(public requests are served from it through an in-process cache). It is a table of its
own, not a thing, because public requests look pages up across groups by (site, slug)
and need the bytes. (Site slugs and custom domains, unique across the platform, are
core's public names: see the next migration.)
"""

from sdk import group_table_statements, sql_migration

ID = "2026-11-24T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "website: live pages"

STATEMENTS = [
    """
    CREATE TABLE IF NOT EXISTS website_live_pages (
        page_id uuid PRIMARY KEY,
        group_id uuid NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        site_id uuid NOT NULL,
        slug text NOT NULL,
        title text NOT NULL,
        description text NOT NULL DEFAULT '',
        noindex boolean NOT NULL DEFAULT false,
        revision integer NOT NULL,
        html text NOT NULL,
        etag text NOT NULL,
        published_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (site_id, slug)
    )""",
    "CREATE INDEX IF NOT EXISTS website_live_pages_group ON website_live_pages (group_id)",
    *group_table_statements("website_live_pages"),
]


forwards = sql_migration(ID, "website", DESCRIPTION, STATEMENTS)
