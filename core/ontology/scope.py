"""The Scope: who is acting, in which group, with which role. Every store is bound to one."""

from __future__ import annotations

from uuid import UUID

import msgspec

#: Roles a person holds in a group, strongest first.
GROUP_ROLES = ("org_owner", "org_user", "customer")
#: The role of work the platform does on its own (event handlers, jobs, migrations).
SYSTEM_ROLE = "system"


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

    @property
    def is_system(self) -> bool:
        return self.role == SYSTEM_ROLE
