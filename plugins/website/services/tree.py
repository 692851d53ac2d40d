"""Editing a page's component tree in memory: copy it, find, remove and place nodes.

The page service applies these to a copy of the draft's tree inside its save, then
validates the result against the component registry.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

import sdk
from plugins.website.components import ComponentRegistry, new_node_id, walk_tree
from plugins.website.types import Node


def copy_tree(tree: list[Node]) -> list[Node]:
    return msgspec.convert(msgspec.to_builtins(tree), list[Node])


def with_fresh_ids(tree: list[Node]) -> list[Node]:
    """A copy of ``tree`` whose every node has a new id (a duplicated page's tree)."""
    copied = copy_tree(tree)
    for node in walk_tree(copied):
        node.id = new_node_id()
    return copied


def find_node(tree: list[Node], node_id: str) -> Node:
    for node in walk_tree(tree):
        if node.id == node_id:
            return node
    raise sdk.NotFound(f"component {node_id} is not on this page")


def remove_node(tree: list[Node], node_id: str) -> bool:
    for index, node in enumerate(tree):
        if node.id == node_id:
            del tree[index]
            return True
        if remove_node(node.children, node_id):
            return True
    return False


def children_of(
    tree: list[Node], parent_id: str | None, components: ComponentRegistry
) -> list[Node]:
    """The list a new child of ``parent_id`` goes in (the top level for ``None``)."""
    if parent_id is None:
        return tree
    parent = find_node(tree, parent_id)
    if not components.get(parent.type).container:
        raise sdk.ValidationFailed(
            f"a {parent.type} cannot hold other components", field="parent_id"
        )
    return parent.children


def asset_ids(tree: Iterable[Node]) -> set[str]:
    """The media assets the tree's components show."""
    return {
        str(node.props["asset_id"])
        for node in walk_tree(tree)
        if isinstance(node.props.get("asset_id"), str) and node.props["asset_id"]
    }
