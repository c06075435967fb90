"""Read one ClinicalTrials.gov study record file, whichever of the two formats it holds."""

from __future__ import annotations

import codecs

from protocols.ctgov.api_v2 import read_api_v2
from protocols.ctgov.errors import CtgovImportError
from protocols.ctgov.legacy_xml import read_legacy_xml
from protocols.ctgov.study import ImportedStudy

MAX_RECORD_BYTES = 5 * 1024 * 1024


def parse_study(data: bytes, filename: str | None = None) -> ImportedStudy:
    """Read one study record, API v2 JSON or legacy XML, whichever ``data`` holds.

    Raises :class:`CtgovImportError` for a file that is not such a record and
    :class:`EarlierPhaseRefused` for a study the lab does not serve.
    """
    subject = f"“{filename}”" if filename else "The file"
    if len(data) > MAX_RECORD_BYTES:
        raise CtgovImportError(f"{subject} is larger than 5 MB, the limit for one ClinicalTrials.gov study record.")
    content = data.removeprefix(codecs.BOM_UTF8).lstrip()
    if content.startswith((b"{", b"[")):
        return read_api_v2(content, subject)
    if content.startswith(b"<"):
        return read_legacy_xml(content, subject)
    raise CtgovImportError(f"{subject} is neither a ClinicalTrials.gov JSON record nor an XML one.")
