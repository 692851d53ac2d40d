"""Connections: create, read, list by from/to/type, end (delete)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from core.api.deps import GroupContext
from core.api.params import PageCursor, PageLimit, TypeFilter
from core.api.schemas import ConnectionCreate
from core.ontology.records import Connection, Page
from core.ontology.stores import DEFAULT_LIMIT


class ConnectionsController(Controller):
    path = "/api/v1/groups/{group_id:uuid}/connections"
    tags = ["connections"]

    @post("/", summary="Connect two things")
    async def create_connection(
        self,
        data: JSONBody[ConnectionCreate],
        group: NamedDependency[GroupContext],
    ) -> Response[Connection]:
        group.require("connection.create", group.resource(type=data.type))
        connection = await group.stores.connections.create(
            data.type, data.from_id, data.to_id, data.metadata
        )
        return Response(connection, status_code=201)

    @get("/", summary="List connections, newest first")
    async def list_connections(
        self,
        group: NamedDependency[GroupContext],
        type: TypeFilter = None,
        from_id: FromQuery[UUID | None] = None,
        to_id: FromQuery[UUID | None] = None,
        include_ended: FromQuery[bool] = False,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> Page[Connection]:
        group.require("connection.read", group.resource(type=type))
        return await group.stores.connections.list(
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
        group: NamedDependency[GroupContext],
    ) -> Connection:
        connection = await group.stores.connections.get(connection_id)
        group.require("connection.read", group.resource(connection.type, connection.id))
        return connection

    @delete("/{connection_id:uuid}", summary="End a connection")
    async def delete_connection(
        self,
        connection_id: FromPath[UUID],
        group: NamedDependency[GroupContext],
    ) -> None:
        store = group.stores.connections
        connection = await store.get(connection_id)
        group.require("connection.delete", group.resource(connection.type, connection.id))
        await store.delete(connection_id)
