"""Plugin discovery and the per-deployment enable list, on pluggy.

Core's own behaviour (the generic ontology API, default permissions) is registered as
built-in plugins through the same hooks a third party uses. Feature plugins, ours and
third parties', are found through the ``creator.plugins`` entry-point group.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import pluggy

from core import hookspecs

if TYPE_CHECKING:
    from litestar import Litestar

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "creator.plugins"

#: Always on; they are the kernel's own use of the hooks.
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("core", "core.builtins"),
    ("core.permissions", "core.auth.default_permissions"),
)


class PluginError(Exception):
    """A plugin could not be loaded or the enable list names something unknown."""


T = TypeVar("T")


class Collected(dict[str, T]):
    """What :meth:`PluginManager.collect_unique` gathered: ``{name: item}`` in plugin
    order, and :meth:`owner` of each name, the plugin that registered it."""

    def __init__(self) -> None:
        super().__init__()
        self.owners: dict[str, str] = {}

    def owner(self, name: str) -> str:
        return self.owners[name]


@dataclass
class PluginInfo:
    name: str
    module: str
    version: str | None
    builtin: bool
    enabled: bool
    hooks: list[str] = field(default_factory=list)


class PluginManager:
    """Loads enabled plugins and answers what each registered.

    ``enabled=None`` enables every installed plugin. ``extra`` registers plugin objects
    directly (tests and embedding), as if installed and enabled.
    """

    def __init__(
        self,
        enabled: Iterable[str] | None = None,
        *,
        extra: Mapping[str, object] | None = None,
        entry_point_group: str = ENTRY_POINT_GROUP,
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        # who declared which hooks: the docs page and the hook tests read it
        self._hookspec_sources: dict[str, list[ModuleType | type]] = {"core": [hookspecs]}
        self._adding_hookspecs_for: str | None = None
        wanted = None if enabled is None else list(dict.fromkeys(enabled))

        for name, module_name in BUILTIN_PLUGINS:
            module = importlib.import_module(module_name)
            self._register(name, module, module_name, version=None, builtin=True)

        installed = _installed(entry_point_group)
        extra = dict(extra or {})
        available = set(installed) | set(extra)
        if wanted is not None:
            unknown = [name for name in wanted if name not in available]
            if unknown:
                raise PluginError(
                    f"plugin {unknown[0]!r} is enabled but not installed; installed plugins: "
                    f"{', '.join(sorted(available)) or 'none'}"
                )
        for name, ep in sorted(installed.items()):
            on = wanted is None or name in wanted
            version = ep.dist.version if ep.dist is not None else None
            if not on:
                self.infos[name] = PluginInfo(name, ep.value, version, False, False)
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginError(
                    f"plugin {name!r} ({ep.value}) failed to import: {type(exc).__name__}: {exc}"
                ) from exc
            self._register(name, plugin, ep.value, version=version, builtin=False)
        for name, plugin in extra.items():
            # Passed in explicitly, so always on ("as if installed and enabled"), whether
            # or not the enable list names it.
            module_name = getattr(plugin, "__name__", type(plugin).__name__)
            self._register(name, plugin, module_name, version=None, builtin=False)

        for plugin_name, call in self.callers("register_hookspecs", plugin_manager=self):
            self._adding_hookspecs_for = plugin_name
            try:
                call()
            except pluggy.PluginValidationError as exc:
                raise PluginError(
                    f"plugin {self._name_of(exc.plugin)!r} does not match the hook "
                    f"specifications plugin {plugin_name!r} added: {exc}"
                ) from exc
            finally:
                self._adding_hookspecs_for = None
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            culprit = self._name_of(exc.plugin)
            where = self.infos[culprit].module if culprit in self.infos else culprit
            hooks = [
                hook
                for hook, caller in self.pm.hook.__dict__.items()
                if isinstance(caller, pluggy.HookCaller)
                and not caller.has_spec()
                and any(impl.plugin_name == culprit for impl in caller.get_hookimpls())
            ]
            raise PluginError(
                f"plugin {culprit!r} ({where}) implements unknown hook(s) "
                f"{', '.join(hooks) or '?'}; see docs/plugin-hooks.md for the hooks"
            ) from exc

    def _name_of(self, plugin: object) -> str:
        return self.pm.get_name(plugin) or repr(plugin)

    def _register(
        self, name: str, plugin: object, module: str, *, version: str | None, builtin: bool
    ) -> None:
        if name in self.infos:
            raise PluginError(f"two plugins are named {name!r}")
        try:
            self.pm.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            raise PluginError(f"plugin {name!r} ({module}) cannot be registered: {exc}") from exc
        self.infos[name] = PluginInfo(name, module, version, builtin, True)

    # -- what plugins say -------------------------------------------------------------

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def add_hookspecs(self, module_or_class: ModuleType | type, *, plugin: str = "") -> None:
        """For ``register_hookspecs``: add a plugin's own hook specifications.

        Recorded as the plugin's whose ``register_hookspecs`` is running (or ``plugin``,
        when called from elsewhere) for :meth:`hookspec_sources`."""
        owner = plugin or self._adding_hookspecs_for
        if not owner:
            raise PluginError(
                "add_hookspecs outside register_hookspecs: name the plugin (plugin=...)"
            )
        self.pm.add_hookspecs(module_or_class)
        sources = self._hookspec_sources.setdefault(owner, [])
        if module_or_class not in sources:
            sources.append(module_or_class)

    def hookspec_sources(self) -> dict[str, list[ModuleType | type]]:
        """``{plugin: [module or class, ...]}``: where each hook specification was declared,
        core's own first, then each plugin's in registration order."""
        return {plugin: list(sources) for plugin, sources in self._hookspec_sources.items()}

    def enabled_names(self) -> list[str]:
        return [info.name for info in self.infos.values() if info.enabled]

    def collect(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call a ``register_*`` hook on each plugin separately: ``[(plugin, item), ...]``.

        Keeps who registered what, for error messages and ``creator plugins list``.
        Plugins come in registration order (built-ins first).
        """
        collected: list[tuple[str, Any]] = []
        for plugin, value in self.call_each(hook_name, **kwargs):
            if value is None:
                continue
            if not isinstance(value, list | tuple):
                raise PluginError(
                    f"plugin {plugin!r}: {hook_name} must return a list, not {type(value).__name__}"
                )
            collected.extend((plugin, item) for item in value)
        return collected

    def collect_unique(
        self,
        hook_name: str,
        *,
        key: Callable[[Any], object],
        what: str,
        error: type[Exception] = PluginError,
        check: Callable[[str, Any], None] | None = None,
        **kwargs: Any,
    ) -> Collected[Any]:
        """:meth:`collect` keyed by name: ``{key(item): item}``, each name once.

        ``check(plugin, item)``, if given, runs first on each item and raises the caller's
        own error for one it refuses (``key`` may assume a checked item). An item whose
        ``key`` is not a non-empty string, and a name two plugins register, raise
        ``error`` naming the plugin, or both: ``theme 'x' is registered by both plugin
        'a' and plugin 'b'``. ``what`` names the kind of item in those messages.
        """
        found: Collected[Any] = Collected()
        for plugin, item in self.collect(hook_name, **kwargs):
            if check is not None:
                check(plugin, item)
            name = key(item)
            if not isinstance(name, str) or not name:
                raise error(f"plugin {plugin!r}: {hook_name} returned a {what} with no name")
            if name in found:
                raise error(
                    f"{what} {name!r} is registered by both plugin {found.owner(name)!r} "
                    f"and plugin {plugin!r}"
                )
            found[name] = item
            found.owners[name] = plugin
        return found

    def implementers(self, hook_name: str) -> list[str]:
        return [impl.plugin_name for impl in getattr(self.pm.hook, hook_name).get_hookimpls()]

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call a hook on each plugin; ``[(plugin, return value), ...]`` in plugin order."""
        return [(plugin, call()) for plugin, call in self.callers(hook_name, **kwargs)]

    def callers(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Callable[[], Any]]]:
        """``[(plugin, call), ...]`` in plugin order, where ``call()`` runs that plugin's
        implementation of the hook: for callers that handle each plugin's failure."""
        caller: Any = getattr(self.pm.hook, hook_name)
        # Registration order (built-ins, then installed plugins by name, then extras), not
        # pluggy's call order, which is the reverse: core's migrations must run first.
        order = {name: index for index, name in enumerate(self.infos)}
        impls = sorted(caller.get_hookimpls(), key=lambda i: order.get(i.plugin_name, len(order)))
        return [
            (
                impl.plugin_name,
                functools.partial(impl.function, **{a: kwargs[a] for a in impl.argnames}),
            )
            for impl in impls
        ]

    async def first_answer(
        self,
        hook_name: str,
        *,
        accept: Callable[[Any], bool] = lambda answer: answer is not None,
        **kwargs: Any,
    ) -> Any:
        """Call a ``firstresult`` hook whose implementations may be coroutine functions: in
        plugin order, awaiting each, the first answer ``accept`` takes (by default any but
        ``None``; pluggy's own call would stop at the first coroutine, whatever it answers).
        A plugin that raises, or answers something ``accept`` refuses, is logged and
        skipped: one broken plugin must not fail the public requests that ask."""
        for plugin, call in self.callers(hook_name, **kwargs):
            try:
                answer = call()
                if inspect.isawaitable(answer):
                    answer = await answer
            except Exception:
                log.exception("plugin %r failed in %s; skipped", plugin, hook_name)
                continue
            if accept(answer):
                return answer
            if answer is not None:
                log.warning("plugin %r answered %s with %r; skipped", plugin, hook_name, answer)
        return None

    def info(self) -> list[PluginInfo]:
        for info in self.infos.values():
            plugin = self.pm.get_plugin(info.name)
            if plugin is not None:
                info.hooks = sorted(c.name for c in self.pm.get_hookcallers(plugin) or [])
        return list(self.infos.values())


async def group_serving_url(app: Litestar, url: str) -> UUID | None:
    """The group whose public pages are served at ``url`` (the ``public_url_group``
    hook), ``None`` when no enabled plugin serves anything there."""
    plugins: PluginManager = app.state.platform.plugins
    answer = await plugins.first_answer(
        "public_url_group", accept=lambda a: isinstance(a, UUID), app=app, url=url
    )
    return answer if isinstance(answer, UUID) else None


def _installed(group: str) -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=group):
        if ep.name in found and found[ep.name].value != ep.value:
            raise PluginError(
                f"two installed plugins are named {ep.name!r}: {found[ep.name].value} "
                f"and {ep.value}"
            )
        found[ep.name] = ep
    return found
