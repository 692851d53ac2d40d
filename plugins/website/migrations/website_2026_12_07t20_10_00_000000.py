"""Site slugs and custom domains become core's public names.

They were kept unique by two unique indexes of this plugin on core's ``things`` table; a
plugin does not touch core's tables, and core now has one registry of names unique
across groups (``ontology.names``). Each live site claims its slug (``website.slug``,
verified: nothing to check) and its custom domain (``domain``, pending until domains are
verified), then the indexes go.
"""

from sdk import claim_names_statement, sql_migration

ID = "2026-12-07T20:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "website: slugs and custom domains are public names"

STATEMENTS = [
    claim_names_statement("website.slug", "website", "slug", verified=True),
    claim_names_statement("domain", "website", "custom_domain", verified=False),
    "DROP INDEX IF EXISTS website_site_slug",
    "DROP INDEX IF EXISTS website_site_domain",
]


forwards = sql_migration(ID, "website", DESCRIPTION, STATEMENTS)
