"""Deployment settings: defaults, then a TOML file, then ``CREATOR_*`` environment variables.

A bad value stops start-up with a :class:`SettingsError` that names the setting and where
it came from, so an operator never has to guess which of three sources is wrong.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
import platformdirs

from core.hosts import sites_origin
from core.resolver import parse_nameserver

ENV_PREFIX = "CREATOR_"
#: The shortest ``secret_key`` accepted: 32 characters, so a key of random characters
#: (``secrets.token_urlsafe(32)`` gives 43) carries well over 128 bits.
MIN_SECRET_KEY_LENGTH = 32
CONFIG_ENV = "CREATOR_CONFIG"


def default_data_dir() -> Path:
    """Per-user data directory (``~/.local/share/creator-platform`` on Linux)."""
    return Path(platformdirs.user_data_dir("creator-platform", appauthor=False))


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Everything an operator can set. Field ``x`` is ``CREATOR_X`` in the environment."""

    data_dir: Path = msgspec.field(default_factory=default_data_dir)
    #: PostgreSQL URL; unset means the embedded server under ``data_dir``.
    database_url: str | None = None
    #: PostgreSQL URLs of the platform's two login roles, for a server whose DBA creates
    #: them (``creator_app``: the app, under row-level security; ``creator_system``: with
    #: ``BYPASSRLS``, the platform's cross-group work). Unset: ``database_url`` with
    #: each role's name and a password derived from ``secret_key``, which ``creator
    #: migrate`` sets (``database_url``'s user then needs to be able to, e.g. a superuser).
    database_app_url: str | None = None
    database_system_url: str | None = None
    #: Redis URL; unset means the embedded redis-server under ``data_dir``.
    redis_url: str | None = None
    #: Enabled plugins by name; unset means every installed plugin.
    plugins: list[str] | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    db_pool_min_size: int = 2
    db_pool_max_size: int = 10
    #: Connections of the pool for the platform's cross-group work (``creator_system``).
    db_system_pool_max_size: int = 4
    #: Largest request body accepted, in bytes.
    max_body_bytes: int = 1_048_576
    #: Apply pending migrations when the app starts.
    migrate_on_start: bool = True
    #: Signs session cookies; unset means a key kept in ``data_dir/secret_key``. Every
    #: process of a deployment needs the same one. At least ``MIN_SECRET_KEY_LENGTH`` (32)
    #: characters: a short key can be guessed offline from one signed cookie.
    secret_key: str | None = None
    #: How long a browser session lasts without logging in again.
    session_days: int = 14
    #: Send cookies with ``Secure`` (set when serving over HTTPS).
    secure_cookies: bool = False
    debug: bool = False
    #: Run a job worker inside ``creator serve``; unset means yes when PostgreSQL and
    #: Redis are embedded (no URLs set), no when they are external (run ``creator worker``).
    worker: bool | None = None
    #: How often the outbox relay looks for events a dead process left undelivered.
    relay_interval_seconds: float = 1.0
    #: Outbox rows younger than this belong to a live process still delivering them.
    relay_grace_seconds: float = 5.0
    #: Tries of a durable event handler before its event is recorded as failed.
    job_max_tries: int = 5
    #: A job try (or durable handler run) that takes longer fails and is retried. A job
    #: of a worker that died is retried this + 20 s after its try began.
    job_timeout_seconds: float = 300.0
    #: Retry backoff: try n+1 waits ``job_retry_base_seconds * 2**(n-1)`` (at most 300 s).
    job_retry_base_seconds: float = 1.0
    #: How often an idle worker polls Redis for jobs (arq's default of 0.5 s adds latency).
    worker_poll_delay_seconds: float = 0.05
    #: Jobs one worker runs concurrently.
    worker_max_jobs: int = 10
    #: Seconds between keep-alive comments on an idle live event stream.
    stream_heartbeat_seconds: float = 15.0
    #: Open event streams one person may have, and one group may have, across every
    #: process (counted in Redis); another is refused with 429 ``too_many_streams``.
    stream_max_per_person: int = 20
    stream_max_per_group: int = 500
    #: Entries kept in each group's event stream (about this many: trimmed in steps of a
    #: tenth): a client that reconnects within them resumes exactly, one that was away
    #: longer is told (``event: reset``). Also how far back a redelivered event is
    #: recognised and not appended again.
    stream_retention_events: int = 10_000
    #: Events waiting for one slow client before its stream is closed (it resumes from
    #: the last id it got) instead of buffering without bound.
    stream_client_buffer_events: int = 256
    #: A warning names the requests and jobs running when the event loop was held (by
    #: CPU work that does not yield) for longer than this.
    loop_lag_warn_seconds: float = 0.25
    #: API requests one client (the person whose credentials verify, else an address) may
    #: make per minute; ``0`` turns rate limiting off. Counted in Redis, shared by every
    #: process.
    rate_limit_per_minute: int = 600
    #: ``GET /metrics`` answers requests with ``Authorization: Bearer <metrics_token>``;
    #: unset, it answers clients on a loopback address only (a scraper on the same host).
    metrics_token: str | None = None
    #: Organisations (root groups) one person may create; ``0``: no limit. Sub-groups do
    #: not count (their allowances are counted at the root); platform owners are exempt.
    max_groups_per_person: int = 20
    #: Monthly budgets of hosted model calls, in tokens, counted per root organisation and
    #: UTC calendar month (``platform.usage``); ``0``: no limit. Offline providers are free.
    hosted_llm_tokens_per_month: int = 0
    hosted_embedding_tokens_per_month: int = 0
    #: Log lines as ``text`` (readable) or ``json`` (one object per line, for collectors).
    log_format: str = "text"
    #: The embedding provider knowledge uses (``local``: offline e5-small; ``openai``).
    embedding_provider: str = "local"
    #: OpenAI-compatible API for the ``openai`` provider; unset means api.openai.com.
    openai_base_url: str | None = None
    #: API key of the ``openai`` provider; unset means ``$OPENAI_API_KEY``.
    openai_api_key: str | None = None
    openai_embedding_model: str = "text-embedding-3-small"
    #: Dimensions asked of the ``openai`` model (``dimensions``); unset means its native ones.
    openai_embedding_dimensions: int | None = None
    #: Size of a knowledge chunk, and how much consecutive chunks share, in tokens.
    chunk_tokens: int = 500
    chunk_overlap: int = 50
    #: Threads that read uploads, decode images and chunk text off the event loop
    #: (``core.cpu``), and how many more such calls may wait for one before a request is
    #: answered 503 ``busy``.
    cpu_workers: int = 2
    cpu_queue: int = 32
    #: The address visitors reach this deployment at, for absolute links (canonical URLs,
    #: sitemaps, Open Graph); unset means ``http://<host>:<port>``.
    public_url: str | None = None
    #: Where published sites and their public files are served (``https://sites.example``:
    #: scheme, host and port only), on another host than ``public_url``'s so the session
    #: cookie never travels there; asked for on the platform's host they are redirected
    #: there. Unset: on the platform's own address (``/sites/...``), as one origin.
    public_sites_origin: str | None = None
    #: Proxies (addresses or networks) whose ``X-Forwarded-For`` and ``X-Forwarded-Proto``
    #: are believed: behind them, a request's client address (what per-address rate limits
    #: count) is the visitor's, not the proxy's. Unset: uvicorn's own default,
    #: ``$FORWARDED_ALLOW_IPS`` else 127.0.0.1 and ::1. ``*`` alone believes every client,
    #: so any client can claim any address: only for a server no client reaches directly.
    forwarded_allow_ips: list[str] | None = None
    #: DNS servers asked for TXT records (a custom domain's verification record), each an
    #: address or ``address:port`` (``[address]:port`` for IPv6); unset means the system's
    #: resolver configuration. Point it at a server of your own in tests or air-gapped
    #: deployments.
    dns_nameservers: list[str] | None = None
    #: How long one DNS look-up may take before it counts as unanswered.
    dns_timeout_seconds: float = 5.0
    #: Settings of plugins, by plugin name: ``[plugin_settings.website]`` in the TOML file,
    #: or ``CREATOR_PLUGIN_SETTINGS`` as a JSON object. Each plugin validates its own.
    plugin_settings: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """``public_url`` without a trailing slash, else the address the server listens on."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    def __post_init__(self) -> None:
        checks = [
            ("port", 0 <= self.port <= 65535, "must be between 0 and 65535"),
            ("db_pool_min_size", self.db_pool_min_size >= 0, "must not be negative"),
            (
                "db_pool_max_size",
                self.db_pool_max_size >= max(1, self.db_pool_min_size),
                "must be at least 1 and at least db_pool_min_size",
            ),
            (
                "db_system_pool_max_size",
                self.db_system_pool_max_size >= 2,
                "must be at least 2 (the outbox relay may hold one while it needs another)",
            ),
            ("max_body_bytes", self.max_body_bytes > 0, "must be positive"),
            (
                "secret_key",
                self.secret_key is None or len(self.secret_key) >= MIN_SECRET_KEY_LENGTH,
                f"must be at least {MIN_SECRET_KEY_LENGTH} characters (unset it to use a "
                "generated key kept in data_dir)",
            ),
            ("session_days", self.session_days >= 1, "must be at least 1"),
            (
                "log_level",
                self.log_level.lower() in {"debug", "info", "warning", "error", "critical"},
                "must be one of debug, info, warning, error, critical",
            ),
            ("relay_interval_seconds", self.relay_interval_seconds > 0, "must be positive"),
            ("relay_grace_seconds", self.relay_grace_seconds >= 0, "must not be negative"),
            ("job_max_tries", self.job_max_tries >= 1, "must be at least 1"),
            ("job_timeout_seconds", self.job_timeout_seconds > 0, "must be positive"),
            ("job_retry_base_seconds", self.job_retry_base_seconds >= 0, "must not be negative"),
            ("worker_poll_delay_seconds", self.worker_poll_delay_seconds > 0, "must be positive"),
            ("worker_max_jobs", self.worker_max_jobs >= 1, "must be at least 1"),
            ("cpu_workers", self.cpu_workers >= 1, "must be at least 1"),
            ("cpu_queue", self.cpu_queue >= 0, "must not be negative"),
            ("stream_heartbeat_seconds", self.stream_heartbeat_seconds > 0, "must be positive"),
            ("stream_max_per_person", self.stream_max_per_person >= 1, "must be at least 1"),
            ("stream_max_per_group", self.stream_max_per_group >= 1, "must be at least 1"),
            ("stream_retention_events", self.stream_retention_events >= 10, "must be at least 10"),
            (
                "stream_client_buffer_events",
                self.stream_client_buffer_events >= 1,
                "must be at least 1",
            ),
            ("rate_limit_per_minute", self.rate_limit_per_minute >= 0, "must not be negative"),
            ("max_groups_per_person", self.max_groups_per_person >= 0, "must not be negative"),
            (
                "hosted_llm_tokens_per_month",
                self.hosted_llm_tokens_per_month >= 0,
                "must not be negative",
            ),
            (
                "hosted_embedding_tokens_per_month",
                self.hosted_embedding_tokens_per_month >= 0,
                "must not be negative",
            ),
            ("loop_lag_warn_seconds", self.loop_lag_warn_seconds > 0, "must be positive"),
            ("log_format", self.log_format in {"text", "json"}, "must be text or json"),
            (
                "metrics_token",
                self.metrics_token is None or len(self.metrics_token) >= 16,
                "must be at least 16 characters",
            ),
            ("dns_timeout_seconds", self.dns_timeout_seconds > 0, "must be positive"),
        ]
        for name, ok, why in checks:
            if not ok:
                raise msgspec.ValidationError(f"{why} - at `$.{name}`")
        if self.plugins is not None:
            self.plugins = [p.strip() for p in self.plugins if p.strip()]
        if self.public_sites_origin is not None:
            self.public_sites_origin = _sites_origin(self.public_sites_origin, self.base_url)
        if self.forwarded_allow_ips is not None:
            self.forwarded_allow_ips = _proxies(self.forwarded_allow_ips)
        if self.dns_nameservers is not None:
            for entry in self.dns_nameservers:
                try:
                    parse_nameserver(entry)
                except ValueError:
                    raise msgspec.ValidationError(
                        f"{entry!r} is not an address or address:port - at `$.dns_nameservers`"
                    ) from None


def _sites_origin(value: str, base_url: str) -> str | None:
    """``public_sites_origin`` normalised; its host must not be the platform's (a cookie
    is sent to every port of its host, so a port of the platform's own host is no other
    origin for the session)."""
    if not value.strip():
        return None
    try:
        origin = sites_origin(value)
    except ValueError as exc:
        raise msgspec.ValidationError(f"{exc} - at `$.public_sites_origin`") from None
    if urlsplit(origin).hostname == (urlsplit(base_url).hostname or "").lower():
        raise msgspec.ValidationError(
            "must be on another host than public_url - at `$.public_sites_origin`"
        )
    return origin


def _proxies(entries: list[str]) -> list[str]:
    """``forwarded_allow_ips`` checked as uvicorn reads it: each an address or a network
    with no host bits set (``10.0.0.0/8``, not ``10.0.0.5/8``, which uvicorn would never
    match), or ``*`` alone."""
    proxies = [entry.strip() for entry in entries if entry.strip()]
    if "*" in proxies:
        if len(proxies) > 1:
            raise msgspec.ValidationError(
                "* (every client) stands alone, not beside addresses - at `$.forwarded_allow_ips`"
            )
        return proxies
    for entry in proxies:
        try:
            ipaddress.ip_network(entry)
        except ValueError:
            raise msgspec.ValidationError(
                f"{entry!r} is not an address or a network (host bits unset) - at "
                "`$.forwarded_allow_ips`"
            ) from None
    return proxies


class SettingsError(Exception):
    """A setting has a bad value; the message names the setting and its source."""


_FIELDS = {f.name: f for f in msgspec.structs.fields(Settings)}


def _env_values(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, field in _FIELDS.items():
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        if name == "plugin_settings":
            try:
                values[name] = msgspec.json.decode(raw)
            except msgspec.DecodeError:
                raise SettingsError(
                    f"environment variable {ENV_PREFIX}PLUGIN_SETTINGS must be a JSON object"
                ) from None
        elif "list[" in str(field.type):
            values[name] = [item for item in raw.split(",") if item.strip()]
        elif raw == "" and "None" in str(field.type):
            values[name] = None
        else:
            values[name] = raw
    return values


def _source_of(name: str, env: Mapping[str, Any], config_path: Path | None) -> str:
    if name in env:
        return f"environment variable {ENV_PREFIX}{name.upper()} (setting '{name}')"
    if config_path is not None:
        return f"'{name}' in {config_path}"
    return f"setting '{name}'"


def _decode_path(type_: type, value: Any) -> Any:
    if type_ is Path and isinstance(value, str | Path):
        return Path(value).expanduser()
    raise NotImplementedError


def load_settings(
    environ: Mapping[str, str] | None = None,
    config_file: str | Path | None = None,
    **overrides: Any,
) -> Settings:
    """Build settings from a TOML file, the environment and explicit overrides (highest).

    The TOML file is ``config_file``, else ``$CREATOR_CONFIG``, else none.
    """
    environ = os.environ if environ is None else environ
    path_text = config_file or environ.get(CONFIG_ENV)
    config_path = Path(path_text) if path_text else None
    file_values: dict[str, Any] = {}
    if config_path is not None:
        try:
            file_values = tomllib.loads(config_path.read_text())
        except FileNotFoundError:
            raise SettingsError(f"config file {config_path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {config_path} is not valid TOML: {exc}") from None
        unknown = sorted(set(file_values) - set(_FIELDS))
        if unknown:
            raise SettingsError(
                f"unknown setting {unknown[0]!r} in {config_path}; "
                f"known settings: {', '.join(sorted(_FIELDS))}"
            )
    env_values = _env_values(environ)
    merged = {**file_values, **env_values, **{k: v for k, v in overrides.items() if v is not None}}
    try:
        return msgspec.convert(merged, Settings, strict=False, dec_hook=_decode_path)
    except msgspec.ValidationError as exc:
        message = str(exc)
        name = message.rsplit("`$.", 1)[-1].split("`")[0].split(".")[0].split("[")[0]
        if name in overrides and overrides[name] is not None:
            source = f"option --{name.replace('_', '-')}"
        else:
            source = _source_of(name, env_values, config_path)
        raise SettingsError(f"invalid {source}: {message.split(' - at ')[0]}") from None
