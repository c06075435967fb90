"""Input of storage, custody and aliquots (web forms and the API), and what the API shows of them."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from lims.inputs import WholeNumber
from lims.samples.schemas import LocalDateTime, SampleOutSchema
from lims.samples.service.aliquots import MAX_ALIQUOTS
from lims.samples.service.custody import MANUAL_ACTIONS
from lims.samples.storage_models import MAX_BOX_SIDE, StorageKind
from lims.units.errors import UnitError
from lims.units.fields import MeasurementField
from lims.units.measurement import Measurement
from lims.units.parsing import parse_measurement
from lims.web import FormSchema, Trimmed, required_text

ACCESSION_NUMBER = re.compile(r"^[Ss]\d{4}-\d{1,9}$")
_KIND = "Choose a freezer, a fridge or an LN2 tank."
_VOLUME_SEPARATORS = re.compile(r"[;\n]|,\s")


class UnitSchema(FormSchema):
    name = required_text("Name the unit, e.g. Freezer F-01.", 120)
    kind = Trimmed(
        required=True,
        validate=validate.OneOf(
            [kind.value for kind in StorageKind], error="Choose a freezer, a fridge or an LN2 tank."
        ),
        error_messages={"required": "Choose a freezer, a fridge or an LN2 tank."},
    )
    location = required_text("Say where the unit stands, e.g. Room 2.14.", 120)
    minimum_temperature = MeasurementField(
        required=True, error_messages={"required": "Enter the lowest temperature it holds, e.g. -86 °C."}
    )
    maximum_temperature = MeasurementField(
        required=True, error_messages={"required": "Enter the highest temperature it holds, e.g. -70 °C."}
    )


class RackSchema(FormSchema):
    name = required_text("Name the rack, e.g. Rack A.", 60)


class BoxSchema(FormSchema):
    name = required_text("Name the box, e.g. Box 1.", 60)
    rows = WholeNumber(
        required=True,
        within=range(1, MAX_BOX_SIDE + 1),
        error_messages={"required": "Enter how many rows the box has.", "invalid": "Enter a whole number of rows."},
    )
    columns = WholeNumber(
        required=True,
        within=range(1, MAX_BOX_SIDE + 1),
        error_messages={
            "required": "Enter how many columns the box has.",
            "invalid": "Enter a whole number of columns.",
        },
    )


def _accession_number(value: str) -> None:
    if not ACCESSION_NUMBER.match(value):
        raise ValidationError("Enter the sample's accession number as on its label, e.g. S2026-000042.")


class CustodyDetailsSchema(FormSchema):
    """What every custody event may add: when (now if blank), the temperature, a note."""

    occurred_at = LocalDateTime(load_default=None)
    temperature = MeasurementField(load_default=None)
    note = Trimmed(load_default=None, validate=validate.Length(max=1000))


class StoreSchema(CustodyDetailsSchema):
    """A sample put into (or moved to) a box position, named by its accession number."""

    sample = Trimmed(
        required=True,
        validate=[validate.Length(max=16), _accession_number],
        error_messages={"required": "Enter or scan the sample's accession number."},
    )
    position = Trimmed(
        required=True,
        validate=validate.Length(max=8),
        error_messages={"required": "Choose the position, e.g. B4."},
    )


class CustodyActionSchema(CustodyDetailsSchema):
    action = Trimmed(
        required=True,
        validate=validate.OneOf(
            [action.value for action in MANUAL_ACTIONS],
            error="Choose what happened: sent for testing, returned, shipped or disposed.",
        ),
        error_messages={"required": "Choose what happened to the sample."},
    )


class VolumesField(fields.Field):
    """Aliquot volumes, each with its unit: one per line or separated by semicolons (``500 µL; 0.75 mL``), or a
    list of texts (the API)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Measurement]:
        if isinstance(value, str):
            texts = [text.strip() for text in _VOLUME_SEPARATORS.split(value) if text.strip()]
        elif isinstance(value, list) and all(isinstance(text, str) for text in value):
            texts = [text.strip() for text in value]
        else:
            raise ValidationError("Give the aliquots' volumes as text, e.g. 500 µL; 0.75 mL.")
        if not 1 <= len(texts) <= MAX_ALIQUOTS:
            raise ValidationError(f"Give the volumes of 1 to {MAX_ALIQUOTS} aliquots, e.g. 500 µL; 0.75 mL.")
        volumes = []
        for number, text in enumerate(texts, start=1):
            try:
                volumes.append(parse_measurement(text))
            except UnitError as error:
                raise ValidationError(f"Aliquot {number}: {error.message}") from None
        return volumes


class AliquotSplitSchema(CustodyDetailsSchema):
    volumes = VolumesField(required=True, error_messages={"required": "Give each aliquot's volume, e.g. 500 µL."})


class ApiStoreSchema(CustodyDetailsSchema):
    """A sample put into a box position through the API."""

    box_id = WholeNumber(
        required=True, within=range(1, 2**31), error_messages={"out_of_range": "There is no box with this id."}
    )
    position = Trimmed(required=True, validate=validate.Length(max=8))


# What the API shows


class PositionOutSchema(Schema):
    position = fields.String()
    sample_id = fields.String(allow_none=True)
    accession_number = fields.String(allow_none=True)


class BoxOutSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    rows = fields.Integer()
    columns = fields.Integer()
    path = fields.String()
    stored = fields.Integer(metadata={"description": "How many of its positions hold a sample."})


class BoxGridOutSchema(BoxOutSchema):
    positions = fields.List(fields.Nested(PositionOutSchema), metadata={"description": "Row by row, A1 first."})


class RackOutSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    boxes = fields.List(fields.Nested(BoxOutSchema))


class StorageUnitOutSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String(metadata={"description": "freezer, fridge or LN2 tank"})
    location = fields.String()
    minimum_temperature = MeasurementField()
    maximum_temperature = MeasurementField()
    capacity = fields.Integer(metadata={"description": "Positions in all its boxes."})
    stored = fields.Integer(metadata={"description": "Samples stored in it."})


class StorageUnitDetailOutSchema(StorageUnitOutSchema):
    racks = fields.List(fields.Nested(RackOutSchema))


class CustodyEventOutSchema(Schema):
    id = fields.Integer()
    action = fields.Function(lambda event: event.action.value)
    occurred_at = fields.AwareDateTime()
    by = fields.Function(lambda event: event.by.full_name)
    from_location = fields.String(allow_none=True)
    to_location = fields.String(allow_none=True)
    temperature = MeasurementField(allow_none=True)
    note = fields.String(allow_none=True)


class AliquotOutSchema(Schema):
    sample_id = fields.Function(lambda aliquot: aliquot.child.public_id)
    accession_number = fields.Function(lambda aliquot: aliquot.child.accession_number)
    volume = MeasurementField()


class LineageOutSchema(Schema):
    parent = fields.Dict(
        allow_none=True, metadata={"description": "The sample it was split from (sample_id, accession_number)."}
    )
    children = fields.List(fields.Nested(AliquotOutSchema), metadata={"description": "The aliquots split from it."})
    remaining = MeasurementField(allow_none=True, metadata={"description": "What is left after its aliquots."})


class SplitOutSchema(Schema):
    aliquots = fields.List(fields.Nested(SampleOutSchema), metadata={"description": "The new samples, in order."})


def box_out(box: Any, stored: int) -> dict[str, Any]:
    return {
        "id": box.id,
        "name": box.name,
        "rows": box.rows,
        "columns": box.columns,
        "path": box.path,
        "stored": stored,
    }
