"""Training: the ``clone.train`` job embeds the sources, records what it embedded on each
``trained_on`` connection and makes the clone active; retraining embeds only what
changed; a website page is learned as it is live; failures leave the clone ``failed``."""

from __future__ import annotations

import asyncio
from uuid import UUID

import pytest

from plugins.clone import sentences, training
from plugins.clone.text import split_sentences
from sdk import hookimpl
from sdk.testing import assert_problem

pytestmark = pytest.mark.creator_plugins("clone")


async def knowledge_of(tenant, thing_id: str) -> list[dict]:
    r = await tenant.client.get(
        f"/api/v1/groups/{tenant.group.id}/knowledge", params={"thing_id": thing_id}
    )
    assert r.status_code == 200, r.text
    items: list[dict] = r.json()["items"]
    return items


async def trained_on(tenant, clone_id: str) -> dict[str, dict]:
    """The clone's live ``trained_on`` metadata by source id."""
    r = await tenant.client.get(
        f"/api/v1/groups/{tenant.group.id}/connections",
        params={"type": "trained_on", "from_id": clone_id},
    )
    assert r.status_code == 200, r.text
    return {c["to_id"]: c["metadata"] for c in r.json()["items"]}


async def test_training_embeds_the_sources(api, owner, docs, events) -> None:
    clone = await api.clone("Ada")
    refunds = await api.text(clone["id"], "Refunds", docs["refunds"])
    coaching = await api.text(clone["id"], "Coaching", docs["coaching"], kind="markdown")
    started = await api.train(clone["id"], wait=False)
    assert started["clone"]["status"] == "training"
    assert started["clone"]["training_job"] == started["job_id"]

    job = await api.train(clone["id"])  # the same job while it runs, then its end
    assert job["id"] == started["job_id"]
    assert job["status"] == "complete" and job["name"] == "clone.train"
    assert job["progress"] == {"done": 2, "total": 2}
    assert job["result"]["sources"] == 2 and job["result"]["chunks"] == 2
    assert job["result"]["embedded"] == 2
    trained = job["clone"]
    assert trained["status"] == "active" and trained["trained_at"]
    assert trained["training_error"] is None

    for source, doc in ((refunds, docs["refunds"]), (coaching, docs["coaching"])):
        items = await knowledge_of(owner, source["id"])
        assert [i["text"] for i in items] == [doc]
        assert items[0]["metadata"]["title"] == source["title"]
    meta = await trained_on(owner, clone["id"])
    assert meta[refunds["id"]]["chunk_count"] == 1
    assert len(meta[refunds["id"]]["content_hash"]) == 64
    assert {s["state"] for s in await api.sources(clone["id"])} == {"trained"}
    assert {s["chunk_count"] for s in await api.sources(clone["id"])} == {1}
    event = (await events(owner, "clone_trained", clone["id"]))[0]["payload"]
    assert event["clone_id"] == clone["id"] and event["sources"] == 2
    assert event["chunks"] == 2 and event["embedded"] == 2 and event["seconds"] >= 0


