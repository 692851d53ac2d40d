"""Shared test helpers. Fixtures come from ``sdk.testing`` (the pytest plugin a third-party
plugin author gets), so our tests use exactly what theirs do."""

import os

# This project's CI installs Debian's Chromium for the browser tests when it is missing
# (``creator_browser`` does so only when asked: third parties' CI machines are theirs).
if os.environ.get("CI"):
    os.environ.setdefault("CREATOR_INSTALL_CHROMIUM", "1")
