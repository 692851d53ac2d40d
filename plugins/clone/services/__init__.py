"""Clones, their sources, training and chat, written against core's stores.

One service per concern, each built once per running platform and kept together in
:class:`CloneServices` (``app.state.clone``); handlers receive the one they use through
Litestar dependency injection (``sdk.from_app_state("clone.chat")``):

* :class:`Clones` (:mod:`.clones`): a clone is an ``ai_clone`` thing; its settings, its
  creator (``clone_of``) and its default prompt.
* :class:`Sources` (:mod:`.sources`): what a clone learns from, the things it is
  ``trained_on`` (its own ``clone_source`` things and website ``page`` things).
* :class:`Training` (:mod:`.trainer`): queues the ``clone.train`` job
  (:mod:`plugins.clone.training`).
* :class:`Chat` (:mod:`.chat`): conversations, grounded answers, tools and feedback.

Helpers shared with the rest of the plugin (:func:`answers`, :func:`quote`, ...) live in
:mod:`.base` and are importable from here.
"""

from __future__ import annotations

import sdk
from plugins.clone.providers import LLMProvider
from plugins.clone.services.base import ANSWERING_STATUSES, QUOTE_CHARS, answers, quote
from plugins.clone.services.chat import Chat
from plugins.clone.services.clones import Clones, allowed_origins, default_system_prompt
from plugins.clone.services.sources import Sources
from plugins.clone.services.trainer import Training
from plugins.clone.services.turns import LLMUnavailable, Turn, bounded_history
from plugins.clone.settings import CloneSettings
from plugins.clone.tools import CloneTool

__all__ = [
    "ANSWERING_STATUSES",
    "QUOTE_CHARS",
    "Chat",
    "CloneServices",
    "Clones",
    "LLMUnavailable",
    "Sources",
    "Training",
    "Turn",
    "allowed_origins",
    "answers",
    "bounded_history",
    "default_system_prompt",
    "quote",
]


class CloneServices:
    """The clone plugin's services, one of each per running platform, wired together:
    training shows the clone it started through :class:`Clones`."""

    def __init__(
        self,
        platform: sdk.Platform,
        settings: CloneSettings,
        providers: dict[str, LLMProvider],
        tools: dict[str, CloneTool] | None = None,
    ) -> None:
        self.settings = settings
        #: The LLM providers by name (the plugin closes them at shutdown).
        self.providers = providers
        self.clones = Clones(platform, settings, providers)
        self.sources = Sources(platform, settings)
        self.training = Training(platform, self.clones)
        self.chat = Chat(platform, settings, providers, tools)
