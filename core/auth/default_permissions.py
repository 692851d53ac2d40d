"""Core's default permission rules, registered as a built-in plugin.

Owners manage everything in their group; org users create, read and change but do not
delete the group or manage members; customers read the group and the things whose status
is ``published`` (a listing must filter to that status); an anonymous visitor
(:data:`~core.ontology.scope.VISITOR_ROLE`) reads only those published things, not even the
group. Plugins grant customers and visitors more, such as acting on their own orders or
chatting with a clone, through ``permission_allowed``.
"""

from __future__ import annotations

from core.auth.permissions import Resource
from core.hookspecs import hookimpl
from core.ontology.scope import VISITOR_ROLE, Scope

OWNER_ONLY = frozenset({"group.manage", "group.delete", "members.manage"})
PUBLISHED = "published"
CUSTOMER_READS = frozenset({"thing.read"})


@hookimpl
def permission_allowed(scope: Scope, action: str, resource: Resource | None) -> bool | None:
    if resource is not None and resource.group_id != scope.group_id:
        return False  # a scope acts in its own group only
    if scope.is_system or scope.platform_role == "platform_owner" or scope.role == "org_owner":
        return True
    if scope.role == "org_user":
        return action not in OWNER_ONLY
    if scope.role == "customer" and action == "group.read":
        return True
    if scope.role in ("customer", VISITOR_ROLE):
        if action in CUSTOMER_READS and resource is not None and resource.status == PUBLISHED:
            return True
    return None
