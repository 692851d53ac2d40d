"""Fuzzing the served API from its OpenAPI document, as an owner of a real group.

``await creator_platform.fuzz(paths="/api/v1/hello")`` (or :func:`fuzz_api`) serves the
platform's app over real HTTP (:func:`sdk.testing.browser.serving`), loads
``/schema/openapi.json`` into schemathesis and lets its engine generate requests for every
operation under ``paths`` (random valid and invalid ones: its fuzzing phase; on request
also values at and past each documented limit, and linked sequences of calls), with
``Authorization: Bearer`` of the tenant and real ids for the path parameters (the
tenant's group and person, and any ``ids`` given), so requests reach the handlers instead
of stopping at a 404. A run fails on any 5xx and on
any response the document does not describe: an undocumented status code, a content
type or a body that does not match its schema.

schemathesis drives requests synchronously and generates them in Python, so its engine
runs in a child process (``python -m sdk.testing.fuzz``, answering the report as JSON):
in a thread of the test's process it would hold the interpreter lock for seconds at a
time, away from the event loop that serves the app. The number of examples per operation is
``examples`` (default: the ``--fuzz-examples`` pytest option, else
:data:`DEFAULT_EXAMPLES`); the seed is fixed unless given, so a run is repeatable and a
failure found in CI is found again locally.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import json
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sdk.testing.platform import CreatorPlatform, Tenant

#: Examples per operation and phase when neither the call nor ``--fuzz-examples`` says.
DEFAULT_EXAMPLES = 5
#: The seed of every run unless one is given: the same cases each time.
DEFAULT_SEED = 19
#: Operations fuzzed at once.
WORKERS = 2
#: What a response is checked for.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


@dataclass
class FuzzReport:
    """What a run covered and what it found."""

    #: ``"METHOD /path"`` of every operation that was exercised.
    operations: list[str] = field(default_factory=list)
    #: Requests sent (generated cases).
    cases: int = 0
    #: Responses by status code.
    statuses: dict[int, int] = field(default_factory=dict)
    #: One line per distinct failure: operation, check, what was wrong, how to reproduce.
    failures: list[str] = field(default_factory=list)
    #: Errors of the run itself (an operation schemathesis could not generate for).
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{len(self.operations)} operations, {self.cases} cases in {self.seconds:.1f} s; "
            f"statuses {dict(sorted(self.statuses.items()))}"
        )

    def assert_ok(self) -> None:
        """Fail (``AssertionError``) naming every failure and error the run found."""
        problems = [*self.failures, *self.errors]
        if problems:
            listing = "\n\n".join(problems)
            raise AssertionError(
                f"fuzzing found {len(problems)} problems ({self.summary()}):\n\n{listing}"
            )


def _config(
    token: str, ids: Mapping[str, str], examples: int, seed: int, coverage: bool, stateful: bool
) -> Any:
    import schemathesis

    return schemathesis.Config.from_dict(
        {
            "seed": seed,
            "headers": {"Authorization": f"Bearer {token}"},
            "parameters": {f"path.{name}": value for name, value in ids.items()},
            "generation": {"max-examples": examples, "database": "none"},
            "phases": {
                "examples": {"enabled": False},
                # Unexpected methods get Litestar's 405 for every operation: no news.
                "coverage": {"enabled": coverage, "unexpected-methods": []},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": stateful},
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "suppress-health-check": ["all"],
            "request-timeout": 30,
            # While one request waits for the server, another is generated.
            "workers": WORKERS,
        }
    )


def _streams(ctx: Any) -> bool:
    """An event stream never ends: an accepted request would wait out the timeout."""
    responses = ctx.operation.definition.raw.get("responses", {})
    return any(
        "text/event-stream" in (response.get("content") or {}) for response in responses.values()
    )


def _run(
    base_url: str,
    token: str,
    ids: Mapping[str, str],
    paths: Sequence[str],
    examples: int,
    seed: int,
    coverage: bool,
    stateful: bool,
) -> FuzzReport:
    import schemathesis
    from schemathesis.engine import Status, events, from_schema

    started = time.monotonic()
    config = _config(token, ids, examples, seed, coverage, stateful)
    loaded = schemathesis.openapi.from_url(f"{base_url}/schema/openapi.json", config=config)
    loaded.config.update(base_url=base_url)
    schema: schemathesis.BaseSchema = loaded
    if paths:
        schema = schema.include(path_regex="^(" + "|".join(re.escape(p) for p in paths) + ")")
    schema = schema.exclude(func=_streams)
    report = FuzzReport()
    seen_failures: set[tuple[str, str]] = set()
    operations: set[str] = set()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            if recorder.cases and event.label:
                operations.add(event.label)
            report.cases += len(recorder.interactions)
            for interaction in recorder.interactions.values():
                if interaction.response is not None:
                    status = interaction.response.status_code
                    report.statuses[status] = report.statuses.get(status, 0) + 1
            for checks in recorder.checks.values():
                for check in checks:
                    if check.status != Status.FAILURE or check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    key = (event.label or "", f"{failure.title}")
                    if key in seen_failures:
                        continue
                    seen_failures.add(key)
                    report.failures.append(
                        f"{event.label}: {check.name}: {failure.title}\n{failure.message}\n"
                        f"{check.failure_info.code_sample}"
                    )
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    report.operations = sorted(operations)
    report.seconds = time.monotonic() - started
    return report


async def fuzz_api(
    creator_platform: CreatorPlatform,
    tenant: Tenant | None = None,
    *,
    paths: str | Sequence[str] = (),
    ids: Mapping[str, str] | None = None,
    examples: int | None = None,
    seed: int | None = None,
    coverage: bool = False,
    stateful: bool = False,
    check: bool = True,
) -> FuzzReport:
    """Fuzz the operations whose path starts with one of ``paths`` (none: every one) as
    ``tenant`` (default: the owner of a new group), with real ids for path parameters
    (``group_id`` and ``person_id`` are the tenant's; ``ids`` adds or overrides others).
    ``coverage`` adds schemathesis's coverage phase (values at and past every
    documented limit, several per field: thorough, and many times the requests);
    ``stateful`` its stateful phase (sequences of calls linked by the ids answers carry).
    With ``check`` (default) a failure fails the test, listing what was found; the
    report says what was covered either way."""
    if importlib.util.find_spec("schemathesis") is None:  # the platform's test extras have it
        raise RuntimeError("fuzzing needs schemathesis: pip install 'schemathesis>=4.32'")
    from sdk.testing.browser import serving

    tenant = tenant or await creator_platform.tenant()
    wanted = {"group_id": str(tenant.group.id), "person_id": str(tenant.person.id), **(ids or {})}
    prefixes = [paths] if isinstance(paths, str) else list(paths)
    count = examples or creator_platform.fuzz_examples or DEFAULT_EXAMPLES
    async with serving(creator_platform) as base_url:
        job = {
            "base_url": base_url,
            "token": tenant.token,
            "ids": wanted,
            "paths": prefixes,
            "examples": count,
            "seed": DEFAULT_SEED if seed is None else seed,
            "coverage": coverage,
            "stateful": stateful,
        }
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "sdk.testing.fuzz",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await child.communicate(json.dumps(job).encode())
    if child.returncode != 0:
        raise RuntimeError(f"the fuzz run failed:\n{err.decode(errors='replace')[-4000:]}")
    answer = json.loads(out)
    report = FuzzReport(
        **{**answer, "statuses": {int(k): v for k, v in answer["statuses"].items()}}
    )
    if check:
        report.assert_ok()
    return report


def main() -> None:
    """``python -m sdk.testing.fuzz``: a job as JSON on stdin, the report as JSON out."""
    job = json.load(sys.stdin)
    report = _run(
        job["base_url"],
        job["token"],
        job["ids"],
        job["paths"],
        job["examples"],
        job["seed"],
        job["coverage"],
        job["stateful"],
    )
    json.dump(dataclasses.asdict(report), sys.stdout)


if __name__ == "__main__":
    main()
