"""One lifecycle for every versioned document, run through both kinds the LIMS has: master batch records, whose
versions are retired, and trial protocols, whose versions are superseded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from batch_records.models import MbrStatus, MbrVersion
from batch_records.service import masters
from lims.audit.models import AuditEvent
from lims.identity.models import Organization, RoleName, User
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.testing import service as testing
from lims.testing.models import ResultKind
from lims.versioning import errors as versioning_errors
from lims.versioning import service as versioning
from protocols.models import ProtocolPhase, ProtocolVersion, ReferenceEvent, VersionStatus
from protocols.service import design as design_service
from protocols.service import protocols as protocol_service
from tests.helpers import PASSWORD

Version = MbrVersion | ProtocolVersion


def _first_master_version(session: Session, _sponsor: Organization) -> Version:
    version = masters.create_master(session, code="TCR-9", product="TCR-T", change_summary="First issue")
    masters.add_step(
        session,
        version,
        masters.StepDesignInput(stage="Harvest", title="Harvest", instruction="Harvest the cells.", qc_sampling=True),
    )
    definition = testing.create_definition(
        session,
        code="STER",
        name="Sterility",
        method="Ph. Eur. 2.6.27",
        result_kind=ResultKind.QUALITATIVE,
        unit="",
        specification="No growth",
    )
    masters.add_release_test(session, version, definition)
    return version


def _first_protocol_version(session: Session, sponsor: Organization) -> Version:
    protocol = protocol_service.create_protocol(
        session,
        number="HLX-302",
        title="HLX-19 in follicular lymphoma",
        sponsor=sponsor,
        phase=ProtocolPhase.PHASE_3,
        therapeutic_area="Haematology",
        investigational_product="HLX-19",
    )
    version = protocol.versions[0]
    design_service.add_arm(session, version, code="A", name="HLX-19")
    design_service.add_visit(
        session, version, code="APH", name="Apheresis", reference_event=ReferenceEvent.APHERESIS, day_offset=0
    )
    return version


@dataclass(frozen=True)
class Kind:
    """How a test makes one kind of document, and what that kind's lifecycle says."""

    model: type[Version]
    #: the first version of a new document, designed far enough to go to review
    first_version: Callable[[Session, Organization], Version]
    #: the next version, drafted from the newest one of the document
    amend: Callable[[Session, Any], Version]
    ended: Any
    ended_at: str
    #: the refusal of a change to the first version once it is in review
    not_draft_message: str
    #: the reason recorded when the first version takes effect
    made_effective_reason: str


KINDS = {
    "master batch record": Kind(
        MbrVersion,
        _first_master_version,
        lambda session, version: masters.new_mbr_version(session, version.master, change_summary="Longer expansion"),
        MbrStatus.RETIRED,
        "retired_at",
        "TCR-9 v1 is in review; only a draft can change. Start a new version to change it.",
        "TCR-9 v1 made effective",
    ),
    "protocol": Kind(
        ProtocolVersion,
        _first_protocol_version,
        lambda session, version: design_service.new_version(
            session, version.protocol, number="2.0", amendment_summary="Amendment 1"
        ),
        VersionStatus.SUPERSEDED,
        "superseded_at",
        "Version 1.0 is in review and can no longer change; create a new version for an amendment.",
        "Version 1.0 made effective",
    ),
}


@pytest.fixture(params=list(KINDS))
def kind(request) -> Kind:
    return KINDS[request.param]


@pytest.fixture
def first(db_session, create_organization, kind) -> Version:
    return kind.first_version(db_session, create_organization())


@pytest.fixture
def author_and_qa(create_user) -> tuple[User, User]:
    return create_user(RoleName.MANAGER), create_user(RoleName.QA)


@pytest.fixture
def send_for_review(db_session, author_and_qa) -> Callable[[Version], None]:
    def send(version: Version) -> None:
        signatures.sign(
            db_session, version, meaning=SignatureMeaning.AUTHORED, user=author_and_qa[0], password=PASSWORD
        )

    return send


@pytest.fixture
def approve(db_session, author_and_qa, send_for_review) -> Callable[[Version], None]:
    def approve_version(version: Version) -> None:
        send_for_review(version)
        signatures.sign(
            db_session, version, meaning=SignatureMeaning.APPROVED, user=author_and_qa[1], password=PASSWORD
        )

    return approve_version


