"""Samples' part of the demo data set: both client start-ups' submissions at every status, from a draft to one
whose results are released, and one cancelled; dated over the last weeks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import clock
from lims.demo_support import acting_as, demo_user, on, sign
from lims.equipment.models import Equipment
from lims.identity.demo_accounts import demo_password
from lims.identity.models import User
from lims.identity.service.organizations import organization_by_code
from lims.samples import storage_demo
from lims.samples.models import Sample, SampleStatus, Submission, SubmissionStatus
from lims.samples.service import accessioning, release, results
from lims.samples.service import submissions as service
from lims.signatures.models import SignatureMeaning
from lims.units.parsing import parse_measurement

TECHNICIAN = "t.nguyen"


@dataclass(frozen=True)
class DemoSubmission:
    reference: str
    #: days ago it was drafted and submitted; receipt and testing follow a day apart each
    days_ago: int
    becomes: SubmissionStatus
    samples: int


@dataclass(frozen=True)
class DemoClient:
    code: str
    username: str
    prefix: str
    submissions: tuple[DemoSubmission, ...]
    #: a manifest row of the client's, given the sample's number and its subject's
    row: dict[str, str]
    #: whether its samples name the HLX-301 subjects and screening visit
    on_protocol: bool = False


_EVERY_STATUS = (
    (SubmissionStatus.RESULTS_RELEASED, 30, 2),
    (SubmissionStatus.IN_TESTING, 20, 2),
    (SubmissionStatus.RECEIVED, 12, 2),
    (SubmissionStatus.PARTLY_RECEIVED, 6, 3),
    (SubmissionStatus.SUBMITTED, 3, 2),
    (SubmissionStatus.CANCELLED, 9, 1),
    (SubmissionStatus.DRAFT, 1, 1),
)

CLIENTS = (
    DemoClient(
        code="HELIX",
        username="c.patel",
        prefix="HLX",
        submissions=tuple(
            DemoSubmission(f"HLX-301 screening bloods, {status.value}", days, status, samples)
            for status, days, samples in _EVERY_STATUS
        ),
        row={
            "sample_type": "peripheral blood",
            "protocol": "HLX-301",
            "visit": "SCR",
            "quantity": "10 mL",
            "container": "K2EDTA tube",
            "storage_requirement": "15–25 °C",
            "requested_tests": "QC-VIAB, QC-CD3",
        },
        on_protocol=True,
    ),
    DemoClient(
        code="NORDCAR",
        username="d.weber",
        prefix="NCB",
        submissions=tuple(
            DemoSubmission(f"NCB-201 vector plasma, {status.value}", days, status, samples)
            for status, days, samples in _EVERY_STATUS
        ),
        row={
            "sample_type": "plasma",
            "quantity": "1.5 mL",
            "container": "cryovial",
            "storage_requirement": "-80 °C",
            "requested_tests": "QC-ENDO, QC-MYCO",
        },
    ),
)


def load_submissions(session: Session) -> None:
    """Add whichever of the demo's submissions are missing, then the lab's storage and the samples stored in it."""
    today = clock.today()
    technician = demo_user(session, TECHNICIAN)
    for demo_client in CLIENTS:
        organization = organization_by_code(session, demo_client.code)
        user = demo_user(session, demo_client.username)
        existing = set(
            session.scalars(select(Submission.reference).where(Submission.organization_id == organization.id))
        )
        for number, planned in enumerate(demo_client.submissions, start=1):
            if planned.reference in existing:
                continue
            with on(today, (planned.days_ago, "09:30")), acting_as(session, user):
                submission = service.create_draft(session, organization, reference=planned.reference, user=user)
                service.add_rows(session, submission, _rows(demo_client, number, planned.samples))
                if planned.becomes != SubmissionStatus.DRAFT:
                    service.submit(session, submission)
                if planned.becomes == SubmissionStatus.CANCELLED:
                    service.cancel(session, submission, reason="The courier could not collect before the weekend.")
            _carry_on(session, submission, planned, technician, today)
    storage_demo.load_storage(session)


def _rows(demo_client: DemoClient, number: int, count: int) -> list[dict[str, str]]:
    collected = (clock.now() - timedelta(hours=20)).astimezone(clock.facility_zone()).strftime("%Y-%m-%d %H:%M")
    return [
        {
            **demo_client.row,
            "client_sample_id": f"{demo_client.prefix}-{number:02d}-{index:02d}",
            "collected_at": collected,
            **({"subject": f"HLX301-014-{index:04d}"} if demo_client.on_protocol else {}),
        }
        for index in range(1, count + 1)
    ]


def _carry_on(session: Session, submission: Submission, planned: DemoSubmission, technician: User, today: date) -> None:
    """Receive, test and release as far as the planned status, a day a step."""
    if planned.becomes in (SubmissionStatus.DRAFT, SubmissionStatus.SUBMITTED, SubmissionStatus.CANCELLED):
        return
    samples = list(submission.samples)
    arriving = samples[:-1] if planned.becomes == SubmissionStatus.PARTLY_RECEIVED else samples
    with on(today, (planned.days_ago - 1, "10:15")), acting_as(session, technician):
        for index, sample in enumerate(arriving):
            rejected = planned.becomes == SubmissionStatus.RECEIVED and index == len(arriving) - 1
            accessioning.receive_sample(
                session,
                sample,
                accessioning.Receipt(
                    arrival_temperature=parse_measurement("-76 °C" if _frozen(sample) else "19.5 °C"),
                    container_intact=not rejected,
                    accepted=not rejected,
                    received_volume=sample.quantity,
                    rejection_reason="The tube arrived cracked and leaking." if rejected else None,
                ),
                user=technician,
            )
    accepted = [sample for sample in arriving if sample.status == SampleStatus.RECEIVED]
    if planned.becomes in (SubmissionStatus.IN_TESTING, SubmissionStatus.RESULTS_RELEASED):
        _test(session, submission, accepted, planned, technician, today)


#: the demo's results by test code: within specification, and the one out of it that waits on QA's queue
RESULTS = {"QC-VIAB": "92.4 %", "QC-CD3": "86.1 %", "QC-ENDO": "0.12 EU/mL", "QC-MYCO": "Not detected"}
OUT_OF_SPECIFICATION = {"QC-VIAB": "64.0 %", "QC-CD3": "71.8 %", "QC-ENDO": "0.9 EU/mL", "QC-MYCO": "Detected"}
VERIFIER = "s.lind"
#: the flow cytometer the demo's flow cytometry results are measured on
CYTOMETER = "FCM-008"


def _test(
    session: Session,
    submission: Submission,
    accepted: list[Sample],
    planned: DemoSubmission,
    technician: User,
    today: date,
) -> None:
    """Assign the requested tests and enter their results, verified by a second technician: all of them, then
    released by QA, for a submission whose results are released; for one in testing, the first sample's (its
    last result out of specification, on QA's queue) with the other sample's still to enter."""
    releasing = planned.becomes == SubmissionStatus.RESULTS_RELEASED
    with on(today, (planned.days_ago - 2, "08:45")), acting_as(session, technician):
        tests = [
            test for sample in accepted for test in results.assign_requested_tests(session, sample, user=technician)
        ]
    entered = tests if releasing else [test for test in tests if test.sample_id == accepted[0].id]
    cytometer = session.scalar(select(Equipment.id).where(Equipment.asset_tag == CYTOMETER))
    with on(today, (planned.days_ago - 3, "11:30")), acting_as(session, technician):
        recorded = [
            results.record_result(
                session,
                test,
                OUT_OF_SPECIFICATION[test.definition.code]
                if not releasing and test is entered[-1]
                else RESULTS[test.definition.code],
                user=technician,
                instrument_id=cytometer if test.definition.instrument_type is not None else None,
            )
            for test in entered
        ]
    verifier = demo_user(session, VERIFIER)
    with on(today, (planned.days_ago - 3, "15:10")):
        for result in recorded:
            sign(session, result, SignatureMeaning.VERIFIED, verifier)
    if releasing:
        qa = demo_user(session, "q.okafor")
        with on(today, (planned.days_ago - 4, "16:00")), acting_as(session, qa):
            release.release_results(session, submission, user=qa, password=demo_password(qa.username))


def _frozen(sample: Sample) -> bool:
    return sample.storage_maximum is not None and sample.storage_maximum.value < 0
