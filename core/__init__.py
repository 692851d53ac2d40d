"""Creator Platform kernel: the six-dimension ontology, plugins, runtime and API assembly.

Nothing in this package knows about websites, clones, tokens, media or business: those
are plugins under ``plugins/`` that extend the kernel through ``core.hookspecs``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("creator-platform")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