def test_only_a_draft_changes_and_the_refusal_says_how_to_change_it(first, kind, send_for_review):
    assert first.is_draft and versioning.locked_reason(first) is None
    versioning.require_draft(first)
    send_for_review(first)
    assert not first.is_draft and versioning.locked_reason(first) == kind.not_draft_message
    with pytest.raises(versioning_errors.VersionNotDraft) as refused:
        versioning.require_draft(first)
    assert refused.value.message == kind.not_draft_message and refused.value.status_code == 409


def test_only_an_approved_version_becomes_effective(db_session, first, send_for_review):
    with pytest.raises(
        versioning_errors.VersionNotApproved,
        match=f"Only an approved version becomes effective; {first.label} is draft",
    ):
        versioning.make_effective(db_session, first)
    send_for_review(first)
    with pytest.raises(versioning_errors.VersionNotApproved, match="is in review"):
        versioning.make_effective(db_session, first)
    assert first.effective_at is None


def test_a_version_taking_effect_ends_the_one_in_effect(db_session, first, kind, approve):
    approve(first)
    versioning.make_effective(db_session, first)
    assert first.status == first.lifecycle.effective and first.effective_at is not None
    assert versioning.effective_version(first.document_versions) is first
    second = kind.amend(db_session, first)
    approve(second)
    versioning.make_effective(db_session, second)
    assert (first.status, second.status) == (kind.ended, second.lifecycle.effective)
    assert getattr(first, kind.ended_at) == second.effective_at
    assert versioning.effective_version(first.document_versions) is second


def test_making_a_version_effective_is_audited_with_the_version_named(db_session, first, kind, approve):
    approve(first)
    versioning.make_effective(db_session, first)
    db_session.flush()
    events = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_type == kind.model.__tablename__, AuditEvent.entity_id == str(first.id)
        )
    )
    assert kind.made_effective_reason in [event.reason for event in events]


def test_two_effective_versions_of_a_document_are_impossible_even_in_the_database(
    db_session, connection, first, kind, approve
):
    approve(first)
    versioning.make_effective(db_session, first)
    second = kind.amend(db_session, first)
    db_session.commit()
    model = kind.model
    with pytest.raises(IntegrityError), connection.begin_nested():
        connection.execute(update(model).where(model.id == second.id).values(status="effective"))


def test_one_change_at_a_time_drafted_from_the_newest_version(
    db_session, first, kind, author_and_qa, send_for_review, approve
):
    with pytest.raises(versioning_errors.UnfinishedVersion, match=r"^Doc 7 already has a version in draft or review"):
        versioning.version_to_amend(first.document_versions, document="Doc 7")
    send_for_review(first)
    with pytest.raises(versioning_errors.UnfinishedVersion):
        kind.amend(db_session, first)
    signatures.sign(db_session, first, meaning=SignatureMeaning.REJECTED, user=author_and_qa[1], password=PASSWORD)
    assert first.is_draft
    approve(first)
    assert versioning.version_to_amend(first.document_versions, document="Doc 7") is first
    second = kind.amend(db_session, first)
    assert second.is_draft and second.created_at is not None and first.document_versions[-1] is second


def test_the_effective_version_alone_is_withdrawn(db_session, first, kind, approve):
    approve(first)
    with pytest.raises(
        versioning_errors.VersionNotEffective,
        match=f"Only the effective version can be {kind.ended.value}; {first.label} is approved",
    ):
        versioning.withdraw(db_session, first, reason="Product discontinued")
    versioning.make_effective(db_session, first)
    versioning.withdraw(db_session, first, reason="Product discontinued")
    assert first.status == kind.ended and getattr(first, kind.ended_at) is not None
    assert versioning.effective_version(first.document_versions) is None


def test_the_review_queue_holds_the_versions_their_author_signed(db_session, first, kind, send_for_review):
    assert first not in versioning.versions_in_review(db_session, kind.model)
    send_for_review(first)
    assert first in versioning.versions_in_review(db_session, kind.model)


@pytest.mark.parametrize(
    "status, tone",
    [("draft", "muted"), ("in review", "warning"), ("approved", "ok"), ("effective", "ok"), ("ended", "muted")],
)
def test_a_status_shows_as_a_badge_of_its_tone(app, first, kind, status, tone):
    first.status = kind.ended if status == "ended" else type(kind.ended)(status)
    with app.test_request_context():
        badge = str(app.jinja_env.get_template("_versioning.html").module.status_badge(first))
    assert badge == (f'<span class="badge badge-{tone}">{first.status.value.capitalize()}</span>')
