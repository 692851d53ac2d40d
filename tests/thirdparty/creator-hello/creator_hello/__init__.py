"""creator-hello: a third-party plugin for Creator Platform, built only on ``sdk``."""
