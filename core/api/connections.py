"""Connections: create, read, list by from/to/type, end (delete)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from core.api.schemas import ConnectionCreate
from core.auth.permissions import Permissions, Resource
from core.ontology.records import Connection, Page
from core.ontology.scope import Scope
from core.ontology.stores import DEFAULT_LIMIT, Ontology


class ConnectionsController(Controller):
    path = "/api/v1/groups/{group_id:uuid}/connections"
    tags = ["connections"]

    @post("/", summary="Connect two things")
    async def create_connection(
        self,
        data: JSONBody[ConnectionCreate],
        group_scope: NamedDependency[Scope],
        ontology: NamedDependency[Ontology],
        permissions: NamedDependency[Permissions],
    ) -> Response[Connection]:
        permissions.require(
            group_scope, "connection.create", Resource(group_scope.group_id, type=data.type)
        )
        connection = await ontology.scoped(group_scope).connections.create(
            data.type, data.from_id, data.to_id, data.metadata
        )
        return Response(connection, status_code=201)

    @get("/", summary="List connections, newest first")
    async def list_connections(
        self,
        group_scope: NamedDependency[Scope],
        ontology: NamedDependency[Ontology],
        permissions: NamedDependency[Permissions],
        type: FromQuery[str | None] = None,
        from_id: FromQuery[UUID | None] = None,
        to_id: FromQuery[UUID | None] = None,
        include_ended: FromQuery[bool] = False,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = DEFAULT_LIMIT,
    ) -> Page[Connection]:
        permissions.require(
            group_scope, "connection.read", Resource(group_scope.group_id, type=type)
        )
        return await ontology.scoped(group_scope).connections.list(
            type=type,
            from_id=from_id,
            to_id=to_id,
            include_ended=include_ended,
            cursor=cursor,
            limit=limit,
        )

    @get("/{connection_id:uuid}", summary="Get a connection")
    async def get_connection(
        self,
        connection_id: FromPath[UUID],
        group_scope: NamedDependency[Scope],
        ontology: NamedDependency[Ontology],
        permissions: NamedDependency[Permissions],
    ) -> Connection:
        connection = await ontology.scoped(group_scope).connections.get(connection_id)
        permissions.require(
            group_scope,
            "connection.read",
            Resource(group_scope.group_id, connection.type, connection.id),
        )
        return connection

    @delete("/{connection_id:uuid}", summary="End a connection")
    async def delete_connection(
        self,
        connection_id: FromPath[UUID],
        group_scope: NamedDependency[Scope],
        ontology: NamedDependency[Ontology],
        permissions: NamedDependency[Permissions],
    ) -> None:
        store = ontology.scoped(group_scope).connections
        connection = await store.get(connection_id)
        permissions.require(
            group_scope,
            "connection.delete",
            Resource(group_scope.group_id, connection.type, connection.id),
        )
        await store.delete(connection_id)
