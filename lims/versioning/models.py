"""What every version of a controlled document has: a status in the lifecycle, when it was created and when it took
effect, a number unique within its document, and at most one effective version per document, kept by the database.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Index, UniqueConstraint, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from lims.db import string_enum


@dataclass(frozen=True)
class VersionLifecycle:
    """The statuses one kind of document's versions move through, and how its messages put things."""

    draft: enum.Enum
    in_review: enum.Enum
    approved: enum.Enum
    effective: enum.Enum
    #: what the effective version becomes once it is no longer in effect (superseded, retired)
    ended: enum.Enum
    #: the attribute that records when a version stopped being in effect
    ended_at: str
    #: the refusal of a change to a version past draft: ``{version}`` is its label, ``{status}`` its status
    not_draft: str

    @property
    def unfinished(self) -> frozenset[enum.Enum]:
        """The statuses of a change still under way: a document has one such version at most."""
        return frozenset({self.draft, self.in_review})


class DocumentVersion:
    """A version of a controlled document; the model names its lifecycle, its status type and its document."""

    __tablename__: str
    lifecycle: ClassVar[VersionLifecycle]
    #: the name of the status column's type, which its check constraint is named after
    status_type: ClassVar[str]
    #: the column holding the document a version belongs to
    document_key: ClassVar[str]

    @declared_attr
    def status(cls) -> Mapped[enum.Enum]:
        return mapped_column(string_enum(type(cls.lifecycle.draft), cls.status_type))

    created_at: Mapped[datetime]
    effective_at: Mapped[datetime | None]

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        in_effect = text(f"status = '{cls.lifecycle.effective.value}'")
        return (
            UniqueConstraint(cls.document_key, "number", name=f"uq_{cls.__tablename__}_number"),
            # One effective version per document, whatever writes to the table.
            Index(
                f"uq_{cls.__tablename__}_effective",
                cls.document_key,
                unique=True,
                sqlite_where=in_effect,
                postgresql_where=in_effect,
            ),
        )

    @property
    def label(self) -> str:
        """The version as messages name it within a sentence: "CART-001 v2", "version 2.0"."""
        raise NotImplementedError(f"{type(self).__name__} does not say how its versions are named")

    @property
    def document_versions(self) -> Sequence[DocumentVersion]:
        """Every version of the same document, oldest first."""
        raise NotImplementedError(f"{type(self).__name__} does not say which document its versions belong to")

    @property
    def is_draft(self) -> bool:
        """Only a draft changes."""
        return self.status == self.lifecycle.draft
