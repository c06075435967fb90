"""Protocols' part of the demo data set: the HLX-301 phase 3 CAR-T study, its effective version 1.0 with three
enrolled subjects, and amendment 2.0 in review."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import clock
from lims.demo_support import acting_as, demo_user, sign
from lims.identity.service.organizations import organization_by_code
from lims.signatures.models import SignatureMeaning
from lims.units.parsing import parse_measurement, parse_range
from lims.versioning import service as versioning
from protocols.models import Protocol, ProtocolPhase, ReferenceEvent
from protocols.service import design as design_service
from protocols.service import protocols as protocol_service
from protocols.service import subjects as subjects_service

PROTOCOL_NUMBER = "HLX-301"
#: the demo client start-up that sponsors the study
SPONSOR_CODE = "HELIX"

#: The schedule of version 1.0: (code, name, reference event, day, window before, window after,
#: [(sample type, volume, container, handling range, hours to processing)])
HLX_301_VISITS = (
    (
        "SCR",
        "Screening",
        ReferenceEvent.ENROLMENT,
        -28,
        0,
        7,
        [("peripheral blood", "10 mL", "K2EDTA tube", "15–25 °C", 24), ("serum", "5 mL", "SST tube", "2–8 °C", 48)],
    ),
    (
        "APH",
        "Apheresis",
        ReferenceEvent.APHERESIS,
        0,
        0,
        0,
        [("leukapheresis product", "200 mL", "apheresis collection bag", "2–8 °C", 48)],
    ),
    (
        "D0",
        "Infusion",
        ReferenceEvent.INFUSION,
        0,
        0,
        0,
        [("retention sample of the drug product", "1 mL", "cryovial", "-196–-150 °C", 2)],
    ),
    (
        "D7",
        "Day 7",
        ReferenceEvent.INFUSION,
        7,
        1,
        1,
        [("peripheral blood for CAR-T expansion (qPCR)", "6 mL", "K2EDTA tube", "15–25 °C", 24)],
    ),
    (
        "D28",
        "Day 28",
        ReferenceEvent.INFUSION,
        28,
        3,
        3,
        [
            ("peripheral blood for CAR-T persistence (qPCR)", "6 mL", "K2EDTA tube", "15–25 °C", 24),
            ("serum for cytokines", "5 mL", "SST tube", "2–8 °C", 4),
        ],
    ),
)


def load_protocol(session: Session) -> None:
    """Authored by the manager, approved and made effective by QA; the manager enrols its subjects."""
    if session.scalar(select(Protocol.id).where(Protocol.number == PROTOCOL_NUMBER)) is not None:
        return
    sponsor = organization_by_code(session, SPONSOR_CODE)
    author, approver = demo_user(session, "m.larsen"), demo_user(session, "q.okafor")
    with acting_as(session, author):
        protocol = protocol_service.create_protocol(
            session,
            number=PROTOCOL_NUMBER,
            title="A randomised phase 3 study of HLX-19, autologous anti-CD19 CAR-T cells, versus standard of care "
            "in second-line relapsed or refractory large B-cell lymphoma",
            sponsor=sponsor,
            phase=ProtocolPhase.PHASE_3,
            therapeutic_area="Haematology / oncology",
            investigational_product="HLX-19 (autologous anti-CD19 CAR-T cells)",
            conditions="Large B-cell lymphoma",
            target_enrolment=360,
        )
        first = protocol.versions[0]
        design_service.add_arm(
            session,
            first,
            code="A",
            name="HLX-19",
            arm_type="experimental",
            description="Single infusion of 2 ×10^6 CAR-T cells/kg after lymphodepletion",
        )
        design_service.add_arm(
            session,
            first,
            code="B",
            name="Standard of care",
            arm_type="active comparator",
            description="Salvage chemo-immunotherapy then high-dose chemotherapy and ASCT",
        )
        for code, name, event, day, before, after, samples in HLX_301_VISITS:
            visit = design_service.add_visit(
                session,
                first,
                code=code,
                name=name,
                reference_event=event,
                day_offset=day,
                window_before_days=before,
                window_after_days=after,
            )
            for sample_type, volume, container, handling, hours in samples:
                design_service.add_sample_requirement(
                    session,
                    visit,
                    sample_type=sample_type,
                    volume=parse_measurement(volume),
                    container=container,
                    handling=parse_range(handling),
                    max_hours_to_processing=hours,
                )
    sign(session, first, SignatureMeaning.AUTHORED, author)
    sign(session, first, SignatureMeaning.APPROVED, approver)
    with acting_as(session, approver):
        versioning.make_effective(session, first)
    today = clock.today()
    with acting_as(session, author):
        for number, (enrolled_days_ago, arm, apheresis_days_ago, infused_days_ago) in enumerate(
            ((60, "A", 50, 30), (45, "A", 35, 12), (20, "B", None, None)), start=1
        ):
            subjects_service.enrol_subject(
                session,
                protocol,
                code=f"HLX301-014-{number:04d}",
                site="014",
                arm=next(candidate for candidate in first.arms if candidate.code == arm),
                enrolled_on=today - timedelta(days=enrolled_days_ago),
                consent_version="1.0",
                apheresis_on=today - timedelta(days=apheresis_days_ago) if apheresis_days_ago else None,
                infused_on=today - timedelta(days=infused_days_ago) if infused_days_ago else None,
            )
        second = design_service.new_version(
            session, protocol, number="2.0", amendment_summary="Amendment 1: adds a month-3 persistence sample"
        )
        month3 = design_service.add_visit(
            session,
            second,
            code="M3",
            name="Month 3",
            reference_event=ReferenceEvent.INFUSION,
            day_offset=90,
            window_before_days=7,
            window_after_days=7,
        )
        design_service.add_sample_requirement(
            session,
            month3,
            sample_type="peripheral blood for CAR-T persistence (qPCR)",
            volume=parse_measurement("6 mL"),
            container="K2EDTA tube",
            handling=parse_range("15–25 °C"),
            max_hours_to_processing=24,
        )
    sign(session, second, SignatureMeaning.AUTHORED, author)
