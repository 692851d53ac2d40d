"""``can(scope, action, resource)``: the one permission check every route uses.

The answer comes from the ``permission_allowed`` hook: any ``False`` denies, otherwise any
``True`` allows, and silence denies. Core's defaults are themselves a plugin
(``core.auth.default_permissions``), so a plugin can narrow or widen them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from core.errors import Forbidden
from core.ontology.scope import Scope

if TYPE_CHECKING:
    from core.plugins import PluginManager


@dataclass(frozen=True)
class Resource:
    """What an action is about: always a group; a thing and its type where there is one."""

    group_id: UUID
    type: str | None = None
    id: UUID | None = None
    #: The thing's status (or the status a listing is filtered to), for rules such as
    #: "customers read what is published".
    status: str | None = None


class Permissions:
    def __init__(self, plugins: PluginManager) -> None:
        self._hook = plugins.hook.permission_allowed

    def can(self, scope: Scope, action: str, resource: Resource | None = None) -> bool:
        answers = self._hook(scope=scope, action=action, resource=resource)
        if any(answer is False for answer in answers):
            return False
        return any(answer is True for answer in answers)

    def require(self, scope: Scope, action: str, resource: Resource | None = None) -> None:
        if not self.can(scope, action, resource):
            raise Forbidden(f"your role {scope.role!r} may not {action} here", action=action)
