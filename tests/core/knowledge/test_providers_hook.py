"""``register_embedding_providers``: a plugin's provider used for ingest and search, the
start-up errors for clashing or unknown names, and re-embedding after a model change (the
job, called directly, and ``creator knowledge reembed``)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import msgspec
import pytest
from click.testing import CliRunner

from core.app import create_app
from core.cli import cli
from core.knowledge.jobs import reembed_job
from core.knowledge.local import MODEL as LOCAL_MODEL
from core.knowledge.local import LocalEmbeddingProvider
from core.knowledge.registry import EmbeddingProviderError
from core.knowledge.service import KnowledgeService
from core.ontology.scope import Scope
from core.platform import Platform
from core.plugins import PluginManager
from core.settings import load_settings
from sdk import hookimpl
from sdk.testing import CreatorPlatform, PlatformFactory, database_url

PLUGIN = "knowledgetest"
TEXTS = [
    "Refund policy: email us within 30 days and we return your money.",
    "Hoodies ship from Lisbon in three business days.",
    "Coaching calls last 45 minutes and cost 150 euros.",
]


async def index_exists(platform: CreatorPlatform, name: str) -> bool:
    async with platform.platform.db.pool.acquire() as conn:
        return bool(
            await conn.fetchval(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = $1",
                name,
            )
        )


async def test_hook_register_embedding_providers(
    creator_platform_factory: PlatformFactory, knowledge_plugin, hash_embedder
) -> None:
    platform = await creator_platform_factory(
        plugins=[PLUGIN], extra_plugins={PLUGIN: knowledge_plugin}, embedding_provider="hash64"
    )
    p = platform.platform
    assert set(p.embedders) >= {"local", "openai", "hash64"}
    assert p.embedders.owner("hash64") == PLUGIN and p.embedders.owner("local") == "core"
    assert p.knowledge.provider is hash_embedder

    owner = await platform.tenant()
    r = await owner.client.post(owner.url("/knowledge"), json={"text": TEXTS[0]})
    assert r.status_code == 201, r.text
    item = r.json()["items"][0]
    assert (item["embedding_model"], item["embedding_dim"]) == ("hash-64-v1", 64)
    assert hash_embedder.calls == [[TEXTS[0]]]
    # the first vectors of a new dimension got their own partial HNSW index
    assert await index_exists(platform, "knowledge_embedding_64_hnsw")

    r = await owner.client.get(
        owner.url("/knowledge/search"), params={"q": "refund policy money", "mode": "vector"}
    )
    assert r.status_code == 200
    assert [h["knowledge_id"] for h in r.json()["items"]] == [item["id"]]
    assert hash_embedder.calls[-1] == ["refund policy money"]  # the query, by the plugin
    async with p.db.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            row[0]
            for row in await conn.fetch(
                "EXPLAIN SELECT id FROM knowledge WHERE embedding_dim = 64 "
                "ORDER BY (embedding::vector(64)) <=> $1::vector(64) LIMIT 5",
                [0.1] * 64,
            )
        )
    # the query shape search uses is answered by that index
    assert "Index Scan using knowledge_embedding_64_hnsw" in plan, plan


def test_clashing_provider_names_stop_start_up(knowledge_plugin) -> None:
    class Clash:
        @hookimpl
        def register_embedding_providers(self) -> list[Any]:
            return [LocalEmbeddingProvider("hash64")]

    settings = load_settings(environ={}, plugins=[PLUGIN, "clash"])
    with pytest.raises(EmbeddingProviderError) as err:
        create_app(settings, extra_plugins={PLUGIN: knowledge_plugin, "clash": Clash()})
    assert str(err.value) == (
        "embedding provider 'hash64' is registered by both plugin 'knowledgetest' "
        "and plugin 'clash'"
    )

    class Broken:
        @hookimpl
        def register_embedding_providers(self) -> list[Any]:
            return [object()]

    with pytest.raises(EmbeddingProviderError, match="plugin 'broken'"):
        create_app(
            load_settings(environ={}, plugins=["broken"]), extra_plugins={"broken": Broken()}
        )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"embedding_provider": "nope"}, "setting 'embedding_provider' is 'nope'"),
        ({"chunk_tokens": 10, "chunk_overlap": 10}, "chunk_overlap"),
        ({"chunk_tokens": 0}, "chunk_tokens"),
        (
            {"embedding_provider": "openai", "openai_embedding_model": "my-model"},
            "openai_embedding_dimensions",
        ),
    ],
)
def test_bad_knowledge_settings_stop_start_up(overrides, message) -> None:
    with pytest.raises(EmbeddingProviderError, match=message):
        create_app(load_settings(environ={}, plugins=[], **overrides))


async def test_reembed_after_a_model_change(
    creator_platform_factory: PlatformFactory, knowledge_plugin, hash_embedder
) -> None:
    platform = await creator_platform_factory(
        plugins=[PLUGIN], extra_plugins={PLUGIN: knowledge_plugin}, embedding_provider="hash64"
    )
    p = platform.platform
    a, b = await platform.tenant(), await platform.tenant()
    old = KnowledgeService(
        p.ontology, p.embedders, msgspec.structs.replace(p.settings, embedding_provider="local")
    )
    for text in TEXTS:
        await old.ingest(a.scope, text)
    await old.ingest(b.scope, TEXTS[0])
    assert hash_embedder.calls == []
    # the new model cannot see the old vectors yet
    assert await p.knowledge.search(a.scope, "refund policy money", mode="vector") == []

    seen: list[tuple[int, int | None]] = []

    async def progress(done: int, total: int | None = None) -> None:
        seen.append((done, total))

    result = await reembed_job(
        {"platform": p, "progress": progress, "group_id": a.group.id}, batch_size=2
    )
    assert result["reembedded"] == 3 and result["groups"] == 1
    assert result["model"] == "hash-64-v1" and result["dimension"] == 64
    assert seen == [(0, 3), (2, 3), (3, 3)]
    assert hash_embedder.calls[1:] == [TEXTS[:2], TEXTS[2:]]  # after the query, in batches
    items = (await platform.ontology(a).knowledge.list()).items
    assert {(i.embedding_model, i.embedding_dim) for i in items} == {("hash-64-v1", 64)}
    hits = await p.knowledge.search(a.scope, "refund policy money", mode="vector")
    assert hits and hits[0].text == TEXTS[0]
    # group b untouched until its turn; then a run over every group finishes it
    items_b = (await platform.ontology(b).knowledge.list()).items
    assert {i.embedding_model for i in items_b} == {LOCAL_MODEL}
    report = await p.knowledge.reembed()
    assert (report.reembedded, report.groups) == (1, 1)
    again = await p.knowledge.reembed()
    assert (again.reembedded, again.groups) == (0, 0)  # idempotent
    # the job is registered under its name for the worker
    assert "knowledge.reembed" in p.jobs.jobs


def test_cli_reembed_prints_progress(creator_servers, knowledge_plugin) -> None:
    name = asyncio.run(creator_servers.create_database())
    url = database_url(creator_servers.database_url, name)
    settings = load_settings(
        environ={},
        database_url=url,
        redis_url=creator_servers.redis_url,
        plugins=[PLUGIN],
        migrate_on_start=False,
        embedding_provider="hash64",
    )

    async def arrange() -> Any:
        platform = Platform.load(settings, extra_plugins={PLUGIN: knowledge_plugin})
        await platform.start()
        try:
            person = await platform.directory.create_person("cli@example.test", "CLI")
            group = await platform.directory.create_group(person, slug="cli", name="CLI")
            for text in TEXTS:
                await platform.knowledge.ingest(Scope.system(group.id), text)
            return group.id
        finally:
            await platform.stop()

    async def models(group_id: Any) -> set[tuple[str, int]]:
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch(
                "SELECT embedding_model, embedding_dim FROM knowledge WHERE group_id = $1",
                group_id,
            )
        finally:
            await conn.close()
        return {(row[0], row[1]) for row in rows}

    try:
        group_id = asyncio.run(arrange())
        assert asyncio.run(models(group_id)) == {("hash-64-v1", 64)}
        PluginManager([]).hook.register_commands(cli=cli)
        env = {
            "CREATOR_DATABASE_URL": url,
            "CREATOR_REDIS_URL": creator_servers.redis_url,
            "CREATOR_PLUGINS": "",
            "CREATOR_MIGRATE_ON_START": "false",
            "CREATOR_EMBEDDING_PROVIDER": "local",
        }
        result = CliRunner().invoke(cli, ["knowledge", "reembed", "--batch-size", "2"], env=env)
        assert result.exit_code == 0, (result.output, result.exception)
        assert "0/3 rows (0%)" in result.output and "2/3 rows" in result.output
        assert "3/3 rows (100%)" in result.output
        assert "re-embedded 3 rows in 1 group(s) with multilingual-e5-small-q4" in result.output
        assert asyncio.run(models(group_id)) == {(LOCAL_MODEL, 384)}
    finally:
        asyncio.run(creator_servers.drop_database(name))


async def test_a_model_change_queues_reembedding_at_start_up(
    creator_platform_factory: PlatformFactory, knowledge_plugin, hash_embedder
) -> None:
    from arq.jobs import Job as ArqJob
    from arq.jobs import JobStatus

    platform = await creator_platform_factory(
        plugins=[PLUGIN], extra_plugins={PLUGIN: knowledge_plugin}, embedding_provider="hash64"
    )
    p = platform.platform
    assert await p.knowledge.schedule_reembed(p.jobs) is None  # nothing stale: nothing queued
    owner = await platform.tenant()
    old = KnowledgeService(
        p.ontology, p.embedders, msgspec.structs.replace(p.settings, embedding_provider="local")
    )
    await old.ingest(owner.scope, TEXTS[0])  # embedded by the previous model

    restarted = create_app(p.settings, extra_plugins={PLUGIN: knowledge_plugin})
    async with restarted.lifespan():  # a process starting after the change of model
        pass
    job_id = "knowledge.reembed:hash-64-v1:64"
    assert await ArqJob(job_id, p.jobs.arq).status() == JobStatus.queued
    # every other process that starts queues the very same job, not another one
    assert await p.knowledge.schedule_reembed(p.jobs) == job_id
    assert await p.jobs.arq.zcard("arq:queue") == 1
