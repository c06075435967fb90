"""The signature manifestation in a document: printed name, meaning, time in the display zone and UTC, validity."""

from __future__ import annotations

from datetime import UTC, datetime

from lims.documents.signatures import signature_block
from lims.documents.times import Times
from lims.signatures.models import ElectronicSignature, SignatureMeaning
from lims.signatures.service import SignatureStatus
from tests.lims.documents.conftest import BERLIN, fonts_of, localtime_in, pages_of

SIGNED_AT = datetime(2030, 4, 10, 9, 30, 15, tzinfo=UTC)


def signature(name: str, meaning: SignatureMeaning) -> ElectronicSignature:
    return ElectronicSignature(printed_name=name, meaning=meaning, signed_at=SIGNED_AT)


def test_a_signature_block_shows_name_meaning_local_and_utc_time_and_validity(render):
    signed = [
        (signature("Quinn Okafor", SignatureMeaning.APPROVED), SignatureStatus.VALID),
        (signature("Tran <Nguyen>", SignatureMeaning.VERIFIED), SignatureStatus.INVALIDATED),
    ]
    pdf = render([signature_block(signed, BERLIN)])
    page = pages_of(pdf)[0]
    assert "Printed name Meaning Date and time Validity" in page
    assert "Quinn Okafor Approved 2030-04-10 11:30:15 CEST 2030-04-10T09:30:15Z Valid" in page
    assert (
        "Tran <Nguyen> Verified 2030-04-10 11:30:15 CEST 2030-04-10T09:30:15Z "
        "Invalidated: the record changed after this signature."
    ) in page
    warning = [fonts for drawn, fonts in fonts_of(pdf).items() if drawn.startswith("Invalidated:")]
    assert warning and all("Bold" in font for fonts in warning for font in fonts)


def test_a_broken_signature_is_said_not_to_be_valid_for_the_record(render):
    signed = [(signature("Quinn Okafor", SignatureMeaning.RELEASED), SignatureStatus.BROKEN)]
    page = pages_of(render([signature_block(signed, Times(localtime_in("UTC")))]))[0]
    assert (
        "Quinn Okafor Released 2030-04-10 09:30:15 UTC Not valid for this record: the signature does not match it."
    ) in page


def test_no_signature_is_stated_in_the_callers_words(render):
    assert "Not signed yet." in pages_of(render([signature_block([], BERLIN)]))[0]
    assert (
        "No disposition signed yet."
        in pages_of(render([signature_block([], BERLIN, unsigned="No disposition signed yet.")]))[0]
    )
