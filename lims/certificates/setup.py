"""What certificates contribute: batch certificates issued on QA's release, their pages and API, the public
verification pages, QA's approval of corrections and revocations, bag labels, and `lims certificate`."""

from __future__ import annotations

from batch_records.models import Batch
from lims.certificates import api, cli, demo, views
from lims.certificates.models import DocumentRevocation, IssuedDocument
from lims.certificates.service import batch_certificate, documents, results_report
from lims.identity.models import RoleName
from lims.registry import PortalSection, Registry
from lims.samples.models import ResultRelease
from lims.signatures.models import SignatureMeaning
from lims.signatures.service import NextStep, SignableType


def register(registry: Registry) -> None:
    registry.blueprint(views.blueprint)
    registry.api_blueprint(api.blueprint)
    registry.navigation("Certificates", "certificates.index", order=44)
    registry.portal_section(PortalSection("Your certificates", "Certificate", documents.portal_rows))
    registry.when_signed(Batch, SignatureMeaning.RELEASED.value, batch_certificate.issue_on_release)
    registry.issued_documents(Batch.__tablename__, views.batch_certificate_links)
    registry.when_signed(ResultRelease, SignatureMeaning.RELEASED.value, results_report.issue_on_release)
    registry.signable(
        SignableType(
            IssuedDocument,
            {documents.APPROVAL: frozenset({RoleName.QA})},
            before_signing=documents.check_correction_signature,
            name=lambda document: f"certificate {document.number} version {document.version}",
            next_step=lambda _session, document, _meaning, _user: NextStep(
                f"Certificate {document.number} version {document.version} is issued; the version before it is "
                "superseded.",
                "Certificates",
                "certificates.index",
            ),
        )
    )
    registry.signable(
        SignableType(
            DocumentRevocation,
            {documents.APPROVAL: frozenset({RoleName.QA})},
            before_signing=documents.check_revocation_signature,
            name=lambda revocation: (
                f"the revocation of certificate {revocation.document.number} version {revocation.document.version}"
            ),
            next_step=lambda _session, revocation, _meaning, _user: NextStep(
                f"Certificate {revocation.document.number} is revoked: its verification page says so.",
                "Certificates",
                "certificates.index",
            ),
        )
    )
    registry.audit_actions("document.downloaded", "label.printed")
    registry.cli_group(cli.certificate_group)
    registry.demo_loader(demo.load_certificates)
