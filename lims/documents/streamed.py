"""Documents of any length written with bounded memory: the content comes from an iterator and is laid out a page
at a time, each finished page is compressed at once, and the file goes to a stream (a temporary file), not to bytes.

:meth:`lims.documents.template.Document.render` builds the whole story and holds every page until the last, to
number them; a report of thousands of pages cannot. Here a page holds only the flowables it draws (and those a
generator has handed over but not yet placed), and "page X of Y" is a second content stream added to each page once
the number of pages is known: what stays in memory per page is its compressed content, some kilobytes.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from typing import IO, Any

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFName, PDFStream
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Frame
from reportlab.platypus.doctemplate import LayoutError

from lims.documents.styles import MARGIN, PAGE_HEIGHT, PAGE_WIDTH
from lims.documents.template import FRAME_PADDING, Document, PageFurniture


def write_streamed(document: Document, content: Iterable[Flowable], out: IO[bytes]) -> int:
    """Write ``document`` with ``content`` (flowables, taken one at a time as the pages fill) to ``out`` as PDF,
    with the same page furniture as :meth:`Document.render`; return the number of pages."""
    furniture = document.furniture()
    canvas = _StreamingCanvas(out, pagesize=A4, pageCompression=1)
    metadata = document.metadata()
    canvas.setTitle(metadata.title)
    canvas.setAuthor(metadata.author)
    canvas.setSubject(metadata.subject)
    canvas.setCreator(metadata.creator)
    pages = _lay_out(iter(content), canvas, furniture)
    canvas.number_pages(furniture)
    canvas.save()
    return pages


def _frame(furniture: PageFurniture) -> Frame:
    # Where SimpleDocTemplate puts its frame with the margins Document.render gives it.
    left = MARGIN - FRAME_PADDING
    return Frame(
        left,
        furniture.bottom_margin,
        PAGE_WIDTH - 2 * left,
        PAGE_HEIGHT - furniture.top_margin - furniture.bottom_margin,
    )


def _lay_out(content: Iterator[Flowable], canvas: _StreamingCanvas, furniture: PageFurniture) -> int:
    """Fill pages with ``content``: what fits goes on the page, what does not is split (a table between its rows,
    its header repeated) or goes on the next one."""
    waiting: deque[Flowable] = deque()
    pages = 0
    while True:
        if not waiting:
            upcoming = next(content, None)
            if upcoming is None:
                break
            waiting.append(upcoming)
        pages += 1
        furniture.draw_around(canvas)
        frame = _frame(furniture)
        empty = True
        while True:
            if not waiting:
                upcoming = next(content, None)
                if upcoming is None:
                    break
                waiting.append(upcoming)
            flowable = waiting.popleft()
            if frame.add(flowable, canvas):
                empty = False
                continue
            parts = frame.split(flowable, canvas)
            if parts and frame.add(parts[0], canvas):
                waiting.extendleft(reversed(parts[1:]))
            elif empty:
                raise LayoutError(f"{flowable.identity()} is too large for a page, and cannot be split.")
            else:
                waiting.appendleft(flowable)
            break
        canvas.showPage()
    if pages == 0:
        pages = 1
        furniture.draw_around(canvas)
        canvas.showPage()
    return pages


def _compressed(code: str) -> PDFStream:
    """A page's content stream, compressed now rather than when the document is saved."""
    return PDFStream(PDFDictionary({"Filter": PDFArray([PDFName("FlateDecode")])}), zlib.compress(code.encode()))


class _StreamingCanvas(Canvas):
    """Keeps each finished page compressed, and adds the page numbers once there are no more pages."""

    def showPage(self) -> None:  # noqa: N802 (reportlab's name)
        super().showPage()
        page = self._pages()[-1]
        page.Contents = _compressed(page.stream)
        page.stream = None

    def _pages(self) -> list[Any]:
        return self._doc.Pages.pages  # type: ignore[attr-defined]  # reportlab's page tree, missing from its stubs

    def number_pages(self, furniture: PageFurniture) -> None:
        """Give each page a second content stream, drawn after its own, saying "page X of Y"."""
        pages = self._pages()
        kept = self._code  # type: ignore[has-type]  # reportlab's operator list, missing from its stubs
        for number, page in enumerate(pages, start=1):
            self._code = list[str]()
            self.saveState()
            furniture.draw_page_number(self, number, len(pages))
            self.restoreState()
            page.Contents = PDFArray([page.Contents, _compressed("\n".join(self._code) + "\n")])
        self._code = kept
