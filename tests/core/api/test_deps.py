"""``from_app_state``: a plugin's service, built at startup, handed to its handlers."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from litestar import get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.testing import create_test_client

from sdk import from_app_state


class Service:
    def __init__(self, name: str) -> None:
        self.name = name


@get("/service", sync_to_thread=False)
def which_service(service: NamedDependency[Service]) -> str:
    return service.name


def test_a_dotted_path_reaches_into_app_state() -> None:
    state = State({"shop": SimpleNamespace(orders=Service("orders"))})
    with create_test_client(
        [which_service], dependencies={"service": from_app_state("shop.orders")}, state=state
    ) as client:
        assert client.get("/service").text == "orders"


def test_after_group_resolves_group_first() -> None:
    """The service waits for ``group``: a handler taking both resolves them one after the
    other (no per-request task group), and taking the service resolves ``group`` too."""
    calls: list[str] = []

    def provide_group() -> str:
        calls.append("group")
        return "a group"

    with create_test_client(
        [which_service],
        dependencies={
            "group": Provide(provide_group, sync_to_thread=False),
            "service": from_app_state("orders", after_group=True),
        },
        state=State({"orders": Service("orders")}),
    ) as client:
        assert client.get("/service").text == "orders"
    assert calls == ["group"]


def test_before_startup_the_error_names_the_attribute() -> None:
    request: Any = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(shop=object())))
    with pytest.raises(RuntimeError, match=r"app\.state\.shop\.orders is not set"):
        from_app_state("shop.orders").dependency(request)
