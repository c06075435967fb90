"""The results report of a client's submission: issued when QA releases its results, with the documents kit (the
printed content hash, the facility's PAdES signature, kept unchanged, verifiable at /verify like a batch
certificate), and corrected by a new version with a reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from lims.certificates.errors import AlreadyIssued, NotReleased
from lims.certificates.models import DocumentKind, DocumentStatus, IssuedDocument
from lims.certificates.service import documents
from lims.identity.models import User
from lims.samples.models import ResultRelease, Submission
from lims.samples.service import release, submissions
from lims.signatures.models import ElectronicSignature

#: the kind of record a results report is about
SUBMISSION = "submission"
NUMBER_PREFIX = "RR-"


@dataclass(frozen=True)
class SampleLine:
    accession_number: str
    client_sample_id: str
    sample_type: str
    collected_at: datetime | None
    received_at: datetime | None
    subject: str


@dataclass(frozen=True)
class ResultLine:
    accession_number: str
    test: str
    code: str
    method: str
    specification: str
    result: str
    conforms: bool


@dataclass(frozen=True)
class ReportFacts:
    """What a results report states."""

    facility_code: str
    facility_name: str
    issued_to: str
    submission: str
    reference: str
    samples: tuple[SampleLine, ...]
    results: tuple[ResultLine, ...]
    released_by: str
    released_at: datetime
    release_meaning: str

    def content(self) -> dict[str, object]:
        return asdict(self)


def report_number(submission: Submission) -> str:
    return f"{NUMBER_PREFIX}{submission.public_id}"


def _release(session: Session, submission: Submission) -> tuple[ResultRelease, ElectronicSignature]:
    found = release.release_of(session, submission)
    if found is None:
        raise NotReleased(f"The results of {submission.reference} are not released: it has no results report.")
    return found, release.release_signature(session, found)


def facts_of(session: Session, submission: Submission) -> ReportFacts:
    _, signature = _release(session, submission)
    facility = documents.facility(session)
    released = release.released_results(session, submission)
    reported = {line.sample_id for line in released}
    samples = tuple(
        SampleLine(
            accession_number=sample.accession_number or "",
            client_sample_id=sample.client_sample_id,
            sample_type=sample.sample_type,
            collected_at=sample.collected_at,
            received_at=sample.received_at,
            subject=f"{sample.protocol.number} {sample.subject.code}" if sample.protocol and sample.subject else "",
        )
        for sample in submissions.samples_of(session, submission)
        if sample.public_id in reported
    )
    return ReportFacts(
        facility_code=facility.code,
        facility_name=facility.name,
        issued_to=submission.organization.name,
        submission=submission.public_id,
        reference=submission.reference,
        samples=samples,
        results=tuple(
            ResultLine(
                accession_number=line.accession_number or "",
                test=line.test,
                code=line.test_code,
                method=line.method,
                specification=line.specification,
                result=line.result,
                conforms=line.conforms,
            )
            for line in released
        ),
        released_by=signature.printed_name,
        released_at=signature.signed_at,
        release_meaning=signature.meaning.value,
    )


def draft_for(session: Session, submission: Submission) -> documents.DocumentDraft:
    # Imported here: the PDF module draws with reportlab, which the rules above need not load.
    from lims.certificates import results_report_pdf

    facts = facts_of(session, submission)
    _, signature = _release(session, submission)
    return documents.DocumentDraft(
        kind=DocumentKind.RESULTS_REPORT,
        number=report_number(submission),
        subject_type=SUBMISSION,
        subject_id=str(submission.id),
        organization_id=submission.organization_id,
        product=f"Results of {submission.reference}"[:200],
        reference=submission.public_id,
        content=facts.content(),
        render=lambda issuance: results_report_pdf.report_pdf(facts, issuance, signature),
    )


def reports_of(session: Session, submission: Submission) -> list[IssuedDocument]:
    return documents.documents_of(session, SUBMISSION, str(submission.id))


def current_report(session: Session, submission: Submission) -> IssuedDocument:
    """The version of the submission's results report that is valid now."""
    versions = reports_of(session, submission)
    statuses = documents.statuses(session, versions)
    valid = [version for version in versions if statuses[version.id] == DocumentStatus.VALID]
    if not valid:
        raise NotReleased(f"{submission.reference} has no valid results report.")
    return valid[-1]


def issue_report(session: Session, submission: Submission, user: User) -> IssuedDocument:
    """Issue the first version of a released submission's results report."""
    if reports_of(session, submission):
        raise AlreadyIssued(f"{submission.reference} has its results report; correct it with a reason instead.")
    return documents.issue(session, draft_for(session, submission), user=user)


def issue_on_release(session: Session, found: ResultRelease, user: User) -> None:
    """QA's release signature issues the results report in the same transaction."""
    issue_report(session, found.submission, user)


SUBJECT = documents.DocumentSubject(
    SUBMISSION, lambda session, submission_id: draft_for(session, session.get_one(Submission, int(submission_id)))
)
