"""Input of the samples area (manifest rows, receipts, cancellations, webhooks) and what its API shows."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from functools import lru_cache
from typing import Any

from marshmallow import Schema, ValidationError, fields, missing, validate, validates_schema

from lims import clock
from lims.errors import LimsError
from lims.inputs import WholeNumber, refuse_control_characters
from lims.units.errors import IncompatibleUnits, UnitError
from lims.units.fields import MeasurementField
from lims.units.measurement import Measurement, is_amount
from lims.units.parsing import parse_limit, parse_measurement
from lims.web import FormSchema, Trimmed, required_text

#: The columns of a manifest, in the order of the template; a file names them in its first row.
MANIFEST_COLUMNS = (
    "client_sample_id",
    "sample_type",
    "protocol",
    "subject",
    "visit",
    "collected_at",
    "quantity",
    "container",
    "storage_requirement",
    "requested_tests",
)
CLIENT_SAMPLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
_TEST_CODES = re.compile(r"[\s,;]+")
_LOCAL_TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")


class LocalDateTime(fields.Field):
    """A moment typed in the facility's local time (``2026-12-01 08:30``), or with its offset in ISO 8601; a
    spreadsheet's date-time cell counts as local time. Loaded as an aware UTC time."""

    default_error_messages = {  # noqa: RUF012 (marshmallow's own class attribute)
        "invalid": "Enter the date and time as YYYY-MM-DD HH:MM (the lab's local time)."
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment: datetime | None = None
        if isinstance(value, str):
            # A manifest repeats collection times (a visit's samples are drawn together): each text is read once.
            found = _read_local_text(value.strip(), clock.facility_zone())
            if found is None:
                raise self.make_error("invalid")
            return found
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime.combine(value, time())
        if moment is None:
            raise self.make_error("invalid")
        found = _in_utc(moment, clock.facility_zone())
        if found is None:
            raise self.make_error("invalid")
        return found


def _in_utc(moment: datetime, zone: tzinfo) -> datetime | None:
    """``moment`` in UTC, read in ``zone`` when it has no offset of its own; None when it cannot be."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


@lru_cache(maxsize=4096)
def _read_local_text(text: str, zone: tzinfo) -> datetime | None:
    moment = _read_moment(text)
    return None if moment is None else _in_utc(moment, zone)


def _read_moment(text: str) -> datetime | None:
    for pattern in _LOCAL_TIME_FORMATS:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class StorageRequirement:
    """How a sample must be kept, as written, and the temperatures it allows (a single value allows only itself)."""

    text: str
    minimum: Measurement | None
    maximum: Measurement | None


class StorageRequirementField(fields.Field):
    """A storage temperature: ``-80 °C``, a range ``2–8 °C`` or a bound ``≤ -60 °C``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> StorageRequirement:
        text = str(value).strip() if value is not None else ""
        if not text:
            raise ValidationError("State how the sample is stored, e.g. -80 °C or 2–8 °C.")
        return _read_storage(text)


@lru_cache(maxsize=512)
def _read_storage(text: str) -> StorageRequirement:
    """A storage requirement as typed; like quantities, a manifest repeats a few on many rows, each read once."""
    try:
        try:
            limit = parse_limit(text)
            minimum, maximum = limit.minimum, limit.maximum
        except UnitError:
            minimum = maximum = parse_measurement(text)
        for bound in (minimum, maximum):
            if bound is not None:
                bound.to("degC")
    except IncompatibleUnits:
        raise ValidationError(f"{text!r} is not a temperature; write e.g. -80 °C or 2–8 °C.") from None
    except UnitError as error:
        raise ValidationError(error.message) from None
    if minimum is None and maximum is None:
        raise ValidationError(f"{text!r} names no temperature; write e.g. -80 °C or 2–8 °C.")
    return StorageRequirement(text, minimum, maximum)


@lru_cache(maxsize=512)
def _read_quantity(text: str) -> Measurement:
    """A quantity as typed; a manifest repeats the same few ("10 mL") on many rows, so each is read once."""
    return parse_measurement(text)


@lru_cache(maxsize=512)
def _is_amount(quantity: Measurement) -> bool:
    return is_amount(quantity)


class AmountField(fields.Field):
    """A quantity of material: a volume, a mass or a count, with its unit."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Measurement:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValidationError(f"Give the unit with the quantity, e.g. {value} mL.")
        if not isinstance(value, str):
            raise ValidationError("Enter the value and its unit as text, e.g. 10 mL.")
        try:
            quantity = _read_quantity(value)
        except UnitError as error:
            raise ValidationError(error.message) from error
        if not _is_amount(quantity):
            raise ValidationError(f"{quantity} is not an amount of material; give a volume, a mass or a count.")
        if quantity.value <= 0:
            raise ValidationError("A quantity sent is more than zero.")
        return quantity


class TestCodesField(fields.Field):
    """Test definition codes separated by commas, semicolons or spaces: ``VIAB, STER``."""

    __test__ = False

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        codes = [code.upper() for code in _TEST_CODES.split(str(value or "").strip()) if code]
        if len(", ".join(codes)) > 500:
            raise ValidationError("List at most 500 characters of test codes.")
        return list(dict.fromkeys(codes))


def _text_cell(value: Any) -> Any:
    """A spreadsheet's number or date as the text it shows; other values as they are."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


class ManifestRowSchema(FormSchema):
    """One sample on a manifest, from a form, a file's row or the API; each field is a manifest column."""

    client_sample_id = Trimmed(
        required=True,
        validate=validate.Regexp(
            CLIENT_SAMPLE_ID, error="Use 1 to 64 letters, digits, dots, dashes, slashes or underscores."
        ),
        error_messages={"required": "Enter the client's sample id."},
    )
    sample_type = required_text("Enter the sample type, e.g. peripheral blood.", 120)
    protocol = Trimmed(load_default=None, allow_none=True, validate=validate.Length(max=64))
    subject = Trimmed(load_default=None, allow_none=True, validate=validate.Length(max=32))
    visit = Trimmed(load_default=None, allow_none=True, validate=validate.Length(max=16))
    collected_at = LocalDateTime(required=True, error_messages={"required": "Enter when the sample was collected."})
    quantity = AmountField(required=True, error_messages={"required": "Enter the quantity with its unit, e.g. 10 mL."})
    container = required_text("Enter the container, e.g. K2EDTA tube.", 120)
    storage_requirement = StorageRequirementField(
        required=True, error_messages={"required": "State how the sample is stored, e.g. -80 °C or 2–8 °C."}
    )
    requested_tests = TestCodesField(load_default=list)

    @validates_schema
    def _subject_and_visit_need_a_protocol(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if (data.get("subject") or data.get("visit")) and not data.get("protocol"):
            field = "subject" if data.get("subject") else "visit"
            raise ValidationError("Name the protocol the subject and visit belong to.", field_name=field)
        if data.get("visit") and not data.get("subject"):
            raise ValidationError("Name the subject the visit is of.", field_name="visit")


class _RememberedCells:
    """A field's ``deserialize`` that reads each distinct cell once: a manifest repeats the same sample types,
    containers, quantities, storage texts, tests and collection times on many rows. The field's own rules decide
    every outcome, kept with the cell's text (a refusal is raised again with the same messages)."""

    def __init__(self, deserialize: Any) -> None:
        self._deserialize = deserialize
        self._outcomes: dict[tuple[type, Any], tuple[bool, Any]] = {}

    def __call__(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        try:
            key = (type(value), value)
            known = self._outcomes.get(key)
        except TypeError:  # an unhashable cell (a JSON list or object) is read each time
            return self._deserialize(value, attr, data, **kwargs)
        if value is missing or known is None:
            try:
                outcome: tuple[bool, Any] = (True, self._deserialize(value, attr, data, **kwargs))
            except ValidationError as refusal:
                outcome = (False, refusal.messages)
            if value is missing:
                known = outcome
            else:
                known = self._outcomes[key] = outcome
        loaded, result = known
        if not loaded:
            raise ValidationError(copy.deepcopy(result))
        return list(result) if isinstance(result, list) else result


def manifest_row_schema() -> ManifestRowSchema:
    """A row schema for the rows of one manifest: each column but the client's sample id (unique on every row)
    reads each distinct cell once. Made per manifest, so what it remembers lasts as long as one import."""
    schema = ManifestRowSchema()
    for name, field in schema.load_fields.items():
        if name != "client_sample_id":
            field.deserialize = _RememberedCells(field.deserialize)  # type: ignore[method-assign]
    return schema


def load_manifest_row(
    raw: dict[str, Any], schema: ManifestRowSchema | None = None
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A row's cells loaded (those that are right, when some are not) and its messages by column; a blank cell
    counts as not given."""
    return _load_cells(_cells_of(raw), schema or ManifestRowSchema())


def _cells_of(raw: dict[str, Any]) -> dict[str, Any]:
    cells = {}
    for key, value in raw.items():
        if isinstance(value, str):
            if value.strip():
                cells[key] = value
        elif value is not None:
            cells[key] = _text_cell(value)
    return cells


def _load_cells(cells: dict[str, Any], schema: ManifestRowSchema) -> tuple[dict[str, Any], dict[str, list[str]]]:
    try:
        return schema.load(cells), {}
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        valid = error.valid_data if isinstance(error.valid_data, dict) else {}
        return {key: value for key, value in valid.items() if key not in messages}, {
            column: [str(m) for m in (value if isinstance(value, list) else [value])]
            for column, value in messages.items()
        }


class ManifestRowReader:
    """``load_manifest_row`` for the rows of one manifest, each row's other cells than the client's sample id read
    once: a manifest often repeats a row but for that id (a sample type, container, quantity, storage, tests and
    collection time for a run of samples), and a row loads in marshmallow's machinery at some 40 µs.

    A row whose other cells are those of an earlier row that loaded without a message is that row's result with its
    own client sample id, read by the id's own field (its rules, blank and control-character checks): no other
    column's rule, nor the row's own rule (subject and visit need a protocol), looks at the id. Anything else, and
    any id its field refuses, is loaded whole, so every message is the schema's own.
    """

    def __init__(self) -> None:
        self._schema = manifest_row_schema()
        self._client_id = self._schema.fields["client_sample_id"]
        self._loaded: dict[frozenset[tuple[str, type, Any]], dict[str, Any]] = {}

    def load(self, raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
        cells = _cells_of(raw)
        try:
            key: frozenset[tuple[str, type, Any]] | None = frozenset(
                (column, type(value), value) for column, value in cells.items() if column != "client_sample_id"
            )
        except TypeError:  # an unhashable cell (a JSON list or object): loaded whole
            key = None
        known = None if key is None else self._loaded.get(key)
        if known is not None:
            client_id = self._read_client_id(cells)
            if client_id is not None:
                row = {column: list(value) if isinstance(value, list) else value for column, value in known.items()}
                row["client_sample_id"] = client_id
                return row, {}
        row, messages = _load_cells(cells, self._schema)
        if key is not None and not messages:
            self._loaded[key] = {
                column: list(value) if isinstance(value, list) else value for column, value in row.items()
            }
        return row, messages

    def _read_client_id(self, cells: dict[str, Any]) -> str | None:
        value = cells.get("client_sample_id")
        if not isinstance(value, str):
            return None
        try:
            refuse_control_characters({"client_sample_id": value})
            return str(self._client_id.deserialize(value, "client_sample_id", cells))
        except ValidationError:
            return None


class SubmissionSchema(FormSchema):
    reference = required_text("Give the shipment a name you will recognise, e.g. Week 49 PBMC.", 120)


class CancellationSchema(FormSchema):
    reason = required_text("Give the reason for cancelling; it is kept in the audit trail.", 2000)


class ReceiptSchema(FormSchema):
    """A sample's receipt: when it arrived, its condition, and whether the lab accepts it."""

    received_at = LocalDateTime(load_default=None)
    arrival_temperature = MeasurementField(
        required=True, error_messages={"required": "Enter the temperature on arrival, e.g. -78 °C."}
    )
    container_intact = fields.Boolean(load_default=False, truthy={"on", "true", "1", "yes"}, falsy={"", "false", "0"})
    received_volume = MeasurementField(load_default=None, allow_none=True)
    decision = fields.String(
        required=True,
        validate=validate.OneOf(("accept", "reject"), error="Choose whether the sample is accepted or rejected."),
        error_messages={"required": "Choose whether the sample is accepted or rejected."},
    )
    rejection_reason = Trimmed(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    note = Trimmed(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class UnexpectedSampleSchema(ReceiptSchema):
    """A sample that arrived without being on the manifest: what its label says, and its receipt."""

    client_sample_id = Trimmed(
        required=True,
        validate=validate.Regexp(
            CLIENT_SAMPLE_ID, error="Use 1 to 64 letters, digits, dots, dashes, slashes or underscores."
        ),
        error_messages={"required": "Enter the id on the sample's label."},
    )
    sample_type = required_text("Enter the sample type.", 120)
    container = required_text("Enter the container.", 120)


class WebhookSchema(FormSchema):
    url = required_text("Enter the address that receives the events.", 500)
    secret = Trimmed(
        required=True,
        validate=validate.Length(min=16, max=128, error="Use a secret of 16 to 128 characters."),
        error_messages={"required": "Enter the secret the signatures are made with (16 characters or more)."},
    )


def error_of(error: LimsError) -> dict[str, list[str]]:
    return {error.field or "_form": [error.message]}


# What the API shows


class SampleOutSchema(Schema):
    id = fields.String(attribute="public_id", required=True)
    submission_id = fields.String(attribute="submission.public_id", required=True)
    line = fields.Integer(required=True)
    client_sample_id = fields.String(required=True)
    sample_type = fields.String(required=True)
    collected_at = fields.DateTime(allow_none=True)
    quantity = MeasurementField(allow_none=True)
    container = fields.String(required=True)
    storage_requirement = fields.String(required=True)
    requested_tests = fields.List(fields.String(), attribute="requested_test_codes", required=True)
    status = fields.String(required=True)
    on_manifest = fields.Boolean(required=True)
    accession_number = fields.String(allow_none=True)
    received_at = fields.DateTime(allow_none=True)
    arrival_temperature = MeasurementField(allow_none=True)
    container_intact = fields.Boolean(allow_none=True)
    received_volume = MeasurementField(allow_none=True)
    rejection_reason = fields.String(allow_none=True)
    stability_deadline = fields.DateTime(allow_none=True, metadata={"description": "Process it by then."})
    past_stability_window = fields.Function(
        lambda sample: sample.past_stability_window(clock.now()), required=True, metadata={"type": "boolean"}
    )
    processed_at = fields.DateTime(
        allow_none=True, metadata={"description": "When processing began: its split into aliquots or its testing."}
    )
    processed_after_deadline = fields.Boolean(attribute="processed_late", required=True)


class SubmissionOutSchema(Schema):
    id = fields.String(attribute="public_id", required=True)
    reference = fields.String(required=True)
    status = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    submitted_at = fields.DateTime(allow_none=True)
    received_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    cancellation_reason = fields.String(allow_none=True)


class SubmissionDetailOutSchema(SubmissionOutSchema):
    samples = fields.List(fields.Nested(SampleOutSchema), required=True)


class ManifestInSchema(Schema):
    """A manifest sent as JSON: its name, its rows (each a manifest row's columns), and whether to submit it."""

    reference = fields.String(required=True, validate=validate.Length(min=1, max=120))
    samples = fields.List(
        fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True)),
        required=True,
        metadata={"description": f"One object per sample with the columns {', '.join(MANIFEST_COLUMNS)}."},
    )
    submit = fields.Boolean(load_default=False, metadata={"description": "Submit it at once (else it stays a draft)."})


class CsvManifestArgumentsSchema(Schema):
    reference = fields.String(
        required=True, validate=validate.Length(min=1, max=120), metadata={"description": "The shipment's name."}
    )
    submit = fields.Boolean(load_default=False, metadata={"description": "Submit it at once (else it stays a draft)."})


class CancelInSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class EventOutSchema(Schema):
    id = fields.String(attribute="public_id", required=True)
    cursor = fields.Function(
        lambda event: str(event.id),
        required=True,
        metadata={"type": "string", "description": "Send it as `after` to read what follows."},
    )
    kind = fields.String(required=True)
    occurred_at = fields.DateTime(required=True)
    submission_id = fields.String(attribute="submission_public_id", required=True)
    sample_id = fields.String(attribute="sample_public_id", allow_none=True)
    status = fields.String(required=True)
    data = fields.Function(lambda event: json.loads(event.data), required=True, metadata={"type": "object"})


class EventFeedOutSchema(Schema):
    """A read of the change feed: what happened after the cursor sent, and where the next read goes on."""

    items = fields.List(fields.Nested(EventOutSchema), required=True)
    next_cursor = fields.String(
        required=True, metadata={"description": "Send it as `after` next time: the feed goes on from here."}
    )


class EventArgumentsSchema(Schema):
    after = fields.String(
        load_default=None, metadata={"description": "The next_cursor of the previous read; leave out to start."}
    )
    limit = WholeNumber(load_default=100, validate=validate.Range(1, 500))


class WebhookInSchema(Schema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=500))
    secret = fields.String(required=True, validate=validate.Length(min=16, max=128))


class WebhookOutSchema(Schema):
    id = fields.String(attribute="public_id", required=True)
    url = fields.String(required=True)
    active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)


class DeliveryOutSchema(Schema):
    event_id = fields.String(attribute="event.public_id", required=True)
    kind = fields.String(attribute="event.kind", required=True)
    status = fields.String(required=True)
    attempts = fields.Integer(required=True)
    last_attempt_at = fields.DateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
