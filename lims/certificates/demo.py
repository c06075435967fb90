"""The certificates of the demo's released batches: issued on release, or now for a batch released before
certificates existed."""

from __future__ import annotations

from sqlalchemy.orm import Session

from lims.certificates.service import batch_certificate
from lims.demo_support import acting_as
from lims.identity.service.users import get_user


def load_certificates(session: Session) -> None:
    for batch in batch_certificate.released_batches_without_certificate(session):
        releaser = get_user(session, batch_certificate.release_signature(session, batch).signer_id)
        with acting_as(session, releaser):
            batch_certificate.issue_certificate(session, batch, releaser)
