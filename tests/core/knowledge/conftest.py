"""Fixtures of the knowledge tests: a plugin with a document thing type and a small hashing
embedding provider, a platform started with it, and a local HTTP server that speaks
OpenAI's embeddings API (for the real ``openai`` SDK to talk to).

The local model (e5-small) is loaded once per process by ``core.knowledge.local`` and
shared by every platform the tests start.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from core.knowledge.local import LocalEmbeddingProvider
from sdk import ThingType, hookimpl
from sdk.testing import CreatorPlatform, PlatformFactory, Tenant

PLUGIN = "knowledgetest"
EVAL_SET = Path(__file__).with_name("eval_set.json")

#: One provider instance for the whole session (the model inside is loaded once).
LOCAL = LocalEmbeddingProvider()


def bag_of_words(text: str, dimension: int, salt: str = "") -> list[float]:
    """A deterministic unit vector: each word (lower-cased) adds ±1 to a hashed bucket."""
    vec = [0.0] * dimension
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.blake2b((salt + word).encode(), digest_size=8).digest()
        h = int.from_bytes(digest, "big")
        vec[h % dimension] += 1.0 if (h >> 40) & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in vec))
    if not norm:
        vec[0] = norm = 1.0
    return [x / norm for x in vec]


class HashEmbedder:
    """A plugin's own embedding provider: bag-of-words hashing, counting what it embeds."""

    def __init__(self, name: str = "hash64", dimension: int = 64, model: str = "hash-64-v1"):
        self.name = name
        self.model = model
        self.dimension = dimension
        self.calls: list[list[str]] = []

    @property
    def texts_embedded(self) -> int:
        return sum(len(call) for call in self.calls)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [bag_of_words(t, self.dimension, self.model) for t in texts]


class KnowledgePlugin:
    """Registers a ``doc`` thing type and the ``hash64`` embedding provider."""

    def __init__(self, *providers: Any) -> None:
        self.providers = list(providers) or [HashEmbedder()]

    @hookimpl
    def register_thing_types(self) -> list[ThingType]:
        return [ThingType("doc", description="A document")]

    @hookimpl
    def register_embedding_providers(self) -> list[Any]:
        return self.providers


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def knowledge_plugin(hash_embedder: HashEmbedder) -> KnowledgePlugin:
    return KnowledgePlugin(hash_embedder)


@pytest_asyncio.fixture
async def kplatform(
    creator_platform_factory: PlatformFactory, knowledge_plugin: KnowledgePlugin
) -> CreatorPlatform:
    """Core (with the ``local`` provider as configured by default) plus the test plugin."""
    return await creator_platform_factory(
        plugins=[PLUGIN], extra_plugins={PLUGIN: knowledge_plugin}
    )


@pytest_asyncio.fixture
async def kowner(kplatform: CreatorPlatform) -> Tenant:
    return await kplatform.tenant()


@pytest.fixture(scope="session")
def eval_set() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EVAL_SET.read_text())
    return data


# -- a local OpenAI-compatible embeddings server ---------------------------------------------


@dataclass
class FakeOpenAI:
    """What the fake server saw, and failures to answer before succeeding."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    #: Status codes to answer (one per request) before answering normally.
    fail_with: list[int] = field(default_factory=list)
    native_dimension: int = 48

    def reset(self) -> None:
        self.requests.clear()
        self.headers.clear()
        self.fail_with.clear()


def _handler(state: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: dict[str, Any], extra: dict[str, str] | None = None):
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path != "/v1/embeddings":
                self._send(404, {"error": {"message": "not found", "type": "invalid_request"}})
                return
            state.requests.append(body)
            state.headers.append({k.lower(): v for k, v in self.headers.items()})
            if state.fail_with:
                status = state.fail_with.pop(0)
                self._send(
                    status,
                    {"error": {"message": f"try again ({status})", "type": "server_error"}},
                    {"retry-after-ms": "10"},
                )
                return
            inputs = body.get("input")
            if isinstance(inputs, str):
                inputs = [inputs]
            if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
                self._send(400, {"error": {"message": "input must be strings", "type": "x"}})
                return
            dimension = int(body.get("dimensions") or state.native_dimension)
            data = []
            for index, text in enumerate(inputs):
                vector = bag_of_words(text, dimension, str(body.get("model")))
                if body.get("encoding_format") == "base64":
                    packed = struct.pack(f"<{dimension}f", *vector)
                    embedding: Any = base64.b64encode(packed).decode()
                else:
                    embedding = vector
                data.append({"object": "embedding", "index": index, "embedding": embedding})
            tokens = sum(len(t.split()) for t in inputs)
            self._send(
                200,
                {
                    "object": "list",
                    "data": data,
                    "model": body.get("model"),
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                },
            )

    return Handler


@pytest.fixture(scope="session")
def openai_server() -> Iterator[FakeOpenAI]:
    """An OpenAI-compatible ``POST /v1/embeddings`` on 127.0.0.1 (a free port), in a thread."""
    state = FakeOpenAI(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def fake_openai(openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    openai_server.reset()
    yield openai_server
    openai_server.reset()
