"""The results pages as the lab, QA and the client use them; the released results by API and CSV."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from lims.samples.models import SampleStatus, SampleTest
from lims.samples.service import results
from lims.testing.models import TestDefinition, TestResult
from tests.helpers import PASSWORD, login, submit
from tests.lims.samples.results_support import lab, received, released, through_testing  # noqa: F401  (fixture)


def _assigned(client, db_session, lab):  # noqa: F811
    sample = received(db_session, lab).samples[0]
    login(client, lab.analyst)
    page = f"/samples/{sample.public_id}/tests"
    assert submit(client, page, {}, action=f"{page}/requested").status_code == 303
    db_session.expire_all()
    tests = results.tests_of(db_session, [sample])[sample.id]
    return sample, page, {test.definition.code: test for test in tests}


def test_a_technician_assigns_the_requested_tests_and_enters_a_result(client, db_session, lab):  # noqa: F811
    sample, page, tests = _assigned(client, db_session, lab)
    sterility = tests["STER"]
    response = submit(
        client, page, {f"test-{sterility.id}-result": "growth"}, action=f"/sample-tests/{sterility.id}/result"
    )
    assert response.status_code == 303
    shown = client.get(page).text
    assert "growth — out of specification" in shown and "Not signed yet" in shown
    assert "Verify (second person)" not in shown  # not offered to whoever recorded it
    db_session.expire_all()
    assert db_session.get(type(sample), sample.id).status == SampleStatus.IN_TESTING


def test_hostile_results_are_refused_with_a_message_and_change_nothing(client, db_session, lab):  # noqa: F811
    results_before = db_session.scalar(select(func.count()).select_from(TestResult))
    _, page, _ = _assigned(client, db_session, lab)
    extra = submit(client, page, {"definition_id": "99999999999999999999"}, action=page)
    assert extra.status_code == 422 and "Choose the test to assign" in extra.text
    percent = db_session.scalar(select(TestDefinition).where(TestDefinition.code == "VPCT"))
    assert submit(client, page, {"definition_id": str(percent.id)}, action=page).status_code == 303
    db_session.expire_all()
    test = db_session.scalar(select(SampleTest).where(SampleTest.definition_id == percent.id))
    action = f"/sample-tests/{test.id}/result"
    for hostile in ("1e999999 %", "9" * 400 + " %", "75 mL", "seventy"):
        response = submit(client, page, {f"test-{test.id}-result": hostile}, action=action)
        assert response.status_code == 422, (hostile, response.status_code)
        assert f'id="test-{test.id}-result-error"' in response.text
    nul = submit(client, page, {f"test-{test.id}-result": "75\x00 %"}, action=action)
    assert nul.status_code == 422
    assert db_session.scalar(select(func.count()).select_from(TestResult)) == results_before


def test_a_second_technician_verifies_on_the_signing_page(client, app, db_session, lab):  # noqa: F811
    _, page, tests = _assigned(client, db_session, lab)
    viability = tests["VIAB"]
    submit(client, page, {f"test-{viability.id}-result": "conforms"}, action=f"/sample-tests/{viability.id}/result")
    db_session.expire_all()
    result_id = db_session.get(SampleTest, viability.id).result_id
    refused = client.get(f"/sign/test_result/{result_id}/verified")
    assert refused.status_code == 403 and "different person" in refused.text
    verifier = app.test_client()
    login(verifier, lab.verifier)
    assert "Verify (second person)" in verifier.get(page).text
    signed = submit(verifier, f"/sign/test_result/{result_id}/verified", {"password": PASSWORD, "next": page})
    assert signed.status_code == 303
    assert "Verified" in verifier.get(page).text


def test_a_correction_without_a_reason_is_refused_beside_its_field(client, db_session, lab):  # noqa: F811
    _, page, tests = _assigned(client, db_session, lab)
    test = tests["VIAB"]
    submit(client, page, {f"test-{test.id}-result": "conforms"}, action=f"/sample-tests/{test.id}/result")
    action = f"/sample-tests/{test.id}/correct"
    refused = submit(client, page, {f"correct-{test.id}-result": "absent"}, action=action)
    assert refused.status_code == 422 and f'id="correct-{test.id}-reason-error"' in refused.text
    corrected = submit(
        client,
        page,
        {f"correct-{test.id}-result": "absent", f"correct-{test.id}-reason": "Read the wrong plate"},
        action=action,
    )
    assert corrected.status_code == 303
    shown = client.get(page).text
    assert "<s>conforms</s>" in shown and "Read the wrong plate" in shown


def test_qa_sees_the_out_of_specification_result_and_releases_with_a_signature(app, client, db_session, lab):  # noqa: F811
    submission = received(db_session, lab)
    through_testing(db_session, lab, submission.samples[0], {"VIAB": "conforms", "STER": "growth"})
    technician = app.test_client()
    login(technician, lab.analyst)
    page = f"/submissions/{submission.public_id}/release"
    assert technician.get(page).status_code == 403
    login(client, lab.qa)
    assert "Sample results out of specification" in client.get("/").text
    queue = client.get("/results/out-of-specification").text
    assert submission.samples[0].accession_number in queue and "growth" in queue
    wrong = submit(client, page, {"password": "not my password"}, action=page)
    assert wrong.status_code in (401, 403, 422) and "Sign and release" in wrong.text
    assert submit(client, page, {"password": PASSWORD}, action=page).status_code == 303
    shown = client.get(page).text
    assert "Released" in shown and lab.qa.full_name in shown
    assert submission.samples[0].accession_number not in client.get("/results/out-of-specification").text


def test_the_client_reads_released_results_only(client, db_session, lab):  # noqa: F811
    waiting = received(db_session, lab, "W-1")
    through_testing(db_session, lab, waiting.samples[0], {"VIAB": "conforms", "STER": "conforms"})
    done = released(db_session, lab, {"VIAB": '=HYPERLINK("http://evil")', "STER": "conforms"})
    tokens = lab.clients.helix_token
    unreleased = client.get(f"/api/v1/submissions/{waiting.public_id}/results", headers=tokens).json
    assert unreleased["items"] == [] and unreleased["released_at"] is None
    body = client.get(f"/api/v1/submissions/{done.public_id}/results", headers=tokens).json
    assert [(item["test_code"], item["conforms"]) for item in body["items"]] == [("STER", True), ("VIAB", False)]
    login(client, lab.clients.helix_user)
    assert "No results are released" in client.get(f"/submissions/{waiting.public_id}/results").text
    page = client.get(f"/submissions/{done.public_id}/results").text
    assert "Does not conform" in page and "Signed results report (PDF)" in page
    rows = list(csv.reader(io.StringIO(client.get(f"/submissions/{done.public_id}/results.csv").text)))
    assert rows[0][:3] == ["client_sample_id", "accession_number", "sample_type"]
    assert rows[2][7] == '\'=HYPERLINK("http://evil")' and rows[2][9] == "does not conform"
    report = client.get(f"/submissions/{done.public_id}/report.pdf")
    assert report.status_code == 200 and report.data.startswith(b"%PDF")
    by_api = client.get(f"/api/v1/submissions/{done.public_id}/report", headers=tokens)
    assert by_api.data == report.data
    assert client.get(f"/api/v1/submissions/{waiting.public_id}/report", headers=tokens).status_code == 409
