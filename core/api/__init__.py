"""Core's generic API: groups, things, connections, events, types, health.

Registered through ``register_routes`` by ``core.builtins``, like any plugin's routes.
"""
