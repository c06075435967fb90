"""What the periodic reviews' signatures share."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from lims.identity.models import User
from lims.signatures import service as signatures
from lims.signatures.errors import SignatureRefused
from lims.signatures.models import SignatureMeaning


def check_signed_once(session: Session, review: Any, _meaning: SignatureMeaning, _user: User) -> None:
    """A review is signed once, as it is made: the signing page cannot add a second signature to it."""
    if review.id is not None and signatures.signatures_of(session, review):
        name = signatures.name_of(review)
        raise SignatureRefused(f"{name[:1].upper()}{name[1:]} is signed already.")
