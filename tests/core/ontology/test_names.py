"""Public names on real PostgreSQL: unique across groups, claimed and released in the
holder's transaction, resolved across groups, released with their thing; and the
locking and isolation facilities that check-then-write code relies on."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from core.errors import Conflict, NotFound, ValidationFailed
from core.ontology.names import NameTaken, claim_names_statement
from core.ontology.stores import ScopedOntology
from sdk.testing import CreatorPlatform, Tenant


@pytest.fixture
def o(typed_platform: CreatorPlatform, owner: Tenant) -> ScopedOntology:
    return typed_platform.ontology(owner)


async def test_a_claimed_name_resolves_to_its_holder_from_anywhere(
    typed_platform: CreatorPlatform, o: ScopedOntology, owner: Tenant
) -> None:
    note = await o.things.create("note", name="Studio")
    claim = await o.names.claim("studio.handle", "  Ada-Studio ", note.id)
    assert (claim.kind, claim.name, claim.status) == ("studio.handle", "ada-studio", "pending")
    assert claim.group_id == owner.group.id and claim.thing_id == note.id
    names = typed_platform.platform.ontology.names
    found = await names.resolve("studio.handle", "ADA-studio")
    assert found == claim
    assert await names.resolve("studio.handle", "ada-studio", verified_only=True) is None
    assert await names.resolve("other.kind", "ada-studio") is None
    assert await names.resolve("studio.handle", "x" * 300) is None  # could never be held


async def test_a_verified_name_is_unique_across_groups(
    typed_platform: CreatorPlatform, o: ScopedOntology
) -> None:
    mine = await o.things.create("note", name="Mine")
    await o.names.claim("studio.handle", "ada", mine.id, verified=True)
    other = await typed_platform.tenant()
    theirs = await typed_platform.ontology(other).things.create("note", name="Theirs")
    for verified in (False, True):
        with pytest.raises(NameTaken) as taken:
            await typed_platform.ontology(other).names.claim(
                "studio.handle", "Ada", theirs.id, verified=verified
            )
        assert taken.value.status == 409 and taken.value.code == "name_taken"
    # The same kind of name elsewhere, or another kind with the same text, is free.
    await typed_platform.ontology(other).names.claim("studio.handle", "ada2", theirs.id)
    await typed_platform.ontology(other).names.claim("studio.domain", "ada", theirs.id)
    names = typed_platform.platform.ontology.names
    assert await names.is_taken("studio.handle", "ada")
    assert not await names.is_taken("studio.handle", "ada", by_other_than=mine.id)


async def test_a_pending_claim_does_not_keep_the_names_owner_out(
    typed_platform: CreatorPlatform, o: ScopedOntology, owner: Tenant
) -> None:
    """The review's squatting case: a first claimant who never proves the name (a domain
    whose DNS record they cannot publish) must not block the group that can."""
    squatter = await o.things.create("note", name="Squatter")
    await o.names.claim("studio.domain", "brand.test", squatter.id)
    rightful = await typed_platform.tenant()
    ro = typed_platform.ontology(rightful)
    site = await ro.things.create("note", name="Brand")
    claim = await ro.names.claim("studio.domain", "brand.test", site.id)
    assert claim.status == "pending" and claim.group_id == rightful.group.id
    names = typed_platform.platform.ontology.names
    assert not await names.is_taken("studio.domain", "brand.test")  # nobody proved it yet
    held = await ro.names.verify("studio.domain", "brand.test")
    assert held.verified
    assert await names.resolve("studio.domain", "brand.test") == held
    # The squatter's claim stays pending and cannot be verified while the owner holds it;
    # the refusal leaves the caller's transaction usable.
    async with typed_platform.platform.ontology.transaction(owner.scope) as tx:
        with pytest.raises(NameTaken):
            await tx.names.verify("studio.domain", "brand.test")
        await tx.things.create("note", name="Still writable")
    (mine,) = await o.names.of_thing(squatter.id)
    assert mine.status == "pending"
    # Once the owner lets go (its record gone at a re-check), the name is open again.
    await ro.names.verify("studio.domain", "brand.test", verified=False)
    assert (await o.names.verify("studio.domain", "brand.test")).verified


async def test_claiming_again_is_idempotent_and_another_thing_of_the_group_is_refused(
    o: ScopedOntology,
) -> None:
    first = await o.things.create("note", name="First")
    second = await o.things.create("note", name="Second")
    claim = await o.names.claim("studio.handle", "ada", first.id)
    assert await o.names.claim("studio.handle", "ada", first.id) == claim
    verified = await o.names.claim("studio.handle", "ada", first.id, verified=True)
    assert verified.status == "verified" and verified.verified_at is not None
    with pytest.raises(NameTaken):
        await o.names.claim("studio.handle", "ada", second.id)


async def test_only_a_live_thing_of_the_group_holds_a_name(
    typed_platform: CreatorPlatform, o: ScopedOntology
) -> None:
    other = await typed_platform.tenant()
    theirs = await typed_platform.ontology(other).things.create("note", name="Theirs")
    with pytest.raises(NotFound):
        await o.names.claim("studio.handle", "ada", theirs.id)
    with pytest.raises(ValidationFailed):
        await o.names.claim("studio.handle", "   ", theirs.id)
    with pytest.raises(ValueError):
        await o.names.claim("Not A Kind", "ada", theirs.id)


async def test_set_replaces_the_things_one_name_of_a_kind(
    typed_platform: CreatorPlatform, o: ScopedOntology
) -> None:
    note = await o.things.create("note", name="Site")
    await o.names.set("studio.slug", note.id, "old")
    await o.names.claim("studio.domain", "old.example", note.id)
    await o.names.set("studio.slug", note.id, "new", verified=True)
    held = await o.names.of_thing(note.id)
    assert [(n.kind, n.name, n.status) for n in held] == [
        ("studio.domain", "old.example", "pending"),
        ("studio.slug", "new", "verified"),
    ]
    names = typed_platform.platform.ontology.names
    assert await names.resolve("studio.slug", "old") is None  # free for anyone again
    assert await o.names.set("studio.slug", note.id, None) is None
    assert [n.kind for n in await o.names.of_thing(note.id)] == ["studio.domain"]


async def test_a_failed_write_keeps_the_names_as_they_were(
    typed_platform: CreatorPlatform, o: ScopedOntology, owner: Tenant
) -> None:
    note = await o.things.create("note", name="Site")
    await o.names.set("studio.slug", note.id, "kept")
    with pytest.raises(RuntimeError):
        async with typed_platform.platform.ontology.transaction(owner.scope) as tx:
            await tx.names.set("studio.slug", note.id, "lost")
            raise RuntimeError("abandon")
    assert [n.name for n in await o.names.of_thing(note.id)] == ["kept"]


async def test_release_verify_and_deletion(
    typed_platform: CreatorPlatform, o: ScopedOntology
) -> None:
    note = await o.things.create("note", name="Site")
    await o.names.claim("studio.domain", "ada.example", note.id)
    assert (await o.names.verify("studio.domain", "ADA.example")).verified
    assert not (await o.names.verify("studio.domain", "ada.example", verified=False)).verified
    with pytest.raises(NotFound):
        await o.names.verify("studio.domain", "nobody.example")
    assert await o.names.release("studio.domain", "ada.example")
    assert not await o.names.release("studio.domain", "ada.example")
    await o.names.claim("studio.slug", "ada", note.id)
    await o.things.delete(note.id)
    assert await typed_platform.platform.ontology.names.resolve("studio.slug", "ada") is None


async def test_another_group_cannot_release_or_verify_a_name(
    typed_platform: CreatorPlatform, o: ScopedOntology
) -> None:
    note = await o.things.create("note", name="Site")
    await o.names.claim("studio.slug", "ada", note.id)
    other = typed_platform.ontology(await typed_platform.tenant())
    assert not await other.names.release("studio.slug", "ada")
    with pytest.raises(NotFound):
        await other.names.verify("studio.slug", "ada")
    assert await other.names.of_thing(note.id) == []
    assert await typed_platform.platform.ontology.names.resolve("studio.slug", "ada")


async def test_concurrent_claims_of_one_name_leave_one_holder(
    typed_platform: CreatorPlatform,
) -> None:
    tenants = [await typed_platform.tenant() for _ in range(6)]
    stores = [typed_platform.ontology(t) for t in tenants]
    notes = [await s.things.create("note", name="Race") for s in stores]

    async def claim(s: ScopedOntology, thing_id: object) -> bool:
        try:
            await s.names.claim("studio.slug", "race", thing_id, verified=True)  # type: ignore[arg-type]
        except NameTaken:
            return False
        return True

    won = await asyncio.gather(*(claim(s, n.id) for s, n in zip(stores, notes, strict=True)))
    assert sum(won) == 1
    holder = await typed_platform.platform.ontology.names.resolve("studio.slug", "race")
    assert holder is not None and holder.thing_id == notes[won.index(True)].id


async def test_list_pages_through_a_kind_across_groups(
    typed_platform: CreatorPlatform, o: ScopedOntology
) -> None:
    """Platform-wide upkeep (re-checking every domain) reads a kind's names from every
    group, in name order, a batch at a time, optionally of one status."""
    mine = await o.things.create("note", name="Mine")
    other = await typed_platform.tenant()
    theirs = await typed_platform.ontology(other).things.create("note", name="Theirs")
    for name in ("c.test", "a.test"):
        await o.names.claim("studio.domain", name, mine.id)
    await typed_platform.ontology(other).names.claim("studio.domain", "b.test", theirs.id)
    await typed_platform.ontology(other).names.claim("studio.handle", "a.test", theirs.id)
    await o.names.verify("studio.domain", "c.test")
    names = typed_platform.platform.ontology.names
    every = await names.list("studio.domain")
    assert [(n.name, n.thing_id) for n in every] == [
        ("a.test", mine.id),
        ("b.test", theirs.id),
        ("c.test", mine.id),
    ]
    first = await names.list("studio.domain", limit=2)
    rest = await names.list("studio.domain", after=first[-1].name, limit=2)
    assert [n.name for n in first + rest] == ["a.test", "b.test", "c.test"]
    # Several groups may claim one name while pending: a page boundary between two claims
    # of one name loses neither.
    await typed_platform.ontology(other).names.claim("studio.domain", "a.test", theirs.id)
    claims = await names.list("studio.domain")
    assert [n.name for n in claims] == ["a.test", "a.test", "b.test", "c.test"]
    paged = await names.list("studio.domain", limit=1)
    while len(paged) < len(claims):
        last = paged[-1]
        paged += await names.list(
            "studio.domain", after=last.name, after_group=last.group_id, limit=1
        )
    assert paged == claims
    assert [n.name for n in await names.list("studio.domain", status="verified")] == ["c.test"]
    assert [n.name for n in await names.list("studio.domain", status="pending")] == [
        "a.test",
        "a.test",
        "b.test",
    ]
    with pytest.raises(ValueError):
        await names.list("studio.domain", limit=0)


async def test_locate_finds_only_things_of_public_statuses(
    typed_platform: CreatorPlatform, o: ScopedOntology, owner: Tenant
) -> None:
    draft = await o.things.create("note", name="Draft", status="draft")
    live = await o.things.create("note", name="Live", status="published")
    names = typed_platform.platform.ontology.names
    assert await names.locate(draft.id, type="note") is None
    found = await names.locate(live.id, type="note")
    assert found is not None and found.group_id == owner.group.id
    assert await names.locate(live.id, type="product") is None
    assert await names.locate(draft.id, type="note", statuses=("draft",)) is not None
    await o.things.delete(live.id)
    assert await names.locate(live.id, type="note") is None


async def test_names_move_from_a_property_with_a_migration_statement(
    typed_platform: CreatorPlatform, o: ScopedOntology, owner: Tenant
) -> None:
    kept = await o.things.create("note", name="A", properties={"slug": " Kept "})
    await o.things.create("note", name="B", properties={"slug": ""})
    gone = await o.things.create("note", name="C", properties={"slug": "gone"})
    await o.things.delete(gone.id)
    conn = await asyncpg.connect(typed_platform.settings.database_url)
    try:
        await conn.execute(claim_names_statement("studio.slug", "note", "slug", verified=True))
        await conn.execute(claim_names_statement("studio.slug", "note", "slug", verified=True))
    finally:
        await conn.close()
    held = await o.names.of_thing(kept.id)
    assert [(n.name, n.status) for n in held] == [("kept", "verified")]
    assert await typed_platform.platform.ontology.names.resolve("studio.slug", "gone") is None
    with pytest.raises(ValueError):
        claim_names_statement("studio.slug", "note'; DROP TABLE things; --", "slug", verified=True)


# -- locks and isolation ------------------------------------------------------------------


async def test_get_for_update_serialises_read_check_write(
    typed_platform: CreatorPlatform, o: ScopedOntology, owner: Tenant
) -> None:
    counter = await o.things.create("note", name="Counter", properties={"n": 0})
    ontology = typed_platform.platform.ontology

    async def increment() -> None:
        async with ontology.transaction(owner.scope) as tx:
            current = await tx.things.get(counter.id, for_update=True)
            await asyncio.sleep(0.01)  # another increment would read the same n here
            n = current.properties["n"] + 1
            await tx.things.update(counter.id, properties={"n": n})

    await asyncio.gather(*(increment() for _ in range(8)))
    assert (await o.things.get(counter.id)).properties["n"] == 8


async def test_retrying_runs_serializable_work_again_until_it_commits(
    typed_platform: CreatorPlatform, o: ScopedOntology, owner: Tenant
) -> None:
    """Eight serializable read-then-write transactions on one row: PostgreSQL refuses the
    commits that read a value another changed; each is run again, and no increment is
    lost."""
    counter = await o.things.create("note", name="Counter", properties={"n": 0})
    ontology = typed_platform.platform.ontology
    runs = 0

    async def increment(tx: ScopedOntology) -> int:
        nonlocal runs
        runs += 1
        current = await tx.things.get(counter.id)
        await asyncio.sleep(0.01)
        n = int(current.properties["n"]) + 1
        await tx.things.update(counter.id, properties={"n": n})
        return n

    results = await asyncio.gather(
        *(ontology.retrying(owner.scope, increment, attempts=30) for _ in range(8))
    )
    assert sorted(results) == list(range(1, 9))
    assert (await o.things.get(counter.id)).properties["n"] == 8
    assert runs > 8  # some really were refused and run again


async def test_retrying_gives_up_with_a_conflict(
    typed_platform: CreatorPlatform, owner: Tenant
) -> None:
    async def always_refused(tx: ScopedOntology) -> None:
        raise asyncpg.SerializationError("could not serialize access")

    with pytest.raises(Conflict):
        await typed_platform.platform.ontology.retrying(owner.scope, always_refused, attempts=2)


async def test_a_stricter_transaction_cannot_join_a_weaker_one(
    typed_platform: CreatorPlatform, owner: Tenant
) -> None:
    async with typed_platform.platform.ontology.transaction(owner.scope) as tx:
        with pytest.raises(RuntimeError, match="cannot join"):
            async with tx.session.transaction(isolation="serializable"):
                pass
