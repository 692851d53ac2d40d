"""Hooks the website plugin adds, so other plugins can extend websites.

Implement them with ``sdk.hookimpl`` like any core hook; they are listed in
``docs/website.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sdk import hookspec

if TYPE_CHECKING:  # the hooks' own modules import the plugin's services, which import these
    from plugins.website.components import Component
    from plugins.website.media import MediaStorage
    from plugins.website.themes import Theme


@hookspec
def register_components() -> list[Component]:
    """Return :class:`plugins.website.components.Component` objects that creators can
    place on pages: a product card (business), a token-gated block (token), the clone's
    chat bubble (clone).

    Each has a ``type`` (unique across plugins), a msgspec ``props`` struct whose fields
    all have defaults, and ``render(props, children, ctx)`` returning escaped HTML. The
    page tree is validated against the props struct on every save.
    """


@hookspec
def register_themes() -> list[Theme]:
    """Return :class:`plugins.website.themes.Theme` objects: a name, a label and the CSS
    custom properties of its light and dark palettes. Every text colour must keep WCAG AA
    contrast (4.5:1) on its background; a test checks the built-in themes."""


@hookspec
def register_media_storage() -> list[type[MediaStorage]]:
    """Return :class:`plugins.website.media.MediaStorage` subclasses: backends that keep
    uploaded files. ``local`` (a directory under the data dir) is built in; an
    S3-compatible store is one more. The ``media_storage`` setting of the plugin
    (``[plugin_settings.website]`` in the config file) picks one by its ``name``; the
    plugin builds it with the class's ``create(platform, settings, directory)``."""
