"""Shared test helpers. Fixtures come from ``sdk.testing`` (the pytest plugin a third-party
plugin author gets), so our tests use exactly what theirs do."""
