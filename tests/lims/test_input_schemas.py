"""Every area's input schemas: any text in any field is loaded or refused with messages, never a crash; and
every whole-number field is bounded to what a column holds."""

from __future__ import annotations

import importlib.util
import inspect

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields
from werkzeug.datastructures import MultiDict

from lims.areas import AREAS
from lims.errors import LimsError
from lims.inputs import WholeNumber, refuse_control_characters


def _input_schemas_of_every_area() -> list[type[Schema]]:
    found = []
    for area in AREAS:
        if importlib.util.find_spec(f"{area}.schemas") is None:
            continue
        module = importlib.import_module(f"{area}.schemas")
        found.extend(
            schema
            for _name, schema in inspect.getmembers(module, inspect.isclass)
            # An output schema (BatchOutSchema) only shows records; the API and the forms load the others.
            if issubclass(schema, Schema) and schema.__module__ == module.__name__ and not _shows_only(schema)
        )
    return found


def _shows_only(schema: type[Schema]) -> bool:
    return schema.__name__.endswith("OutSchema")


SCHEMAS = _input_schemas_of_every_area()
#: what a browser or a client may send for one field: any text, a number beyond a column, or nothing
TYPED = st.text(max_size=300) | st.sampled_from(["2147483648", str(10**30), "-2147483649", "1 " + "m/" * 1000 + "m"])


def _input_for(schema: Schema) -> st.SearchStrategy[dict[str, object]]:
    load_fields = {field.data_key or name: field for name, field in schema.load_fields.items()}
    return st.fixed_dictionaries(
        {},
        optional={
            key: st.lists(TYPED, max_size=3) if isinstance(field, fields.List) else TYPED
            for key, field in load_fields.items()
        },
    )


def test_the_areas_have_input_schemas_to_check():
    assert len(SCHEMAS) > 30


@pytest.mark.parametrize("schema_class", SCHEMAS, ids=lambda schema: f"{schema.__module__}.{schema.__name__}")
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_text_in_any_field_is_loaded_or_refused_with_messages(schema_class, data):
    schema = schema_class()
    try:
        schema.load(data.draw(_input_for(schema)))
    except ValidationError as refusal:
        assert refusal.messages
    except LimsError as refusal:
        assert refusal.message


@pytest.mark.parametrize("schema_class", SCHEMAS, ids=lambda schema: f"{schema.__module__}.{schema.__name__}")
def test_every_whole_number_a_schema_loads_is_bounded_to_what_a_column_holds(schema_class):
    unbounded = [
        name
        for name, field in schema_class().load_fields.items()
        if isinstance(field, fields.Integer) and not isinstance(field, WholeNumber)
    ]
    assert not unbounded, f"{schema_class.__name__} loads {unbounded} as plain fields.Integer; use lims.inputs"


def test_flat_input_without_control_characters_passes():
    refuse_control_characters({"name": "plain", "note": "tab\tand\nline", "count": 3})


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (MultiDict([("name", "plain"), ("name", "hidden\x00second")]), "name"),
        ({"name": "plain", "rows": [{"id": "nested\x07"}]}, "rows.0.id"),
        ({"name": "ring\x07"}, "name"),
        ({"name\x1b": "a control character in the field's name"}, "name?"),
    ],
)
def test_control_characters_are_found_in_flat_nested_and_repeated_values(data, field):
    with pytest.raises(ValidationError) as refused:
        refuse_control_characters(data)
    assert list(refused.value.messages) == [field]
