"""The bag label as a PDF page of label size (100 mm square, the ISBT 128 base label): the DIN with its boxed
check character, product code, expiry and storage, each with its Code 128 bar code, a DataMatrix symbol holding
all three, and for an autologous product the marking and the subject's code (an allogeneic product's label names no
subject)."""

from __future__ import annotations

import io

from reportlab.graphics.barcode.code128 import Code128
from reportlab.graphics.barcode.ecc200datamatrix import ECC200DataMatrix
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from lims.certificates.pdf import AUTOLOGOUS, facility_time
from lims.certificates.service.labels import BagLabel
from lims.documents.markup import drawable
from lims.documents.styles import BOLD_FONT, FONT, WARNING_HEX

SIZE = 100 * mm
EDGE = 4 * mm
BAR_HEIGHT = 9 * mm


def label_pdf(label: BagLabel) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(SIZE, SIZE))
    canvas.setTitle(f"Bag label {label.din_printed} · batch {label.batch_number}")
    canvas.setAuthor(drawable(label.facility_name))
    canvas.setCreator("GMP LIMS")
    top = SIZE - EDGE
    # Upper left: the DIN, its bar code, and the check character boxed as ISBT 128 prints it.
    _barcode(canvas, label.din_data, EDGE, top - BAR_HEIGHT)
    canvas.setFont(BOLD_FONT, 10)
    spaced = f"{label.din[:5]} {label.din[5:7]} {label.din[7:]}"
    canvas.drawString(EDGE, top - BAR_HEIGHT - 5 * mm, spaced)
    width = canvas.stringWidth(spaced, BOLD_FONT, 10)
    canvas.setFont(FONT, 6)
    canvas.drawString(EDGE + width + 1 * mm, top - BAR_HEIGHT - 5 * mm + 3, "00")
    box_x = EDGE + width + 5 * mm
    canvas.rect(box_x, top - BAR_HEIGHT - 6 * mm, 5 * mm, 5 * mm)
    canvas.setFont(BOLD_FONT, 10)
    canvas.drawCentredString(box_x + 2.5 * mm, top - BAR_HEIGHT - 5 * mm, label.check_character)
    # Upper right: the product code.
    _barcode(canvas, label.product_data, SIZE / 2 + 2 * mm, top - BAR_HEIGHT)
    canvas.setFont(BOLD_FONT, 9)
    canvas.drawString(SIZE / 2 + 2 * mm, top - BAR_HEIGHT - 5 * mm, f"Product code {label.product_code}")
    # Middle: the product, the batch and, for an autologous product, the marking and the subject.
    line = top - BAR_HEIGHT - 13 * mm
    canvas.setFont(BOLD_FONT, 9)
    canvas.drawString(EDGE, line, drawable(label.product)[:60])
    canvas.setFont(FONT, 8)
    canvas.drawString(EDGE, line - 4 * mm, f"Batch {drawable(label.batch_number)} · {drawable(label.facility_name)}")
    if label.autologous and label.subject_code:
        canvas.setFillColor(WARNING_HEX)
        canvas.setFont(BOLD_FONT, 11)
        canvas.drawString(EDGE, line - 10 * mm, AUTOLOGOUS.upper())
        canvas.setFont(BOLD_FONT, 9)
        canvas.drawString(EDGE, line - 15 * mm, f"Subject {drawable(label.subject_code)}")
        canvas.setFillColor("#000000")
    # Lower right: the DataMatrix of all three data structures; lower left: expiry and storage beside it.
    matrix = DataMatrix(value=label.datamatrix_data, barWidth=0.5 * mm)
    matrix.drawOn(canvas, SIZE - EDGE - matrix.width, EDGE)
    room = SIZE - 2 * EDGE - matrix.width - 3 * mm
    _barcode(canvas, label.expiry_data, EDGE, EDGE + 17 * mm)
    canvas.setFont(BOLD_FONT, 8)
    canvas.drawString(EDGE, EDGE + 13 * mm, f"Expires {facility_time(label.expires_at, False)}")
    canvas.setFont(FONT, 7)
    storage = simpleSplit(f"Store at {drawable(label.storage)}", FONT, 7, room)[:3]
    for number, line in enumerate(storage):
        canvas.drawString(EDGE, EDGE + 9.5 * mm - number * 3 * mm, line)
    if label.gtin:
        canvas.drawString(EDGE, EDGE, f"GTIN (01) {label.gtin}")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


class DataMatrix(ECC200DataMatrix):
    """reportlab's ECC 200 DataMatrix (44 × 44 modules, C40 encodation), encoding as ISO/IEC 16022 says where
    reportlab does not: its C40 shift-2 set counted ``:`` to ``@`` on from ``!`` as if the digits were in it (so
    ISBT 128's ``=``, ``<`` and ``>`` were read back as other characters), and it padded a last lone C40 value
    with shifts, read back as a NUL; that value's characters are written in ASCII after leaving C40 instead."""

    x = y = 0

    def _encode_c40(self, value: str) -> list[int]:
        characters, ascii_tail = list(value), list[str]()
        values = [part for character in characters for part in self._encode_c40_char(character)]
        while len(values) % 3 == 1:
            ascii_tail.insert(0, characters.pop())
            values = [part for character in characters for part in self._encode_c40_char(character)]
        if len(values) % 3 == 2:
            values.append(0)  # a Shift 1 completes the last triplet
        codewords = []
        if values:
            codewords.append(230)  # latch to C40
            for start in range(0, len(values), 3):
                first, second, third = values[start : start + 3]
                total = first * 1600 + second * 40 + third + 1
                codewords += [total // 256, total % 256]
            codewords.append(254)  # unlatch to ASCII
        codewords += [ord(character) + 1 for character in ascii_tail]
        if len(codewords) > self.cw_data:
            raise ValueError("Too much data for a 44 × 44 DataMatrix.")
        if len(codewords) < self.cw_data:
            codewords.append(129)  # the first pad
            while len(codewords) < self.cw_data:
                pseudo_random = ((149 * (len(codewords) + 1)) % 253) + 1
                codewords.append((129 + pseudo_random) % 254)
        return codewords

    @staticmethod
    def _encode_c40_char(char: str) -> list[int]:
        """The C40 values of an ASCII character: the basic set (space, digits, capitals) or a shift and a value."""
        code = ord(char)
        if code == 32:
            return [3]
        if 48 <= code <= 57:
            return [code - 44]
        if 65 <= code <= 90:
            return [code - 51]
        if code <= 31:
            return [0, code]
        if 33 <= code <= 47:
            return [1, code - 33]
        if 58 <= code <= 64:
            return [1, code - 43]
        if 91 <= code <= 95:
            return [1, code - 69]
        if 96 <= code <= 127:
            return [2, code - 96]
        raise ValueError(f"{char!r} is not ASCII: ISBT 128 data structures are.")


def _barcode(canvas: Canvas, data: str, x: float, y: float) -> None:
    Code128(data, barHeight=BAR_HEIGHT, barWidth=0.25 * mm, humanReadable=False, quiet=False).drawOn(canvas, x, y)
