"""A plugin's own migration (used by ``test_hook_register_migrations``): one table.

Written like core's ontology migrations: raw DDL run through Piccolo's MigrationManager,
which records it so it runs once.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-24T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "plugintest: a counters table"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="plugintest", description=DESCRIPTION)

    async def create_counters() -> None:
        engine = engine_finder()
        assert engine is not None
        await engine.run_ddl(
            """
            CREATE TABLE plugintest_counters (
                group_id uuid NOT NULL,
                name text NOT NULL,
                value bigint NOT NULL DEFAULT 0,
                PRIMARY KEY (group_id, name)
            )"""
        )

    manager.add_raw(create_counters)
    return manager
