"""Which passages an answer cites: its ``[n]`` markers read back as passage indexes."""

from __future__ import annotations

import re
from collections.abc import Sequence

from plugins.clone.providers.base import Passage

#: ``[1]``, ``[1, 2]``, ``[1;2]``, ``[1-3]``: a bracket holding only passage numbers.
_CITATION = re.compile(r"\[\s*(\d{1,4}(?:\s*(?:[,;]|-|\u2013|\u2014)\s*\d{1,4})*)\s*\]")
_CITED_NUMBER = re.compile(r"(\d{1,4})(?:\s*(?:-|\u2013|\u2014)\s*(\d{1,4}))?")
#: Longest range (``[1-3]``) read as a list of passages.
_MAX_RANGE = 20


def citations_in(text: str, passages: Sequence[Passage]) -> list[int]:
    """The passage indexes ``text`` cites as ``[n]`` (also ``[1, 2]``, ``[1][2]`` and
    ``[1-3]``): in the order of their first citation, each once, only indexes of
    ``passages``."""
    valid = {p.index for p in passages}
    found: dict[int, None] = {}
    for match in _CITATION.finditer(text):
        for number in _CITED_NUMBER.finditer(match.group(1)):
            first = int(number.group(1))
            last = int(number.group(2)) if number.group(2) else first
            if not first <= last <= first + _MAX_RANGE:
                last = first
            for index in range(first, last + 1):
                if index in valid:
                    found.setdefault(index, None)
    return list(found)
