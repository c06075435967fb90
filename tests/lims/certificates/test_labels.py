"""Final-product bag labels: the ISBT 128 DIN with its check character against the reference cases, GS1 check
digits, and the label PDF of a released batch."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lims.audit.models import AuditEvent
from lims.certificates.labels import DataMatrix
from lims.certificates.service.labels import BagLabel
from lims.identifiers import gtin_check_digit, gtin_is_valid
from lims.identity.models import RoleName
from tests.helpers import csrf_token_from, login
from tests.lims.certificates.conftest import pdf_text

REFERENCE = Path(__file__).resolve().parents[4] / "shared" / "reference-data" / "isbt128"


def reference_rows(name: str) -> list[dict[str, str]]:
    path = REFERENCE / name
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared reference data is not beside the repository")
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def label_for(din: str) -> BagLabel:
    return BagLabel(
        din=din,
        product_code="S1234100",  # ISBT 128 type of collection (sixth character) "1": for autologous use only
        product="HLX-19 autologous anti-CD19 CAR-T",
        batch_number="CART-HLX19-260002",
        expires_at=datetime(2030, 4, 12, 23, 59, tzinfo=UTC),
        storage="at or below -150 °C",
        autologous=True,
        subject_code="HLX301-0001",
        facility_name="Northbridge Cell Therapy Facility",
    )


def test_every_isbt_128_reference_din_gets_its_check_character_on_the_label():
    rows = reference_rows("din_check_characters.csv")
    assert rows
    for row in rows:
        label = label_for(row["din_without_flag"])
        assert label.check_character == row["check_char"], row["source"]
        assert label.din_data == f"={row['din_without_flag']}00"
        assert label.din_printed.endswith(f" {row['check_char']}")


def test_every_gs1_reference_gtin_gets_its_check_digit_and_a_wrong_one_is_refused():
    rows = reference_rows("gs1_gtin_check_digits.csv")
    assert rows
    for row in rows:
        assert gtin_check_digit(row["gtin_without_check"]) == row["check_digit"], row["source"]
        assert gtin_is_valid(row["gtin_without_check"] + row["check_digit"])
    assert not gtin_is_valid("7501031311308")


def test_the_isbt_128_data_structures_of_a_label():
    label = label_for("G123417654321")
    assert label.product_data == "=<S1234100"
    assert label.expiry_data == "&>0301022359"  # 2030, day 102, 23:59
    assert label.datamatrix_data == "=G12341765432100=<S1234100&>0301022359"


def test_qa_prints_the_bag_label_of_a_released_batch(client, db_session, line, released):
    db_session.commit()
    login(client, line.qa)
    form = client.get(f"/batches/{released.id}/label")
    assert form.status_code == 200
    assert "e.g. S1234100" in form.text and "S1234V00" not in form.text
    printed = client.post(
        f"/batches/{released.id}/label",
        data={
            "csrf_token": csrf_token_from(form.text),
            "product_code": "S1234100",
            "expires_at": "2030-04-20T12:00",
            "storage": "at or below -150 °C, vapour phase of liquid nitrogen",
            "gtin": "6291041500213",
        },
    )
    assert printed.status_code == 200 and printed.mimetype == "application/pdf"
    text = pdf_text(printed.data)
    for expected in ("W1234 26 123456", "Product code S1234100", "FOR AUTOLOGOUS USE ONLY", released.subject.code):
        assert expected in text, expected
    assert "7" in text and "Expires 2030-04-20 12:00" in text and "(01) 6291041500213" in text


def test_an_allogeneic_products_label_is_not_for_autologous_use_and_names_no_subject(
    client, db_session, allogeneic_line, released_allogeneic
):
    db_session.commit()
    login(client, allogeneic_line.qa)
    form = client.get(f"/batches/{released_allogeneic.id}/label")
    assert "e.g. S1234V00" in form.text and "S1234100" not in form.text
    assert "autologous use only" not in form.text and released_allogeneic.subject.code not in form.text
    printed = client.post(
        f"/batches/{released_allogeneic.id}/label",
        data={
            "csrf_token": csrf_token_from(form.text),
            # ISBT 128 type of collection "V": volunteer allogeneic
            "product_code": "S1234V00",
            "expires_at": "2030-04-20T12:00",
            "storage": "at or below -150 °C",
        },
    )
    assert printed.status_code == 200 and printed.mimetype == "application/pdf"
    text = pdf_text(printed.data)
    for expected in ("W1234 26 123456", "Product code S1234V00", "HLX-40 allogeneic anti-CD19 CAR-NK"):
        assert expected in text, expected
    assert f"Batch {released_allogeneic.batch_number}" in text
    assert "AUTOLOGOUS" not in text and "Subject" not in text and released_allogeneic.subject.code not in text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("product_code", "12345678", "An ISBT 128 product code is eight characters"),
        ("expires_at", "2020-01-01T00:00", "The expiry must be after now"),
        ("gtin", "7501031311308", "is not a GTIN"),
    ],
)
def test_a_wrong_label_input_is_refused_with_a_message(client, db_session, line, released, field, value, message):
    db_session.commit()
    login(client, line.qa)
    form = client.get(f"/batches/{released.id}/label")
    data = {"product_code": "S1234100", "expires_at": "2030-04-20T12:00", "storage": "-150 °C", field: value}
    refused = client.post(f"/batches/{released.id}/label", data={"csrf_token": csrf_token_from(form.text), **data})
    assert refused.status_code == 422 and message in refused.text


#: the batch fixture and the line whose QA prints its label
AUTOLOGOUS = ("released", "line")
ALLOGENEIC = ("released_allogeneic", "allogeneic_line")


def label_page(client, request, which):
    """The QA of the line signed in, the released batch and its label form."""
    batch_fixture, line_fixture = which
    batch = request.getfixturevalue(batch_fixture)
    request.getfixturevalue("db_session").commit()
    login(client, request.getfixturevalue(line_fixture).qa)
    return batch, client.get(f"/batches/{batch.id}/label")


def print_label(client, batch, form, product_code):
    return client.post(
        f"/batches/{batch.id}/label",
        data={
            "csrf_token": csrf_token_from(form.text),
            "product_code": product_code,
            "expires_at": "2030-04-20T12:00",
            "storage": "-150 °C",
        },
    )


# The sixth character of an ISBT 128 cellular therapy product code is its type of collection (ICCBBA ST-001, Table 7).
@pytest.mark.parametrize(
    ("which", "product_code", "refusal"),
    [
        (
            AUTOLOGOUS,
            "S1234V00",
            "is autologous, for its own subject only, but product code S1234V00 has type of "
            "collection V (its sixth character), which does not say for autologous use only",
        ),
        # autologous, eligible for crossover: the product may go to someone else
        (AUTOLOGOUS, "S1234A00", "but product code S1234A00 has type of collection A"),
        (AUTOLOGOUS, "S1234D00", "but product code S1234D00 has type of collection D"),
        (
            ALLOGENEIC,
            "S1234100",
            "is allogeneic, made from a donor for other people, but product code S1234100 has "
            "type of collection 1 (its sixth character), an autologous collection",
        ),
        (ALLOGENEIC, "S1234X00", "but product code S1234X00 has type of collection X"),
        (ALLOGENEIC, "S1234800", "but product code S1234800 has type of collection 8"),
        (ALLOGENEIC, "S1234A00", "but product code S1234A00 has type of collection A"),
    ],
)
def test_a_product_code_whose_type_of_collection_contradicts_the_donor_type_is_refused_and_nothing_printed(
    client, db_session, request, which, product_code, refusal
):
    batch, form = label_page(client, request, which)
    events = db_session.scalar(select(func.count()).select_from(AuditEvent))
    refused = print_label(client, batch, form, product_code)
    assert refused.status_code == 422 and refused.mimetype == "text/html"
    assert refusal in refused.text and f'value="{product_code}"' in refused.text
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)) == events


@pytest.mark.parametrize(
    ("which", "product_code"),
    [
        (AUTOLOGOUS, "S1234X00"),  # for autologous use only, biohazard
        (AUTOLOGOUS, "S1234800"),  # for autologous use, contains allogeneic material
        (AUTOLOGOUS, "S1234000"),  # not specified: the label's marking says autologous use only
        (ALLOGENEIC, "S1234000"),
        (ALLOGENEIC, "S1234P00"),  # paid allogeneic donor
        # a facility's own code: its sixth character means what the facility's code assignment says
        (ALLOGENEIC, "D1234100"),
    ],
)
def test_a_product_code_whose_type_of_collection_fits_the_donor_type_is_printed(
    client, db_session, request, which, product_code
):
    batch, form = label_page(client, request, which)
    printed = print_label(client, batch, form, product_code)
    assert printed.status_code == 200 and printed.mimetype == "application/pdf"
    assert f"Product code {product_code}" in pdf_text(printed.data)
    assert db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "label.printed", AuditEvent.entity_id == str(batch.id))
    ).one()


def test_an_unreleased_batch_gets_no_label_and_a_technician_none_at_all(client, db_session, line, batch, signed_in):
    db_session.commit()
    login(client, line.qa)
    form = client.get(f"/batches/{batch.id}/label")
    refused = client.post(
        f"/batches/{batch.id}/label",
        data={
            "csrf_token": csrf_token_from(form.text),
            "product_code": "S1234100",
            "expires_at": "2030-04-20T12:00",
            "storage": "-150 °C",
        },
    )
    assert refused.status_code == 409 and "is not released" in refused.text
    client.post("/logout", data={"csrf_token": csrf_token_from(form.text)})
    signed_in(RoleName.TECHNICIAN)
    assert client.get(f"/batches/{batch.id}/label").status_code == 403


def read_c40(codewords: list[int]) -> str:
    """What a DataMatrix reader makes of the data codewords: C40 triplets after the latch (230) up to the unlatch
    (254), then ASCII up to the first pad (129), as ISO/IEC 16022 decodes them."""
    text, position = [], 0
    if codewords[0] == 230:
        values: list[int] = []
        position = 1
        while codewords[position] != 254:
            packed = codewords[position] * 256 + codewords[position + 1] - 1
            values += [packed // 1600, packed // 40 % 40, packed % 40]
            position += 2
        position += 1
        shift = None
        for value in values:
            if shift == 1:
                text.append(chr(value))
            elif shift == 2:
                text.append(chr(value + (33 if value <= 14 else 43 if value <= 21 else 69)))
            elif shift == 3:
                text.append(chr(value + 96))
            elif value <= 2:
                shift = value + 1
                continue
            else:
                text.append(" " if value == 3 else chr(value + 44) if value <= 13 else chr(value + 51))
            shift = None
    while codewords[position] != 129:
        text.append(chr(codewords[position] - 1))
        position += 1
    return "".join(text)


@pytest.mark.parametrize(
    "value",
    [
        label_for("G123417654321").datamatrix_data,
        label_for("A999917345628").datamatrix_data,
        "=<&>:;?@[\\]^_!/",
        "A",
        "AB",
        "ABCD=",
    ],
)
def test_the_datamatrix_symbol_reads_back_as_the_data_structures(value):
    assert read_c40(DataMatrix(value=value)._encode_c40(value)) == value
