"""A document's content digest: the SHA-256 of the text its content shows, whatever the layout.

A PDF cannot print the SHA-256 of its own bytes (printing it changes them). What a document prints instead is the
digest of its content's text, cell by cell in reading order, taken from the flowables before they are laid out: the
same record rendered again gives the same digest, and any change to what it shows gives another. The page furniture
(who generated the document and when) is not content and is not covered.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from xml.sax.saxutils import unescape

from reportlab.platypus import Flowable, KeepTogether, Paragraph, Table

from lims.documents.tables import PlainLines

_LINE_BREAK = re.compile(r"<br\s*/?>")
_TAG = re.compile(r"<[^>]*>")


def _folded(text: str) -> str:
    return " ".join(text.split())


def content_text(flowables: Iterable[Flowable]) -> Iterator[str]:
    """The text of each paragraph and table cell of ``flowables``, in reading order, white space folded: what
    the reader sees, without the markup that styles it. Flowables that show no text (spacers, page breaks) give
    none."""
    for flowable in flowables:
        if isinstance(flowable, Table):
            # reportlab keeps a table's cells and a group's flowables as they were given, without a public name.
            for row in flowable._cellvalues:  # type: ignore[attr-defined]
                for cell in row:
                    if isinstance(cell, Flowable):
                        yield from content_text([cell])
                    elif isinstance(cell, list | tuple):
                        yield from content_text(cell)
                    else:
                        yield _folded(str(cell))
        elif isinstance(flowable, KeepTogether):
            yield from content_text(flowable._content)  # type: ignore[attr-defined]
        elif isinstance(flowable, PlainLines):
            yield _folded(flowable.shown)
        elif isinstance(flowable, Paragraph):
            yield _folded(unescape(_TAG.sub("", _LINE_BREAK.sub(" ", flowable.text))))


def content_digest(flowables: Iterable[Flowable]) -> str:
    """The SHA-256 (hexadecimal) of :func:`content_text`, a line each."""
    return hashlib.sha256("\n".join(content_text(flowables)).encode()).hexdigest()