async def test_retraining_embeds_only_what_changed(api, owner, docs, events) -> None:
    clone = await api.clone("Ada")
    refunds = await api.text(clone["id"], "Refunds", docs["refunds"])
    coaching = await api.text(clone["id"], "Coaching", docs["coaching"])
    await api.train(clone["id"])
    before = {s: await knowledge_of(owner, s) for s in (refunds["id"], coaching["id"])}

    again = await api.train(clone["id"])  # nothing changed: nothing embedded or touched
    assert again["result"] == {**again["result"], "sources": 2, "chunks": 2, "embedded": 0}
    for source_id, items in before.items():
        assert await knowledge_of(owner, source_id) == items

    r = await api.client.patch(
        api.url(clone["id"], f"/sources/{coaching['id']}"),
        json={"text": docs["coaching"] + "\n\nGroup sessions happen on Saturdays."},
    )
    assert r.json()["state"] == "changed"
    changed = await api.train(clone["id"])
    assert changed["result"]["embedded"] == 1 and changed["result"]["sources"] == 2
    assert await knowledge_of(owner, refunds["id"]) == before[refunds["id"]]
    assert "Saturdays" in (await knowledge_of(owner, coaching["id"]))[0]["text"]

    # a new title changes no chunk text: no new embedding, the metadata follows
    await api.client.patch(
        api.url(clone["id"], f"/sources/{refunds['id']}"), json={"title": "Money back"}
    )
    renamed = await api.train(clone["id"])
    assert renamed["result"]["embedded"] == 0
    assert (await knowledge_of(owner, refunds["id"]))[0]["metadata"]["title"] == "Money back"
    embedded = [e["payload"]["embedded"] for e in await events(owner, "clone_trained")]
    assert embedded == [0, 1, 0, 2]  # newest first

    # adding a source embeds just that one
    await api.text(clone["id"], "Hours", "The studio opens at nine in the morning.")
    assert (await api.train(clone["id"]))["result"]["embedded"] == 1


async def test_removing_and_deleting_drop_the_knowledge(api, owner, docs) -> None:
    clone = await api.clone("Ada")
    refunds = await api.text(clone["id"], "Refunds", docs["refunds"])
    coaching = await api.text(clone["id"], "Coaching", docs["coaching"])
    await api.train(clone["id"])
    assert (await api.client.delete(api.url(clone["id"], f"/sources/{refunds['id']}"))).is_success
    assert await knowledge_of(owner, refunds["id"]) == []
    assert (await api.train(clone["id"]))["result"]["sources"] == 1
    assert (await api.client.delete(api.url(clone["id"]))).status_code == 204
    assert await knowledge_of(owner, coaching["id"]) == []


async def test_training_needs_sources_and_rights(clone_platform, api, owner, api_for):
    clone = await api.clone("Ada")
    body = assert_problem(await api.client.post(api.url(clone["id"], "/train")), 422)
    assert "no sources" in body["detail"]
    assert (await api.get(clone["id"]))["status"] == "draft"
    customer = api_for(await clone_platform.member(owner, "customer"))
    assert_problem(await customer.client.post(customer.url(clone["id"], "/train")), 403)


async def test_asking_again_while_queued_answers_the_same_job(
    creator_platform_factory, api_for, docs
) -> None:
    cp = await creator_platform_factory(plugins=["clone"])  # no worker: jobs stay queued
    api = api_for(await cp.tenant())
    clone = await api.clone("Ada")
    await api.text(clone["id"], "Refunds", docs["refunds"])
    first = await api.train(clone["id"], wait=False)
    second = await api.train(clone["id"], wait=False)
    assert second["job_id"] == first["job_id"]
    assert (await api.job(first["job_id"]))["status"] == "queued"
    assert await cp.platform.redis.zcard("arq:queue") == 1


class BrokenEmbedder:
    name = "broken"
    model = "broken-1"
    dimension = 384

    def __init__(self) -> None:
        self.calls = 0

    async def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        raise RuntimeError("the embedding service is down")


class BrokenEmbeddings:
    def __init__(self) -> None:
        self.embedder = BrokenEmbedder()

    @hookimpl
    def register_embedding_providers(self) -> list[object]:
        return [self.embedder]


