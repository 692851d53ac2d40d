"""The served API, fuzzed from its OpenAPI document: every operation under ``/api/`` of
core and of every installed plugin (creator-hello included), plus the probes, as the
owner of a real group with real ids for the path parameters (``tests/openapi_walk.py``'s
``arrange``). No response may be a 5xx or differ from what the document says (status
code, content type, body schema).

The seed is fixed, so CI sends the same requests each run. The stateful phase chains
calls by the links schemathesis infers (the document states none). ``--fuzz-examples N``
runs longer (N examples per operation) and adds schemathesis's coverage phase (values
at and past every documented limit, which is how a NUL reached the knowledge search).

Event streams are left out (an accepted request never ends), and so are the public
pages (``/sites/...``, a custom domain's ``/``), which answer HTML for people rather
than the API's problem+json: the website's own bad-input tests cover them.
"""

from __future__ import annotations

from sdk import ThingType, hookimpl
from sdk.testing import PlatformFactory
from tests.openapi_walk import arrange

FUZZED_PATHS = ("/api/", "/health", "/ready")


class Notes:
    """A thing type the generic API may create (``arrange`` makes a ``note``)."""

    @hookimpl
    def register_thing_types(self) -> list[ThingType]:
        return [ThingType("note")]


async def test_every_operation_answers_as_documented(
    creator_platform_factory: PlatformFactory,
) -> None:
    platform = await creator_platform_factory(
        extra_plugins={"notes": Notes()}, rate_limit_per_minute=0
    )
    owner = await platform.tenant()
    ids = await arrange(platform, owner, "fuzz-site")
    report = await platform.fuzz(
        owner,
        paths=FUZZED_PATHS,
        ids=ids,
        coverage=platform.fuzz_examples is not None,
        stateful=True,
    )
    print(report.summary())  # shown with -s: what the run covered
    assert len(report.operations) > 90, report.operations  # every plugin's routes took part
    assert any(op.startswith("POST /api/v1/hello/") for op in report.operations)
