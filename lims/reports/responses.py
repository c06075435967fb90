"""How a generated report goes out, on the reports page and through the API: a PDF written to a temporary file a
page at a time and sent from it, CSV lines, or (the API's) JSON rows; each read as it is sent, after the request's
transaction with the generation's audit event is committed."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app, stream_with_context

from lims import clock
from lims.db import get_session
from lims.documents.times import Times
from lims.reports.service import generation
from lims.reports.service.generation import Format

#: bytes sent at a time from a generated PDF
BLOCK = 64 * 1024
MIMETYPES = {Format.PDF: "application/pdf", Format.CSV: "text/csv", Format.JSON: "application/json"}


def setting() -> generation.Setting:
    """Where and when the request's report is generated: the display time zone, the facility's today."""
    return generation.Setting(
        times=Times(current_app.jinja_env.filters["localtime"]),
        zone=ZoneInfo(current_app.config["DISPLAY_TIMEZONE"]),
        today=clock.today(),
        due_soon_days=current_app.config["CALIBRATION_DUE_SOON_DAYS"],
    )


def report_response(generated: generation.Generation, report_format: Format) -> Response:
    """The report as a download in ``report_format``, its rows read as the response is sent."""
    return Response(
        stream_with_context(_body(generated, report_format)),
        mimetype=MIMETYPES[report_format],
        headers={"Content-Disposition": f'attachment; filename="{generated.filename(report_format)}"'},
    )


def _body(generated: generation.Generation, report_format: Format) -> Iterator[Any]:
    # A generator: get_session() is called once the response is being sent, after the request's transaction is
    # committed, and then opens a fresh session.
    if report_format == Format.CSV:
        yield from generation.csv_report(generated, get_session())
    elif report_format == Format.JSON:
        yield from generation.json_report(generated, get_session())
    else:
        # Written to a temporary file a page at a time, then sent from it: "page X of Y" needs the last page first.
        with tempfile.TemporaryFile() as spool:
            generation.write_pdf(generated, get_session(), spool)
            spool.seek(0)
            while block := spool.read(BLOCK):
                yield block
