"""Piccolo finds its engine through a conf module; :mod:`core.migrations` fills ``DB`` in.

Set as ``PICCOLO_CONF`` while migrations run, so a plugin's Piccolo migrations and tables
reach the same database as core's.
"""

from typing import Any

from piccolo.conf.apps import AppRegistry

DB: Any = None
APP_REGISTRY = AppRegistry(apps=[])
