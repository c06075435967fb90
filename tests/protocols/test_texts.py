"""Texts are kept whole and readable: form limits match the columns, and control characters are refused by the
rules themselves, for inputs that come through no form (the command line, a ClinicalTrials.gov file)."""

from __future__ import annotations

import pytest
from sqlalchemy import String, select

from lims.units.parsing import parse_measurement, parse_range
from protocols import schemas
from protocols.errors import ControlCharacterInText
from protocols.models import (
    Arm,
    Protocol,
    ProtocolPhase,
    ProtocolVersion,
    ReferenceEvent,
    SampleRequirement,
    Subject,
    Visit,
)
from protocols.service import design as design_service
from protocols.service import protocols as protocol_service

# Each input schema and the model its fields are stored in.
SCHEMA_COLUMNS = [
    (schemas.ProtocolCreateSchema, Protocol),
    (schemas.ArmSchema, Arm),
    (schemas.ArmUpdateSchema, Arm),
    (schemas.VisitSchema, Visit),
    (schemas.VisitUpdateSchema, Visit),
    (schemas.SampleRequirementSchema, SampleRequirement),
    (schemas.SampleRequirementUpdateSchema, SampleRequirement),
    (schemas.NewVersionSchema, ProtocolVersion),
    (schemas.SubjectSchema, Subject),
    (schemas.SubjectUpdateSchema, Subject),
]


@pytest.mark.parametrize(("schema", "model"), SCHEMA_COLUMNS, ids=lambda value: value.__name__)
def test_a_form_refuses_a_text_longer_than_its_column_with_a_message(schema, model) -> None:
    columns = model.__table__.columns
    limited = [
        name
        for name in schema().load_fields
        if name in columns and type(columns[name].type) is String and columns[name].type.length is not None
    ]
    assert limited
    for name in limited:
        errors = schema().validate({name: "A" * (columns[name].type.length + 1)}, partial=True)
        assert errors.get(name), (schema.__name__, name)


def test_protocol_texts_hold_any_length_the_import_may_give() -> None:
    for name in ("title", "therapeutic_area", "investigational_product", "conditions"):
        assert getattr(Protocol.__table__.columns[name].type, "length", None) is None, name


def test_control_characters_are_refused_by_the_protocol_rules(db_session, create_organization) -> None:
    sponsor = create_organization()
    with pytest.raises(ControlCharacterInText) as refused:
        protocol_service.create_protocol(
            db_session,
            number="HLX-302",
            title="HLX-19\x1b[2J study",
            sponsor=sponsor,
            phase=ProtocolPhase.PHASE_3,
            therapeutic_area="Haematology",
            investigational_product="HLX-19",
        )
    assert refused.value.field == "title" and "0x1B" in refused.value.message
    assert db_session.scalars(select(Protocol)).all() == []


def test_tabs_and_line_breaks_are_text(db_session, create_organization) -> None:
    protocol = protocol_service.create_protocol(
        db_session,
        number="HLX-302",
        title="HLX-19 study\r\nphase 3",
        sponsor=create_organization(),
        phase=ProtocolPhase.PHASE_3,
        therapeutic_area="Haematology",
        investigational_product="HLX-19",
        conditions="DLBCL\tFL",
    )
    assert protocol.conditions == "DLBCL\tFL"


def _add_arm(session, version):
    design_service.add_arm(session, version, code="C", name="Arm\x00C")


def _add_visit(session, version):
    design_service.add_visit(
        session, version, code="D\x1b14", name="Day 14", reference_event=ReferenceEvent.INFUSION, day_offset=14
    )


def _add_sample(session, version):
    design_service.add_sample_requirement(
        session,
        version.visits[0],
        sample_type="Serum",
        volume=parse_measurement("3 mL"),
        container="SST\x7f",
        handling=parse_range("2–8 °C"),
        max_hours_to_processing=4,
    )


def _update_visit(session, version):
    design_service.update_visit(
        session,
        version.visits[0],
        name="Screening\x08",
        reference_event=ReferenceEvent.ENROLMENT,
        day_offset=-28,
        window_before_days=0,
        window_after_days=7,
        procedures=None,
        reason="typo",
    )


def _new_version(session, version):
    design_service.new_version(session, version.protocol, number="2.0", amendment_summary="Adds\x0c a visit")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (_add_arm, "name"),
        (_add_visit, "code"),
        (_add_sample, "container"),
        (_update_visit, "name"),
        (_new_version, "amendment_summary"),
    ],
    ids=["arm", "visit", "sample", "visit-update", "amendment"],
)
def test_control_characters_are_refused_by_the_design_rules(db_session, car_t_protocol, change, field) -> None:
    with pytest.raises(ControlCharacterInText) as refused:
        change(db_session, car_t_protocol.versions[0])
    assert refused.value.field == field
