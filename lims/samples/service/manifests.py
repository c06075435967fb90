"""Manifests checked whole: every row's cells and what they refer to (protocol, subject, visit and what it calls
for, tests), every error listed by row and column, nothing taken unless all is right. Files in and out: CSV and
XLSX uploads within their limits, the template, and the manifest exported spreadsheet-safe."""

from __future__ import annotations

import csv
import gc
import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from lims import clock
from lims.csv_export import csv_lines, spreadsheet_safe
from lims.samples.errors import ManifestRefused, RowError, UploadRefused
from lims.samples.models import Sample, SampleStatus
from lims.samples.schemas import MANIFEST_COLUMNS, ManifestRowReader, StorageRequirement
from lims.testing.models import TestDefinition
from lims.units.errors import IncompatibleUnits
from protocols.models import Protocol, ProtocolVersion, Subject, VersionStatus, Visit

#: the most rows one manifest (or one upload) holds
MAX_ROWS = 10_000
#: the largest file an upload takes
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel"})
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_XLSX_MAGIC = b"PK\x03\x04"

#: an example row for the template, and what each column means
TEMPLATE_EXAMPLE = {
    "client_sample_id": "HLX301-0001-SCR-PB1",
    "sample_type": "peripheral blood",
    "protocol": "HLX-301",
    "subject": "HLX301-014-0007",
    "visit": "SCR",
    "collected_at": "2026-12-01 08:30",
    "quantity": "10 mL",
    "container": "K2EDTA tube",
    "storage_requirement": "15–25 °C",
    "requested_tests": "VIAB, STER",
}


@dataclass(frozen=True)
class ManifestRow:
    """A row that passed every check, with the records it refers to."""

    values: dict[str, Any]
    protocol_id: int | None
    subject_id: int | None
    visit_id: int | None

    @property
    def storage(self) -> StorageRequirement:
        return self.values["storage_requirement"]


