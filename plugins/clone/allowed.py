"""Which LLM providers and models clones may use: the operator's allow-list.

``[plugin_settings.clone] allowed_providers`` names the providers (unset: every registered
one) and ``allowed_models`` the models per provider. A *hosted* provider (``hosted =
True``: it spends the operator's API key, as ``openai`` does) accepts only its default
model unless the operator lists more; a provider that is not hosted (``offline``) accepts
any model name, since it costs nothing.

Creating or updating a clone with a provider or model outside the list is a 422 naming
the field and listing what is allowed. A clone saved before the list changed answers with
what is allowed instead (:meth:`ModelPolicy.resolve`): its model is replaced by its
provider's default, and a provider no longer allowed by the operator's default provider and
model. It keeps answering, and never on a model the operator did not allow.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sdk
from plugins.clone.providers import LLMProvider
from plugins.clone.settings import CloneSettings

log = logging.getLogger("creator.clone")


def is_hosted(provider: LLMProvider) -> bool:
    return bool(getattr(provider, "hosted", False))


def default_model(provider: LLMProvider) -> str:
    return str(getattr(provider, "default_model", "") or "")


@dataclass(frozen=True)
class ModelPolicy:
    """The allow-list over the registered ``providers`` (module doc)."""

    settings: CloneSettings
    providers: dict[str, LLMProvider]

    def check_settings(self) -> None:
        """Refuse a list that leaves out the default provider; warn of unknown names."""
        allowed = self.settings.allowed_providers
        if allowed is None:
            return
        unknown = sorted(set(allowed) - set(self.providers))
        if unknown:
            log.warning(
                "plugin_settings.clone.allowed_providers names %s, which no enabled plugin "
                "registers",
                ", ".join(unknown),
            )
        if self.settings.llm_provider not in allowed:
            raise sdk.PlatformError(
                f"plugin_settings.clone.llm_provider {self.settings.llm_provider!r} is not "
                f"in allowed_providers ({', '.join(allowed) or 'none'})"
            )

    def allowed_providers(self) -> list[str]:
        allowed = self.settings.allowed_providers
        return [name for name in sorted(self.providers) if allowed is None or name in allowed]

    def allowed_models(self, name: str) -> list[str] | None:
        """The models ``name`` may use (``None``: any; the provider is not hosted)."""
        provider = self.providers[name]
        listed = self.settings.allowed_models.get(name)
        if not is_hosted(provider) and listed is None:
            return None
        default = default_model(provider)
        return list(dict.fromkeys([*([default] if default else []), *(listed or [])]))

    def check(self, provider: str, model: str) -> None:
        """A 422 naming ``provider`` or ``model`` when the allow-list refuses them (empty
        means the default, always allowed)."""
        name = provider or self.settings.llm_provider
        allowed = self.allowed_providers()
        if name not in allowed:
            known = name in self.providers
            raise sdk.ValidationFailed(
                f"{'the' if known else 'unknown'} LLM provider {name!r} is "
                f"{'not allowed on this server' if known else 'not available'}; "
                f"allowed: {', '.join(allowed)}",
                field="provider",
                allowed=allowed,
            )
        models = self.allowed_models(name)
        if model and models is not None and model not in models:
            raise sdk.ValidationFailed(
                f"model {model!r} is not allowed for the LLM provider {name!r} on this "
                f"server; allowed: {', '.join(models) or 'its default only'}",
                field="model",
                allowed=models,
            )

    def resolve(self, provider: str, model: str) -> tuple[str, str]:
        """The provider and model a clone saved with ``provider`` and ``model`` answers
        with now: those if still allowed, else what is (module doc)."""
        name = provider or self.settings.llm_provider
        if name not in self.allowed_providers():
            log.warning(
                "a clone's LLM provider %r is no longer allowed; answering with %r",
                name,
                self.settings.llm_provider,
            )
            return self.settings.llm_provider, ""
        models = self.allowed_models(name)
        if model and models is not None and model not in models:
            log.warning(
                "a clone's model %r of %r is no longer allowed; using the default", model, name
            )
            return name, ""
        return name, model
