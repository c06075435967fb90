"""Protocol rules: phases, the version lifecycle, design locking, diffs, subjects, visit windows."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from lims.errors import AlreadyExists, RecordNotFound
from lims.identity.models import RoleName
from lims.signatures import service as signatures
from lims.signatures.errors import SamePersonRefused
from lims.signatures.models import SignatureMeaning
from lims.units.errors import IncompatibleUnits
from lims.units.parsing import parse_measurement, parse_range
from lims.versioning import errors as versioning_errors
from lims.versioning import service as versioning
from protocols.errors import (
    EarlierPhase,
    NoEffectiveVersion,
    NotAnNctId,
    SubjectCodeRefused,
    VisitNotYetDated,
)
from protocols.models import (
    ProtocolPhase,
    ProtocolVersion,
    ReferenceEvent,
    VersionStatus,
)
from protocols.service import design as design_service
from protocols.service import protocols as protocol_service
from protocols.service import subjects as subjects_service
from tests.helpers import PASSWORD


@pytest.mark.parametrize(
    ("typed", "phase"),
    [
        ("Phase 3", ProtocolPhase.PHASE_3),
        ("phase 2/phase 3", ProtocolPhase.PHASE_2_3),
        ("Phase II/III", ProtocolPhase.PHASE_2_3),
        ("Phase IV", ProtocolPhase.PHASE_4),
        ("post-marketing", ProtocolPhase.POST_MARKETING),
    ],
)
def test_reads_the_phases_the_lab_serves(typed, phase):
    assert protocol_service.parse_phase(typed) == phase


@pytest.mark.parametrize("typed", ["Phase 1", "phase 2", "Phase I/II", "Early Phase 1", "Phase 1/Phase 2"])
def test_earlier_phases_are_refused_with_the_reason(typed):
    with pytest.raises(EarlierPhase, match="after phase II"):
        protocol_service.parse_phase(typed)


@pytest.mark.parametrize("nct_id", ["NCT1234567", "nct12345678", "NCT123456789", "12345678"])
def test_nct_ids_are_validated(db_session, create_organization, nct_id):
    with pytest.raises(NotAnNctId):
        protocol_service.create_protocol(
            db_session,
            number="X-1",
            title="t",
            sponsor=create_organization(),
            phase=ProtocolPhase.PHASE_3,
            therapeutic_area="a",
            investigational_product="p",
            nct_id=nct_id,
        )


def test_lifecycle_from_draft_to_effective(db_session, car_t_protocol, author_and_approver):
    author, approver = author_and_approver
    version = car_t_protocol.versions[0]
    signatures.sign(db_session, version, meaning=SignatureMeaning.AUTHORED, user=author, password=PASSWORD)
    assert version.status == VersionStatus.IN_REVIEW
    signatures.sign(db_session, version, meaning=SignatureMeaning.APPROVED, user=approver, password=PASSWORD)
    assert version.status == VersionStatus.APPROVED
    versioning.make_effective(db_session, version)
    assert version.status == VersionStatus.EFFECTIVE and protocol_service.effective_version(car_t_protocol) is version


def test_approving_ones_own_authored_version_is_refused(db_session, car_t_protocol, create_user):
    both = create_user(RoleName.MANAGER, RoleName.QA)
    version = car_t_protocol.versions[0]
    signatures.sign(db_session, version, meaning=SignatureMeaning.AUTHORED, user=both, password=PASSWORD)
    with pytest.raises(SamePersonRefused, match="different person than the one who authored"):
        signatures.sign(db_session, version, meaning=SignatureMeaning.APPROVED, user=both, password=PASSWORD)
    assert version.status == VersionStatus.IN_REVIEW


def test_approval_needs_review_first(db_session, car_t_protocol, author_and_approver):
    _author, approver = author_and_approver
    with pytest.raises(versioning_errors.VersionNotInReview, match="not in review"):
        signatures.sign(
            db_session, car_t_protocol.versions[0], meaning=SignatureMeaning.APPROVED, user=approver, password=PASSWORD
        )


def test_editing_a_version_past_draft_is_refused(db_session, car_t_protocol, approve_version):
    version = car_t_protocol.versions[0]
    approve_version(version)
    with pytest.raises(versioning_errors.VersionNotDraft, match="create a new version"):
        design_service.add_arm(db_session, version, code="C", name="Late arm")
    with pytest.raises(versioning_errors.VersionNotDraft):
        design_service.add_visit(
            db_session, version, code="M3", name="Month 3", reference_event=ReferenceEvent.INFUSION, day_offset=90
        )


def test_a_rejected_version_goes_back_to_draft_and_its_authorship_must_be_signed_again(
    db_session, car_t_protocol, author_and_approver
):
    author, approver = author_and_approver
    version = car_t_protocol.versions[0]
    signatures.sign(db_session, version, meaning=SignatureMeaning.AUTHORED, user=author, password=PASSWORD)
    signatures.sign(db_session, version, meaning=SignatureMeaning.REJECTED, user=approver, password=PASSWORD)
    assert version.status == VersionStatus.DRAFT
    design_service.add_visit(
        db_session,
        version,
        code="M3",
        name="Month 3",
        reference_event=ReferenceEvent.INFUSION,
        day_offset=90,
        window_before_days=7,
        window_after_days=7,
    )
    [(_authored, state)] = [
        (s, st) for s, st in signatures.signatures_of(db_session, version) if s.meaning == SignatureMeaning.AUTHORED
    ]
    assert state == signatures.SignatureStatus.INVALIDATED, "the design changed after the author signed"


def test_a_new_effective_version_supersedes_the_old_one(db_session, car_t_protocol, approve_version):
    first = car_t_protocol.versions[0]
    approve_version(first)
    versioning.make_effective(db_session, first)
    second = design_service.new_version(
        db_session,
        car_t_protocol,
        number="2.0",
        amendment_summary="Adds a month-3 visit with a peripheral blood sample",
    )
    assert [arm.code for arm in second.arms] == ["A", "B"] and len(second.visits) == 4
    month3 = design_service.add_visit(
        db_session,
        second,
        code="M3",
        name="Month 3",
        reference_event=ReferenceEvent.INFUSION,
        day_offset=90,
        window_before_days=7,
        window_after_days=7,
    )
    design_service.add_sample_requirement(
        db_session,
        month3,
        sample_type="peripheral blood",
        volume=parse_measurement("6 mL"),
        container="K2EDTA tube",
        handling=parse_range("15–25 °C"),
        max_hours_to_processing=24,
    )
    approve_version(second)
    versioning.make_effective(db_session, second)
    assert (first.status, second.status) == (VersionStatus.SUPERSEDED, VersionStatus.EFFECTIVE)
    assert first.superseded_at is not None


def test_two_effective_versions_are_impossible_even_in_the_database(
    db_session, connection, car_t_protocol, approve_version
):
    first = car_t_protocol.versions[0]
    approve_version(first)
    versioning.make_effective(db_session, first)
    second = design_service.new_version(db_session, car_t_protocol, number="2.0", amendment_summary="Typo fixes")
    db_session.flush()
    savepoint = connection.begin_nested()
    with pytest.raises(IntegrityError):
        connection.execute(update(ProtocolVersion).where(ProtocolVersion.id == second.id).values(status="effective"))
    savepoint.rollback()
    with pytest.raises(versioning_errors.VersionNotApproved, match="Only an approved version"):
        versioning.make_effective(db_session, second)


def test_only_one_version_in_draft_or_review_at_a_time(db_session, car_t_protocol):
    with pytest.raises(versioning_errors.UnfinishedVersion, match="already has a version in draft or review"):
        design_service.new_version(db_session, car_t_protocol, number="2.0", amendment_summary="x")


def test_diff_shows_what_an_amendment_changes(db_session, car_t_protocol, approve_version):
    first = car_t_protocol.versions[0]
    approve_version(first)
    versioning.make_effective(db_session, first)
    second = design_service.new_version(db_session, car_t_protocol, number="2.0", amendment_summary="Amendment 1")
    design_service.add_visit(
        db_session, second, code="M3", name="Month 3", reference_event=ReferenceEvent.INFUSION, day_offset=90
    )
    design_service.add_arm(db_session, second, code="C", name="Dose expansion", arm_type="experimental")
    db_session.flush()
    changes = {(d.section, d.key, d.change) for d in design_service.diff_versions(first, second)}
    assert changes == {("arm", "C", "added"), ("visit", "M3", "added"), ("samples", "M3", "added")}


def test_sample_requirements_check_their_units(db_session, car_t_protocol):
    visit = car_t_protocol.versions[0].visits[0]
    with pytest.raises(IncompatibleUnits, match="must be a volume"):
        design_service.add_sample_requirement(
            db_session,
            visit,
            sample_type="serum",
            volume=parse_measurement("5 g"),
            container="tube",
            handling=parse_range("2–8 °C"),
            max_hours_to_processing=4,
        )
    with pytest.raises(IncompatibleUnits, match="must be temperatures"):
        design_service.add_sample_requirement(
            db_session,
            visit,
            sample_type="serum",
            volume=parse_measurement("5 mL"),
            container="tube",
            handling=parse_range("2–8 mL"),
            max_hours_to_processing=4,
        )


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("HLX301-014-0007", None),
        ("S-001", None),
        ("ABC-12", None),
        ("JOHN-SMITH-1", "looks like a name"),
        ("SMITH01", None),
        ("MRN-1234567", "medical record number"),
        ("19840312", "date of birth"),
        ("HLX-1984-03-12", "looks like a date of birth"),
        ("hlx-001", "upper-case"),
        ("ABC-DEF", "at least one digit"),
        ("John Smith", "upper-case"),
    ],
)
def test_subject_codes_must_not_identify_the_person(code, reason):
    if reason is None:
        subjects_service.check_subject_code(code)
    else:
        with pytest.raises(SubjectCodeRefused, match=reason):
            subjects_service.check_subject_code(code)


def test_subjects_enrol_under_the_effective_version_with_a_unique_code(db_session, car_t_protocol, approve_version):
    version = car_t_protocol.versions[0]
    with pytest.raises(NoEffectiveVersion):
        subjects_service.enrol_subject(
            db_session,
            car_t_protocol,
            code="HLX301-001",
            site="014",
            arm=version.arms[0],
            enrolled_on=date(2026, 1, 5),
            consent_version="1.0",
        )
    approve_version(version)
    versioning.make_effective(db_session, version)
    subject = subjects_service.enrol_subject(
        db_session,
        car_t_protocol,
        code="HLX301-001",
        site="014",
        arm=version.arms[0],
        enrolled_on=date(2026, 1, 5),
        consent_version="1.0",
    )
    assert subject.version is version
    with pytest.raises(AlreadyExists):
        subjects_service.enrol_subject(
            db_session,
            car_t_protocol,
            code="HLX301-001",
            site="014",
            arm=version.arms[0],
            enrolled_on=date(2026, 1, 5),
            consent_version="1.0",
        )


@pytest.mark.parametrize(
    ("on", "placement"),
    [
        (date(2026, 3, 7), "early"),
        (date(2026, 3, 8), "in window"),
        (date(2026, 3, 9), "in window"),
        (date(2026, 3, 10), "in window"),
        (date(2026, 3, 11), "late"),
    ],
)
def test_window_arithmetic_at_the_edges(db_session, car_t_protocol, on, placement):
    day7 = next(visit for visit in car_t_protocol.versions[0].visits if visit.code == "D7")
    window = subjects_service.window_of(day7, date(2026, 3, 2))
    assert (window.target, window.earliest, window.latest) == (date(2026, 3, 9), date(2026, 3, 8), date(2026, 3, 10))
    assert window.placement(on) == placement


def test_calendar_waits_for_reference_events_that_have_not_happened(db_session, car_t_protocol, approve_version):
    version = car_t_protocol.versions[0]
    approve_version(version)
    versioning.make_effective(db_session, version)
    subject = subjects_service.enrol_subject(
        db_session,
        car_t_protocol,
        code="HLX301-002",
        site="014",
        arm=version.arms[0],
        enrolled_on=date(2026, 2, 1),
        consent_version="1.0",
        apheresis_on=date(2026, 2, 10),
    )
    calendar = {window.visit.code: window for window in subjects_service.visit_calendar(subject)}
    assert calendar["SCR"].target == date(2026, 1, 4) and calendar["SCR"].latest == date(2026, 1, 11)
    assert calendar["APH"].target == date(2026, 2, 10)
    assert calendar["D7"].target is None
    with pytest.raises(VisitNotYetDated):
        calendar["D28"].placement(date(2026, 3, 1))


def test_a_client_organization_sees_only_the_protocols_and_subjects_it_sponsors(
    db_session, car_t_protocol, create_organization
):
    other = protocol_service.create_protocol(
        db_session,
        number="NCB-201",
        title="t",
        sponsor=create_organization(),
        phase=ProtocolPhase.PHASE_3,
        therapeutic_area="a",
        investigational_product="p",
    )
    helix = car_t_protocol.sponsor_id
    assert protocol_service.list_protocols(db_session, sponsor_id=helix) == [car_t_protocol]
    assert protocol_service.list_protocols(db_session) == [car_t_protocol, other]
    assert protocol_service.protocols_after(db_session, sponsor_id=helix, after=None, limit=10).items == [
        car_t_protocol
    ]
    assert protocol_service.get_protocol(db_session, car_t_protocol.id, sponsor_id=helix) is car_t_protocol
    with pytest.raises(RecordNotFound, match=f"There is no protocol with id {other.id}."):
        protocol_service.get_protocol(db_session, other.id, sponsor_id=helix)
    assert protocol_service.get_protocol(db_session, other.id) is other
