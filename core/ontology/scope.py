"""The Scope: who is acting, in which group, with which role. Every store is bound to one."""

from __future__ import annotations

from typing import Literal, get_args
from uuid import UUID

import msgspec

#: Roles a person holds in a group, strongest first.
GroupRole = Literal["org_owner", "org_user", "customer"]
GROUP_ROLES: tuple[str, ...] = get_args(GroupRole)
#: The role of work the platform does on its own (event handlers, jobs, migrations).
SYSTEM_ROLE = "system"
#: The role of an anonymous member of the public acting through a plugin's public surface
#: (a clone's chat widget, a checkout page): no person, no membership, and by core's rules
#: only the group's ``published`` things to read. Plugins grant more through
#: ``permission_allowed``. Never held in a membership or an API token.
VISITOR_ROLE = "visitor"


class Scope(msgspec.Struct, frozen=True):
    """The acting person (``None`` for the system), the group, and the role there."""

    group_id: UUID
    person_id: UUID | None = None
    role: str = SYSTEM_ROLE
    platform_role: str | None = None

    @classmethod
    def system(cls, group_id: UUID) -> Scope:
        """The platform acting on its own inside ``group_id`` (handlers, jobs)."""
        return cls(group_id=group_id, person_id=None, role=SYSTEM_ROLE)

    @classmethod
    def visitor(cls, group_id: UUID) -> Scope:
        """An anonymous visitor of ``group_id``'s public pages (see :data:`VISITOR_ROLE`)."""
        return cls(group_id=group_id, person_id=None, role=VISITOR_ROLE)

    @property
    def is_system(self) -> bool:
        return self.role == SYSTEM_ROLE

    @property
    def is_visitor(self) -> bool:
        return self.role == VISITOR_ROLE
