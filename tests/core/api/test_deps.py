"""``sdk.from_app_state``: a plugin's service, kept on ``app.state``, reaches handlers as a
parameter; a dotted attribute reaches one of several services kept together."""

from __future__ import annotations

from types import SimpleNamespace

from litestar import get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.testing import create_test_client

import sdk


@get("/greeting", dependencies={"chat": sdk.from_app_state("clone.chat")}, sync_to_thread=False)
def greeting(chat: NamedDependency[SimpleNamespace]) -> str:
    return str(chat.greeting)


@get("/whole", dependencies={"clone": sdk.from_app_state("clone")}, sync_to_thread=False)
def whole(clone: NamedDependency[SimpleNamespace]) -> str:
    return str(clone.chat.greeting)


def test_a_dotted_attribute_reaches_into_app_state() -> None:
    services = SimpleNamespace(chat=SimpleNamespace(greeting="hello"))
    with create_test_client([greeting, whole], state=State({"clone": services})) as client:
        assert client.get("/greeting").text == "hello"
        assert client.get("/whole").text == "hello"


def test_a_missing_service_is_a_clear_error() -> None:
    with create_test_client([greeting], debug=True) as client:
        response = client.get("/greeting")
    assert response.status_code == 500
    assert "app.state.clone.chat is not set" in response.text
