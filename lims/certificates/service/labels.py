"""Final-product bag labels: ISBT 128 data structures for a released batch's bag.

The bag keeps the donation identification number (DIN) of its starting material through processing, as ISBT 128
allows for cellular therapy products; a batch whose starting material follows the lab's own pattern gets no
ISBT 128 label. An autologous product's label says "For autologous use only" and names the subject it is for; an
allogeneic product is for other people, so its label names no subject: the DIN and the batch number carry its
chain of identity. The product code's type of collection must say the same as the batch's donor type.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from batch_records.models import Batch, DonorType
from lims import clock
from lims.audit import chain as audit_chain
from lims.certificates.errors import LabelRefused
from lims.certificates.service import batch_certificate, documents
from lims.identifiers import din_check_character, din_of, format_din, gtin_is_valid

#: ISBT 128 flag characters "00": no flag is used
NO_FLAGS = "00"

# The sixth character of a product code is its type of collection (ICCBBA ST-001 v6.2.2, Table 7, data structure
# 003, RT008) only for the product types of section 2.4.3 named below; for the others it is part of a division code
# (tissues, organs and the like) or is defined by the national or facility code (A to D), so it says nothing here.
# Clinical-trial codes (YA to YZ) already fail the product code's pattern.
_COLLECTION_TYPE_PRODUCTS = ("E", "F", "H", "S", "P", "X0")
#: Table 7's characters for a product meant for its donor's own use: "1" autologous use only, "X" the same with a
#: biohazard, "8" autologous use with allogeneic material in it. An autologous label, which prints "For autologous
#: use only", takes one of these or "0".
_AUTOLOGOUS_ONLY = frozenset("1X8")
#: Table 7's "A" is an autologous collection that may cross over to another recipient: it contradicts "For autologous
#: use only", and a product collected from its own patient is no allogeneic product, so neither label takes it.
_AUTOLOGOUS_CROSSOVER = "A"
#: Table 7's "0" is the null value (type of collection not specified): it claims neither donor type, so both take it.
_NOT_SPECIFIED = "0"


@dataclass(frozen=True)
class BagLabel:
    """What a final-product bag label carries."""

    din: str
    product_code: str
    product: str
    batch_number: str
    expires_at: datetime
    storage: str
    autologous: bool
    #: the subject an autologous product is for; None on an allogeneic product's label
    subject_code: str | None
    facility_name: str
    gtin: str | None = None

    @property
    def check_character(self) -> str:
        """The keyboard check character (ISO/IEC 7064 MOD 37-2), printed boxed after the DIN."""
        return din_check_character(self.din)

    @property
    def din_printed(self) -> str:
        return format_din(self.din)

    @property
    def din_data(self) -> str:
        """ISBT 128 data structure 001, Donation Identification Number: "=", the DIN, the flag characters."""
        return f"={self.din}{NO_FLAGS}"

    @property
    def product_data(self) -> str:
        """Data structure 003, Product Code: "=<" and the code's eight characters (product, type of collection,
        division)."""
        return f"=<{self.product_code}"

    @property
    def expiry_data(self) -> str:
        """Data structure 005, Expiration Date and Time: "&>" then cyyjjjhhmm in the facility's local time (c is
        the century, 0 for 2000–2099)."""
        local = self.expires_at.astimezone(clock.facility_zone())
        return f"&>{local.year - 2000:03d}{local.timetuple().tm_yday:03d}{local:%H%M}"

    @property
    def datamatrix_data(self) -> str:
        """The three data structures in one DataMatrix symbol, in the order they are printed."""
        return self.din_data + self.product_data + self.expiry_data


def bag_label(
    session: Session,
    batch: Batch,
    *,
    product_code: str,
    expires_at: datetime,
    storage: str,
    gtin: str | None = None,
) -> BagLabel:
    """The label of a released batch's bag; its printing is audited."""
    batch_certificate.release_signature(session, batch)
    din = din_of(batch.starting_material_identity)
    if din is None:
        raise LabelRefused(
            f"The starting material of batch {batch.batch_number} is {batch.starting_material_identity}, not an "
            "ISBT 128 donation identification number: its bag gets no ISBT 128 label."
        )
    if expires_at <= clock.now():
        raise LabelRefused(
            "The expiry must be after now: no label is printed for an expired product.", field="expires_at"
        )
    if gtin and not gtin_is_valid(gtin):
        raise LabelRefused(f"{gtin} is not a GTIN: its last digit is not its GS1 check digit.", field="gtin")
    autologous = batch.donor_type == DonorType.AUTOLOGOUS
    _check_type_of_collection(product_code, batch.batch_number, autologous=autologous)
    label = BagLabel(
        din=din,
        product_code=product_code,
        product=batch.product,
        batch_number=batch.batch_number,
        expires_at=expires_at,
        storage=storage,
        autologous=autologous,
        subject_code=batch.subject.code if autologous else None,
        facility_name=documents.facility(session).name,
        gtin=gtin or None,
    )
    audit_chain.record(
        session,
        "label.printed",
        entity=batch,
        details={"din": label.din_printed, "product_code": product_code, "expires_at": expires_at, "storage": storage},
    )
    return label


def _check_type_of_collection(product_code: str, batch_number: str, *, autologous: bool) -> None:
    """Refuse a product code whose type of collection (sixth character) contradicts the batch's donor type."""
    if not product_code.startswith(_COLLECTION_TYPE_PRODUCTS):
        return
    collection = product_code[5]
    if autologous and collection not in _AUTOLOGOUS_ONLY | {_NOT_SPECIFIED}:
        raise LabelRefused(
            f"Batch {batch_number} is autologous, for its own subject only, but product code {product_code} has "
            f"type of collection {collection} (its sixth character), which does not say for autologous use only. "
            "Use a code with 1 (for autologous use only), X (the same, biohazard) or 8 (autologous, contains "
            "allogeneic material).",
            field="product_code",
        )
    if not autologous and collection in _AUTOLOGOUS_ONLY | {_AUTOLOGOUS_CROSSOVER}:
        raise LabelRefused(
            f"Batch {batch_number} is allogeneic, made from a donor for other people, but product code "
            f"{product_code} has type of collection {collection} (its sixth character), an autologous collection. "
            "Use a code of an allogeneic collection, e.g. V for a volunteer donor.",
            field="product_code",
        )