def check_rows(
    session: Session, organization_id: int, raw_rows: Sequence[dict[str, Any]], *, first_row: int = 1
) -> list[ManifestRow]:
    """Check every row; return them all, or raise ManifestRefused listing every error by row and column."""
    if not raw_rows:
        raise ManifestRefused([RowError(first_row, "client_sample_id", "The manifest has no rows.")])
    if len(raw_rows) > MAX_ROWS:
        raise ManifestRefused(
            [RowError(first_row + MAX_ROWS, "client_sample_id", f"A manifest holds at most {MAX_ROWS:,} rows.")]
        )
    errors: list[RowError] = []
    loaded: list[tuple[int, dict[str, Any]]] = []
    reader = ManifestRowReader()
    for number, raw in enumerate(raw_rows, start=first_row):
        unknown = sorted(str(key) for key in raw if key not in MANIFEST_COLUMNS)
        errors += [RowError(number, column[:64], "This is not a manifest column.") for column in unknown]
        row, messages = reader.load({key: value for key, value in raw.items() if key in MANIFEST_COLUMNS})
        errors += [RowError(number, column, text) for column, texts in messages.items() for text in texts]
        # What the row refers to is checked too where its cells are right, so every wrong cell is listed at once.
        loaded.append((number, row))
    references = _References.of(session, organization_id, [row for _number, row in loaded])
    # The columns already refused, by row: each row's check starts from its own, not from a scan of every error.
    refused: dict[int, set[str]] = {}
    for error in errors:
        refused.setdefault(error.row, set()).add(error.column)
    checked = [references.check(number, row, errors, refused.get(number, set())) for number, row in loaded]
    if errors:
        raise ManifestRefused(sorted(errors, key=lambda error: (error.row, _column_order(error.column))))
    return [row for row in checked if row is not None]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector held off while a manifest is checked and inserted, then let run as before.

    A manifest of 10,000 rows keeps some 100,000 containers alive to its end (cells, loaded rows, the values
    inserted, the audit events waiting for the commit): that many survivors set off a full collection, which walks
    every object of the process (the app's modules, mappers and unit registry too), a sixth of the import's time
    for nothing (the import makes no cycles to collect). What the import leaves is collected as usual afterwards;
    the pause is bounded by ``MAX_ROWS``. A collector already off (a caller's choice) is left off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _column_order(column: str) -> int:
    return MANIFEST_COLUMNS.index(column) if column in MANIFEST_COLUMNS else len(MANIFEST_COLUMNS)


@dataclass
class _References:
    """What the rows refer to, read in one query per kind whatever the number of rows."""

    protocols: dict[str, Protocol]
    effective: dict[int, ProtocolVersion]
    subjects: dict[tuple[int, str], Subject]
    visits: dict[tuple[int, str], Visit]
    tests: set[str]
    #: client sample ids the organization already uses on a live manifest
    taken: set[str]

    @classmethod
    def of(cls, session: Session, organization_id: int, rows: list[dict[str, Any]]) -> _References:
        numbers = {row["protocol"] for row in rows if row.get("protocol")}
        protocols = {
            protocol.number.upper(): protocol
            for protocol in session.scalars(
                select(Protocol).where(
                    Protocol.sponsor_id == organization_id,
                    func.upper(Protocol.number).in_({n.upper() for n in numbers}),
                )
            )
        }
        effective = {
            version.protocol_id: version
            for version in session.scalars(
                select(ProtocolVersion)
                .options(selectinload(ProtocolVersion.visits).selectinload(Visit.requirements))
                .where(
                    ProtocolVersion.protocol_id.in_([p.id for p in protocols.values()]),
                    ProtocolVersion.status == VersionStatus.EFFECTIVE,
                )
            )
        }
        codes = {row["subject"].upper() for row in rows if row.get("subject")}
        subjects = {
            (subject.protocol_id, subject.code): subject
            for subject in session.scalars(
                select(Subject).where(
                    Subject.protocol_id.in_([p.id for p in protocols.values()]), Subject.code.in_(codes)
                )
            )
        }
        visits = {
            (version.protocol_id, visit.code.upper()): visit
            for version in effective.values()
            for visit in version.visits
        }
        wanted_tests = {code for row in rows for code in row.get("requested_tests", [])}
        tests = set(session.scalars(select(TestDefinition.code).where(TestDefinition.code.in_(wanted_tests))))
        client_ids = [row["client_sample_id"] for row in rows if "client_sample_id" in row]
        taken = set(
            session.scalars(
                select(Sample.client_sample_id).where(
                    Sample.organization_id == organization_id,
                    Sample.client_sample_id.in_(client_ids),
                    Sample.status != SampleStatus.CANCELLED,
                )
            )
        )
        return cls(protocols, effective, subjects, visits, tests, taken)

    def check(self, number: int, row: dict[str, Any], errors: list[RowError], refused: set[str]) -> ManifestRow | None:
        """What the row's right cells refer to; the row itself if nothing at all is wrong with it (``refused``: the
        row's columns already refused, to which this adds)."""

        def refuse(column: str, message: str) -> None:
            refused.add(column)
            errors.append(RowError(number, column, message))

        client_id = row.get("client_sample_id")
        if client_id in self.taken:
            refuse("client_sample_id", f"{client_id} is already on one of your manifests; each sample has its own id.")
        if client_id:
            self.taken.add(client_id)
        if "collected_at" in row and row["collected_at"] > clock.now():
            refuse("collected_at", "The collection time is in the future.")
        unknown_tests = [code for code in row.get("requested_tests", []) if code not in self.tests]
        if unknown_tests:
            refuse("requested_tests", f"The lab has no test {', '.join(unknown_tests)}; use the codes it publishes.")
        protocol, subject, visit = self._study(row, refuse)
        if visit is not None:
            _check_against_requirements(visit, row, refuse)
        if refused:
            return None
        return ManifestRow(
            values=row,
            protocol_id=None if protocol is None else protocol.id,
            subject_id=None if subject is None else subject.id,
            visit_id=None if visit is None else visit.id,
        )

    def _study(self, row: dict[str, Any], refuse: Any) -> tuple[Protocol | None, Subject | None, Visit | None]:
        """The protocol, subject and visit a row names, each refused if the client has no such one."""
        protocol = subject = visit = None
        if row.get("protocol"):
            protocol = self.protocols.get(row["protocol"].upper())
            if protocol is None:
                refuse("protocol", f"You have no protocol {row['protocol']}.")
            elif protocol.id not in self.effective:
                refuse("protocol", f"{protocol.number} has no effective version to send samples under.")
        if protocol is not None and row.get("subject"):
            subject = self.subjects.get((protocol.id, row["subject"].upper()))
            if subject is None:
                refuse("subject", f"No subject {row['subject']} is enrolled in {protocol.number}.")
        if protocol is not None and protocol.id in self.effective and row.get("visit"):
            visit = self.visits.get((protocol.id, row["visit"].upper()))
            if visit is None:
                version = self.effective[protocol.id]
                refuse("visit", f"{protocol.number} version {version.number} has no visit {row['visit']}.")
        return protocol, subject, visit


def _check_against_requirements(visit: Visit, row: dict[str, Any], refuse: Any) -> None:
    """A sample sent for a visit is one the visit calls for, in its container and an amount of its kind."""
    called_for = {requirement.sample_type.lower(): requirement for requirement in visit.requirements}
    if "sample_type" not in row:
        return
    requirement = called_for.get(row["sample_type"].lower())
    if requirement is None:
        wanted = ", ".join(r.sample_type for r in visit.requirements) or "no samples"
        refuse("sample_type", f"Visit {visit.code} calls for {wanted}, not {row['sample_type']}.")
        return
    if "container" in row and row["container"].lower() != requirement.container.lower():
        refuse("container", f"Visit {visit.code} takes {requirement.sample_type} in a {requirement.container}.")
    try:
        if "quantity" in row:
            row["quantity"].to(requirement.volume.unit)
    except IncompatibleUnits:
        refuse("quantity", f"Visit {visit.code} calls for {requirement.volume} of {requirement.sample_type}.")


# Files


def read_upload(data: bytes, *, filename: str, content_type: str | None) -> list[dict[str, Any]]:
    """The rows of an uploaded CSV or XLSX manifest, keyed by the columns its first row names."""
    if not data:
        raise UploadRefused("The file is empty.", field="file")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.", field="file")
    kind = (content_type or "").split(";")[0].strip().lower()
    name = filename.lower()
    if name.endswith(".xlsx"):
        if kind not in (XLSX_TYPE, "application/octet-stream", "") or not data.startswith(_XLSX_MAGIC):
            raise UploadRefused("This is not an Excel workbook (.xlsx).", field="file")
        return _rows_of(_xlsx_cells(data))
    if name.endswith(".csv"):
        if kind not in CSV_TYPES | {"application/octet-stream", ""}:
            raise UploadRefused(f"A .csv file should be text, not {kind}.", field="file")
        return read_csv(data)
    raise UploadRefused("Upload the manifest as a .csv or .xlsx file, as the template.", field="file")


def read_csv(data: bytes) -> list[dict[str, Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadRefused("Save the CSV file as UTF-8 text.", field="file") from None
    return _rows_of(iter(csv.reader(io.StringIO(text, newline=""))))


def _xlsx_cells(data: bytes) -> Iterator[list[Any]]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds for a damaged or foreign file
        raise UploadRefused("The workbook could not be read; save it again as .xlsx.", field="file") from None
    sheet = workbook.worksheets[0]
    for values in sheet.iter_rows(values_only=True):
        yield list(values)


def _rows_of(lines: Iterator[list[Any]]) -> list[dict[str, Any]]:
    header = next(lines, None)
    names = [str(cell).strip().lower() if cell is not None else "" for cell in header or []]
    missing = [column for column in ("client_sample_id", "sample_type") if column not in names]
    if not header or missing:
        raise UploadRefused(
            f"The first row names the columns, as in the template: {', '.join(MANIFEST_COLUMNS)}.", field="file"
        )
    rows: list[dict[str, Any]] = []
    for cells in lines:
        if all(cell is None or str(cell).strip() == "" for cell in cells):
            continue
        if len(rows) == MAX_ROWS:
            raise UploadRefused(f"A manifest holds at most {MAX_ROWS:,} rows.", field="file")
        rows.append({name: cell for name, cell in zip(names, cells, strict=False) if name})
    if not rows:
        raise UploadRefused("The file names the columns but has no rows of samples.", field="file")
    return rows


def template_csv() -> str:
    return "".join(csv_lines(MANIFEST_COLUMNS, [[TEMPLATE_EXAMPLE[column] for column in MANIFEST_COLUMNS]]))


def template_xlsx() -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Manifest"
    sheet.append(list(MANIFEST_COLUMNS))
    sheet.append([TEMPLATE_EXAMPLE[column] for column in MANIFEST_COLUMNS])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


EXPORT_COLUMNS = (*MANIFEST_COLUMNS, "status", "accession_number", "received_at", "rejection_reason")


def export_rows(samples: Iterable[Sample]) -> Iterator[list[str]]:
    """The samples as the manifest's columns and what the lab recorded (load their protocol, subject and visit)."""
    zone = clock.facility_zone()

    def local(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""

    for sample in samples:
        yield [
            sample.client_sample_id,
            sample.sample_type,
            sample.protocol.number if sample.protocol else "",
            sample.subject.code if sample.subject else "",
            sample.visit.code if sample.visit else "",
            local(sample.collected_at),
            str(sample.quantity or ""),
            sample.container,
            sample.storage_requirement,
            sample.requested_tests,
            sample.status.value,
            sample.accession_number or "",
            local(sample.received_at),
            sample.rejection_reason or "",
        ]


def export_csv(samples: Iterable[Sample]) -> Iterator[str]:
    """The manifest as CSV lines, no cell read by a spreadsheet as a formula."""
    return csv_lines(EXPORT_COLUMNS, export_rows(samples))


def export_xlsx(samples: Iterable[Sample]) -> bytes:
    """The manifest as a workbook of text cells, no cell read by a spreadsheet as a formula."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Manifest"
    sheet.append(list(EXPORT_COLUMNS))
    for row in export_rows(samples):
        sheet.append([spreadsheet_safe(cell) for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
