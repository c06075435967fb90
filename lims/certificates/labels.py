"""The bag label as a PDF page of label size (100 mm square, the ISBT 128 base label): the DIN with its boxed
check character, product code, expiry and storage, each with its Code 128 bar code, a DataMatrix symbol holding
all three, and for an autologous product the marking and the subject's code."""

from __future__ import annotations

import io

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import createBarcodeDrawing
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import mm
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
    canvas.drawString(EDGE, line - 4 * mm, f"Batch {drawable(label.batch_number)}")
    if label.autologous:
        canvas.setFillColor(WARNING_HEX)
        canvas.setFont(BOLD_FONT, 11)
        canvas.drawString(EDGE, line - 10 * mm, AUTOLOGOUS.upper())
        canvas.setFont(BOLD_FONT, 9)
        canvas.drawString(EDGE, line - 15 * mm, f"Subject {drawable(label.subject_code)}")
        canvas.setFillColor("#000000")
    # Lower left: expiry and storage; lower right: the DataMatrix of all three data structures.
    _barcode(canvas, label.expiry_data, EDGE, EDGE + 12 * mm)
    canvas.setFont(BOLD_FONT, 8)
    canvas.drawString(EDGE, EDGE + 8 * mm, f"Expires {facility_time(label.expires_at, False)}")
    canvas.setFont(FONT, 7)
    canvas.drawString(EDGE, EDGE + 4 * mm, f"Store at {drawable(label.storage)}"[:70])
    if label.gtin:
        canvas.drawString(EDGE, EDGE, f"(01) {label.gtin}")
    matrix = createBarcodeDrawing("ECC200DataMatrix", value=label.datamatrix_data, barWidth=0.75 * mm)
    renderPDF.draw(matrix, canvas, SIZE - EDGE - matrix.width, EDGE)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _barcode(canvas: Canvas, data: str, x: float, y: float) -> None:
    Code128(data, barHeight=BAR_HEIGHT, barWidth=0.25 * mm, humanReadable=False, quiet=False).drawOn(canvas, x, y)