async def test_a_failing_training_marks_the_clone_failed(
    creator_platform_factory, api_for, docs, events
) -> None:
    plugin = BrokenEmbeddings()
    cp = await creator_platform_factory(
        plugins=["clone"],
        extra_plugins={"broken": plugin},
        embedding_provider="broken",
        worker=True,
        job_retry_base_seconds=0.02,
        worker_poll_delay_seconds=0.02,
    )
    owner = await cp.tenant()
    api = api_for(owner)
    clone = await api.clone("Ada")
    await api.text(clone["id"], "Refunds", docs["refunds"])
    job = await api.train(clone["id"])
    assert job["status"] == "failed" and job["attempts"] == 3  # retried, then given up
    assert plugin.embedder.calls == 3
    failed = job["clone"]
    assert failed["status"] == "failed"
    assert "RuntimeError: the embedding service is down" in failed["training_error"]
    changed = (await events(owner, "clone_updated", clone["id"]))[0]["payload"]["changed"]
    assert changed == ["status", "training_error"]
    assert (await api.sources(clone["id"]))[0]["state"] == "new"
    assert failed["training_version"] == 0  # only a training that succeeds counts
    # it can be trained again (and fails again here)
    again = await api.train(clone["id"], wait=False)
    assert again["job_id"] != job["id"] and again["clone"]["status"] == "training"
    assert again["clone"]["training_error"] is None


class SlowEmbeddings:
    """An embedding provider that takes a second per call."""

    name, model, dimension = "slow", "slow-1", 384

    async def embed(self, texts: list[str]) -> list[list[float]]:
        await asyncio.sleep(1.0)
        return [[1.0] + [0.0] * 383 for _ in texts]

    @hookimpl
    def register_embedding_providers(self) -> list[object]:
        return [self]


async def test_a_training_out_of_time_marks_the_clone_failed(
    creator_platform_factory, api_for, docs, monkeypatch
) -> None:
    """Running out of the job's time is an error the training sees (not a cancellation
    from outside), so its last try still records why the clone failed."""
    monkeypatch.setattr(training, "TRAIN_TIMEOUT_SECONDS", 30.2)  # 0.2 s inside the job
    cp = await creator_platform_factory(
        plugins=["clone"],
        extra_plugins={"slow": SlowEmbeddings()},
        embedding_provider="slow",
        worker=True,
        job_retry_base_seconds=0.02,
        worker_poll_delay_seconds=0.02,
    )
    api = api_for(await cp.tenant())
    clone = await api.clone("Ada")
    await api.text(clone["id"], "Refunds", docs["refunds"])
    job = await api.train(clone["id"])
    assert job["status"] == "failed" and job["attempts"] == 3
    assert job["clone"]["status"] == "failed"
    assert job["clone"]["training_error"] == "TimeoutError: it ran out of time"


