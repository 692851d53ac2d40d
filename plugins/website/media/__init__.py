"""Media uploads: images and PDFs that pages show, kept by a pluggable storage backend.

An upload is validated before anything is stored: its size (``media_max_bytes``), and its
type *sniffed from the bytes* — the client's ``Content-Type`` and file name are never
trusted. PNG, JPEG, GIF and WebP images (opened and verified with Pillow, which also gives
their size; decompression bombs are refused) and PDF documents are accepted; SVG is not
(it can carry scripts), nor is anything else.

The bytes go to a :class:`MediaStorage` under an unguessable key
``<group id>/<uuid7 hex>-<random>.<ext>``; a ``media_asset`` thing records them and a
``media_uploaded`` event is emitted in the same transaction, after the ``media_uploads``
quota is checked under its lock. Anyone may fetch ``/media/<key>`` (published pages show
these files), which is why keys are random and never listed publicly.

The package, one module per concern:

* :mod:`~plugins.website.media.validation`: what may be uploaded (kinds, limits, sniffing,
  file names, alt text);
* :mod:`~plugins.website.media.storage`: where the bytes live (:class:`MediaStorage`, the
  built-in :class:`LocalStorage`, and how another backend plugs in);
* :mod:`~plugins.website.media.library`: the ``media_asset`` things (:class:`MediaLibrary`);
* :mod:`~plugins.website.media.routes`: the API and the public ``/media/<key>``.

The names other modules use are re-exported here.
"""

from plugins.website.media.library import MediaLibrary
from plugins.website.media.routes import MEDIA_ROUTES
from plugins.website.media.storage import LocalStorage, MediaStorage, storage_for
from plugins.website.media.validation import clean_filename, inspect_media, sniff

__all__ = [
    "MEDIA_ROUTES",
    "LocalStorage",
    "MediaLibrary",
    "MediaStorage",
    "clean_filename",
    "inspect_media",
    "sniff",
    "storage_for",
]
