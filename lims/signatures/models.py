"""Applied electronic signatures: append-only, bound to the signed record and its content."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.db import Base, string_enum
from lims.identity.models import User


class SignatureMeaning(enum.StrEnum):
    AUTHORED = "authored"
    PERFORMED = "performed"
    VERIFIED = "verified"
    REVIEWED = "reviewed"
    APPROVED = "approved"
    RELEASED = "released"
    REJECTED = "rejected"
    #: a disposition: the batch is held until a decision can be made
    QUARANTINED = "quarantined"
    #: a step the master record allows to be skipped was not done, for the reason it states
    SKIPPED = "skipped"


class Signable(Protocol):
    """A record that can be signed: it states the content a signature covers."""

    __tablename__: str
    id: Any

    def signed_content(self) -> dict[str, Any]:
        """The fields whose change after signing invalidates a signature."""


class KeepsSignatureState:
    """Marks a signable model that stores whether its signatures hold, so lists and work queues ask the record's own
    columns in SQL instead of recomputing hashes: ``content_hash`` is the SHA-256 of its signed content as it
    stands, and ``signature_state`` names, by meaning, the boolean column that says whether a signature of that
    meaning covers that content. Only ``lims.signatures.service`` writes them: ``sign``, and
    ``refresh_signature_state`` after every change to the signed content (which invalidates the signatures over the
    content as it was)."""

    signature_state: ClassVar[Mapping[SignatureMeaning, str]]
    if TYPE_CHECKING:
        __tablename__: str
        id: Any

        def signed_content(self) -> dict[str, Any]: ...

    #: SHA-256 of the signed content as it stands now: a signature holds while its own content hash equals it
    content_hash: Mapped[str] = mapped_column(String(64))


class ElectronicSignature(Base):
    __tablename__ = "electronic_signature"
    # Work queues ask whether a record holds a signature of a meaning over its content as it stands: the index
    # answers that alone, without reading the signature rows.
    __table_args__ = (
        Index("ix_electronic_signature_entity_content", "entity_type", "entity_id", "meaning", "content_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    meaning: Mapped[SignatureMeaning] = mapped_column(string_enum(SignatureMeaning, "signature_meaning"))
    signer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    printed_name: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[datetime]
    #: SHA-256 of the record's signed content at the moment of signing
    content_hash: Mapped[str] = mapped_column(String(64))
    #: SHA-256 over every field above: a row copied to another record no longer matches it
    binding_hash: Mapped[str] = mapped_column(String(64))

    signer: Mapped[User] = relationship()