class Website:
    """Just enough of the website API to make, change and publish a page."""

    def __init__(self, tenant) -> None:
        self.client = tenant.client
        self.base = f"/api/v1/website/groups/{tenant.group.id}"
        self.slug = tenant.group.slug

    async def site(self) -> str:
        r = await self.client.post(self.base + "/sites", json={"name": "Site", "slug": self.slug})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def page(self, site_id: str, title: str) -> str:
        r = await self.client.post(
            f"{self.base}/sites/{site_id}/pages", json={"title": title, "slug": "about"}
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def add(self, site_id: str, page_id: str, type: str, props: dict) -> None:
        r = await self.client.post(
            f"{self.base}/sites/{site_id}/pages/{page_id}/components",
            json={"type": type, "props": props},
        )
        assert r.status_code == 201, r.text

    async def publish(self, site_id: str, page_id: str) -> None:
        r = await self.client.post(f"{self.base}/sites/{site_id}/pages/{page_id}/publish")
        assert r.status_code == 200, r.text


@pytest.mark.creator_plugins("clone", "website")
async def test_a_page_is_learned_as_it_is_live(api, owner) -> None:
    web = Website(owner)
    site = await web.site()
    page = await web.page(site, "About us")
    await web.add(site, page, "heading", {"text": "Founded in 2019 by two potters"})
    clone = await api.clone("Ada")
    r = await api.client.post(
        api.url(clone["id"], "/sources"), json={"kind": "page", "thing_id": page}
    )
    assert r.status_code == 201, r.text
    first = await api.train(clone["id"])  # not published: the draft
    assert first["result"]["embedded"] == 1
    assert "Founded in 2019" in (await knowledge_of(owner, page))[0]["text"]

    await web.publish(site, page)
    await web.add(site, page, "text", {"html": "<p>Draft words nobody sees yet</p>"})
    assert (await api.sources(clone["id"]))[0]["state"] == "trained"  # live page unchanged
    assert (await api.train(clone["id"]))["result"]["embedded"] == 0
    await web.publish(site, page)
    assert (await api.sources(clone["id"]))[0]["state"] == "changed"
    again = await api.train(clone["id"])
    assert again["result"]["embedded"] == 1
    text = (await knowledge_of(owner, page))[0]["text"]
    assert "Founded in 2019" in text and "Draft words nobody sees yet" in text


async def clone_of(tenant, clone_id: str, include_ended: bool = False) -> list[dict]:
    """The clone's ``clone_of`` metadata, newest first."""
    r = await tenant.client.get(
        f"/api/v1/groups/{tenant.group.id}/connections",
        params={"type": "clone_of", "from_id": clone_id, "include_ended": include_ended},
    )
    assert r.status_code == 200, r.text
    return [c["metadata"] | {"to_id": c["to_id"]} for c in r.json()["items"]]


async def test_each_training_counts_on_the_creators_connection(api, owner, docs, events) -> None:
    clone = await api.clone("Ada")
    await api.text(clone["id"], "Refunds", docs["refunds"])
    me = str(owner.person.id)
    first = await api.train(clone["id"])
    assert first["status"] == "complete"
    assert first["clone"]["creator_id"] == me
    assert (first["clone"]["training_version"], first["clone"]["training_size"]) == (1, 1)
    assert await clone_of(owner, clone["id"]) == [{"version": 1, "training_size": 1, "to_id": me}]

    await api.text(clone["id"], "Coaching", docs["coaching"])
    await api.text(clone["id"], "Hours", "The studio opens at nine in the morning.")
    second = await api.train(clone["id"])
    assert (second["clone"]["training_version"], second["clone"]["training_size"]) == (2, 3)
    again = await api.train(clone["id"])  # nothing changed: still a training, same size
    assert (again["clone"]["training_version"], again["clone"]["training_size"]) == (3, 3)
    # One live connection; the ended ones are the clone's training history.
    (live,) = await clone_of(owner, clone["id"])
    assert live["version"] == 3
    history = await clone_of(owner, clone["id"], include_ended=True)
    assert [(h["version"], h["training_size"]) for h in history] == [
        (3, 3),
        (2, 3),
        (1, 1),
        (0, 0),
    ]
    assert {h["to_id"] for h in history} == {me}
    ended = await events(owner, "connection_deleted")
    assert len([e for e in ended if e["payload"]["type"] == "clone_of"]) == 3


async def test_a_creator_who_left_is_still_the_clones_creator(clone_platform, api, owner, docs):
    colleague = await clone_platform.member(owner, "org_user")
    clone = await api.clone("Ada", creator_id=str(colleague.person.id))
    await api.text(clone["id"], "Refunds", docs["refunds"])
    await api.train(clone["id"])
    r = await owner.client.delete(f"/api/v1/groups/{owner.group.id}/members/{colleague.person.id}")
    assert r.status_code == 204, r.text
    await api.text(clone["id"], "Coaching", docs["coaching"])
    job = await api.train(clone["id"])  # training still works and is still counted
    assert job["status"] == "complete" and job["clone"]["status"] == "active"
    assert job["clone"]["creator_id"] == str(colleague.person.id)
    assert job["clone"]["training_version"] == 2
    assert [h["version"] for h in await clone_of(owner, clone["id"], include_ended=True)] == [
        2,
        1,
        0,
    ]


async def test_training_embeds_each_sentence_once(clone_platform, api, owner, docs) -> None:
    """Training gives every sentence of the chunks a vector (what the offline provider
    reads to quote the one closest to a question), once: retraining embeds none again; a
    clone trained before they existed gets them at its next training, its chunks kept."""
    platform = clone_platform.platform
    clone = await api.clone("Ada")
    refunds = await api.text(clone["id"], "Refunds", docs["refunds"])
    first = await api.train(clone["id"])
    assert first["result"]["sentences_embedded"] == 3
    kid = (await knowledge_of(owner, refunds["id"]))[0]["id"]
    question = "Can I get my money back?"
    close = (await sentences.closeness(platform, owner.scope, question, [kid]))[kid]
    assert sorted(close) == list(range(len(split_sentences(docs["refunds"])))) == [0, 1, 2]
    assert max(close, key=lambda n: close[n]) == 1  # "... you get all your money back."
    assert all(-1.0 <= c <= 1.0 for c in close.values())
    assert await sentences.learn_thing(platform, owner.scope, UUID(refunds["id"])) == 0

    # another group sees none of them
    other = await clone_platform.tenant(name="Elsewhere")
    assert await sentences.closeness(platform, other.scope, question, [kid]) == {}

    async with platform.ontology.scoped(owner.scope).session.transaction() as conn:
        await conn.execute("DELETE FROM clone_sentence_vectors")  # as before they existed
    again = await api.train(clone["id"])
    assert again["result"]["embedded"] == 0  # no chunk embedded again
    assert again["result"]["sentences_embedded"] == 3
    assert "sentences_embedded" not in (await api.train(clone["id"]))["result"]  # none: 0
    assert (await sentences.closeness(platform, owner.scope, question, [kid]))[kid] == close
    assert await sentences.learn_thing(platform, owner.scope, UUID(refunds["id"])) == 0


async def test_a_clone_whose_provider_quotes_no_sentences_gets_no_sentence_vectors(
    clone_platform, api, owner, docs
) -> None:
    """Sentence vectors cost as much embedding as the chunks: a clone answered by a model
    (the ``openai`` provider) trains without them; switched to the offline provider, its
    next training makes them, its chunks kept."""
    platform = clone_platform.platform
    clone = await api.clone("Ada", provider="openai")
    refunds = await api.text(clone["id"], "Refunds", docs["refunds"])
    assert "sentences_embedded" not in (await api.train(clone["id"]))["result"]
    kid = (await knowledge_of(owner, refunds["id"]))[0]["id"]
    question = "Can I get my money back?"
    assert await sentences.closeness(platform, owner.scope, question, [kid]) == {}
    r = await api.client.patch(api.url(clone["id"]), json={"provider": "offline"})
    assert r.status_code == 200, r.text
    again = await api.train(clone["id"])
    assert again["result"]["embedded"] == 0  # no chunk embedded again
    assert len((await sentences.closeness(platform, owner.scope, question, [kid]))[kid]) == 3


async def trained_chunk(api, tenant, text: str) -> str:
    """Train a new clone of ``tenant`` on ``text``; its one chunk's id."""
    made = await api.clone("Ada")
    source = await api.text(made["id"], "Refunds", text)
    await api.train(made["id"])
    return str((await knowledge_of(tenant, source["id"]))[0]["id"])


async def closeness_of(platform, tenant, chunk: str) -> dict[int, float]:
    found = await sentences.closeness(platform, tenant.scope, "Can I get my money back?", [chunk])
    return found.get(chunk, {})


async def make_stale(platform) -> None:
    async with platform.db.system() as conn:  # as another model had made them
        await conn.execute("UPDATE clone_sentence_vectors SET embedded_as = 'older-model/384/s1'")


async def test_stale_sentence_vectors_are_embedded_again_by_a_job(
    clone_platform, api_for, owner, docs
) -> None:
    """After a change of embedding model (or splitter) every sentence vector is stale: a
    starting process queues ``clone.sentences_refresh`` (the same job id, whichever
    process asks), which embeds them again in every group without touching the chunks."""
    from arq.jobs import Job as ArqJob

    platform = clone_platform.platform
    other = await clone_platform.tenant(name="Elsewhere")
    chunks = {
        t.group.id: await trained_chunk(api_for(t), t, docs["refunds"]) for t in (owner, other)
    }
    before = await closeness_of(platform, owner, chunks[owner.group.id])
    assert sorted(before) == [0, 1, 2]
    assert await sentences.schedule_refresh(platform) is None  # nothing stale

    await make_stale(platform)
    assert await closeness_of(platform, owner, chunks[owner.group.id]) == {}
    job_id = await sentences.schedule_refresh(platform)
    kind = sentences.embedded_as(platform.knowledge.provider)
    assert job_id == f"clone.sentences_refresh:{kind}"
    result = await ArqJob(job_id, platform.jobs.arq).result(timeout=60)
    assert result == {"sentences": 6, "chunks": 2, "dropped": 0}

    assert sorted(await closeness_of(platform, other, chunks[other.group.id])) == [0, 1, 2]
    after = await closeness_of(platform, owner, chunks[owner.group.id])
    assert after.keys() == before.keys()
    assert all(abs(after[n] - before[n]) < 1e-4 for n in before)
    assert await sentences.schedule_refresh(platform) is None
    assert await sentences.refresh(platform) == sentences.Refreshed()  # nothing left


async def test_the_refresh_drops_what_no_clone_reads(clone_platform, api, owner, docs) -> None:
    """Stale vectors of chunks that only clones answered by a model learn from are dropped,
    not embedded again: nobody reads them."""
    platform = clone_platform.platform
    clone = await api.clone("Ada")
    source = await api.text(clone["id"], "Refunds", docs["refunds"])
    await api.train(clone["id"])
    chunk = str((await knowledge_of(owner, source["id"]))[0]["id"])
    r = await api.client.patch(api.url(clone["id"]), json={"provider": "openai"})
    assert r.status_code == 200, r.text
    await make_stale(platform)
    assert await sentences.refresh(platform) == sentences.Refreshed(dropped=3)
    assert await sentences.schedule_refresh(platform) is None
    assert await closeness_of(platform, owner, chunk) == {}


async def test_the_refresh_job_hands_on_in_parts(
    clone_platform, api_for, owner, docs, monkeypatch
) -> None:
    """A job that runs out of its share of the job timeout queues its next part: a large
    knowledge base is refreshed in parts, none cut off by the timeout."""
    from arq.jobs import Job as ArqJob

    platform = clone_platform.platform
    other = await clone_platform.tenant(name="Elsewhere")
    for tenant in (owner, other):
        await trained_chunk(api_for(tenant), tenant, docs["refunds"])
    await make_stale(platform)
    monkeypatch.setattr(sentences, "REFRESH_SHARE", 0.0)  # out of time after each batch
    monkeypatch.setattr(sentences, "REFRESH_BATCH", 1)
    job_id = await sentences.schedule_refresh(platform)
    parts = []
    while job_id is not None:
        parts.append(await ArqJob(job_id, platform.jobs.arq).result(timeout=60))
        job_id = parts[-1].get("next")
    assert sum(part["sentences"] for part in parts) == 6
    assert [part["chunks"] for part in parts] == [1, 1, 0]  # one group's chunk, the other's
    assert await sentences.schedule_refresh(platform) is None
    chain = {job.rsplit(":", 2)[-2] for job in (part["next"] for part in parts[:-1])}
    assert len(chain) == 1  # the parts' ids name their own chain: no earlier result matches


async def test_a_worker_of_another_model_leaves_the_refresh_alone(clone_platform) -> None:
    """During a change of model, a worker still embedding with the old one must not do
    (or complete) the new model's refresh."""
    result = await sentences.refresh_job(
        {"platform": clone_platform.platform}, "some-newer-model/768/s1"
    )
    assert result["skipped"].endswith("not some-newer-model/768/s1")
