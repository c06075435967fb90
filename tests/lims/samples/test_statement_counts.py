"""The samples area's record pages send as many SQL statements for a big record as for a small one: a sample with
one test, one aliquot and a short chain of custody or with several of each, corrected results among them; a
submission of 2 samples or 20 as the client and the lab read and receive it; the results of 2 samples or of 6 and
two aliquots as QA reviews and releases them and the client reads them; a client's portal and a subject's calendar
with one sample or many. Each page is fetched once before it is counted, so that what only a first request loads
does not count against one size; each count comes with what the user sees growing, so that an empty page cannot
pass."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import clock
from lims.identity.models import User
from lims.samples.models import Sample, SampleTest, Submission
from lims.samples.service import accessioning, aliquots, custody, release, results, storage
from lims.samples.storage_models import CustodyAction
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.testing.models import TestDefinition
from lims.units.parsing import parse_measurement
from protocols.service import subjects as subjects_service
from tests.helpers import PASSWORD, counted_statements, login
from tests.lims.samples.conftest import accept, row, submitted
from tests.lims.samples.results_support import Lab, lab, received, through_testing  # noqa: F401  (fixture)
from tests.lims.samples.storage_support import ColdRoom
from tests.lims.samples.storage_support import received as received_serum


def _signed_in(app: Flask, user: User) -> FlaskClient:
    browser = app.test_client()
    assert login(browser, user).status_code == 302
    return browser


def _cost(browser: FlaskClient, db_session: Session, url: str) -> tuple[int, str]:
    """The statements the page at ``url`` sends once warmed up, and the page as shown."""
    assert browser.get(url).status_code == 200, url
    with counted_statements(db_session.get_bind()) as traffic:
        page = browser.get(url)
    assert page.status_code == 200, url
    return len(traffic.statements), page.text


def _costs(browser: FlaskClient, db_session: Session, *urls: str) -> tuple[list[int], list[str]]:
    found = [_cost(browser, db_session, url) for url in urls]
    return [count for count, _ in found], [text for _, text in found]


def _table(page: str, heading: str) -> str:
    """The first table after ``heading`` on the page."""
    return page.split(heading, 1)[1].split("</table>", 1)[0]


# A sample's own pages: the sample, its tests and results, its chain of custody


def _assign(db_session: Session, lab: Lab, sample: Sample, *codes: str) -> list[SampleTest]:  # noqa: F811
    definitions = db_session.scalars(
        select(TestDefinition).where(TestDefinition.code.in_(codes)).order_by(TestDefinition.code)
    ).all()
    return results.assign_tests(db_session, sample, definitions, user=lab.analyst, requested=False)


def _result(db_session: Session, test: SampleTest, *reported: str, by: User, verifier: User) -> None:
    """The first of ``reported`` recorded, each later one correcting the one before, the last verified."""
    result = results.record_result(db_session, test, reported[0], user=by)
    for corrected in reported[1:]:
        result = results.correct_result(db_session, test, corrected, reason="Transcription error", user=by)
    signatures.sign(db_session, result, meaning=SignatureMeaning.VERIFIED, user=verifier, password=PASSWORD)


def _split(db_session: Session, sample: Sample, user: User, *volumes: str) -> None:
    aliquots.split(db_session, sample, [parse_measurement(volume) for volume in volumes], user=user)


def test_a_samples_pages_cost_the_same_with_one_test_aliquot_and_move_or_many(
    app,
    db_session,
    lab,  # noqa: F811
    cold_room: ColdRoom,
):
    (sample,) = received_serum(db_session, lab.clients)
    (viability,) = _assign(db_session, lab, sample, "VIAB")
    _result(db_session, viability, "conforms", by=lab.analyst, verifier=lab.verifier)
    _split(db_session, sample, lab.analyst, "0.2 mL")
    db_session.commit()
    technician = _signed_in(app, lab.analyst)
    helix = _signed_in(app, lab.clients.helix_user)
    own = f"/samples/{sample.public_id}"
    chain = f"{own}/custody"

    small, pages = _costs(technician, db_session, own, f"{own}/tests", chain)
    small_client, client_pages = _costs(helix, db_session, own, chain)
    for page in (pages[0], client_pages[0]):
        assert _table(page, "<h2>Lineage</h2>").count("<tr><td>") == 1
    assert pages[1].count('<tr id="test-') == 1 and "Replaced results" not in pages[1]
    for page in (pages[2], client_pages[1]):
        assert _table(page, "<h2>Timeline</h2>").count("<tr><td>") == 2

    sterility, viable_cells = _assign(db_session, lab, sample, "STER", "VPCT")
    # Others than the technician reading the page record them, so that who recorded each is something to load.
    _result(db_session, sterility, "growth", "conforms", by=lab.verifier, verifier=lab.analyst)
    _result(db_session, viable_cells, "65 %", "68 %", "75 %", by=lab.qa, verifier=lab.verifier)
    technician_user, manager = lab.analyst, cold_room.manager
    storage.store(db_session, sample, cold_room.box, (1, 1), user=technician_user)
    storage.store(db_session, sample, cold_room.box, (1, 2), user=manager, move=True)
    custody.take_action(db_session, sample, CustodyAction.SENT_FOR_TESTING, user=lab.verifier)
    custody.take_action(db_session, sample, CustodyAction.RETURNED, user=manager)
    storage.store(db_session, sample, cold_room.big_box, (2, 1), user=technician_user)
    _split(db_session, sample, manager, "0.1 mL", "0.1 mL", "100 µL")
    db_session.commit()

    many, pages = _costs(technician, db_session, own, f"{own}/tests", chain)
    many_client, client_pages = _costs(helix, db_session, own, chain)
    for page in (pages[0], client_pages[0]):
        assert _table(page, "<h2>Lineage</h2>").count("<tr><td>") == 4
    assert pages[1].count('<tr id="test-') == 3
    assert "Replaced results (1)" in pages[1] and "Replaced results (2)" in pages[1]
    for page in (pages[2], client_pages[1]):
        assert _table(page, "<h2>Timeline</h2>").count("<tr><td>") == 8
    assert many == small and many_client == small_client


# A submission: its page, its receipt, QA's review and release of its results, the client's released results


def _half_received(db_session: Session, lab: Lab, prefix: str, size: int) -> Submission:  # noqa: F811
    """A Helix submission of ``size`` samples, the first half received by two people in turn."""
    submission = submitted(db_session, lab.clients, *(row(f"{prefix}-{n}") for n in range(size)), reference=prefix)
    for n, sample in enumerate(submission.samples[: size // 2]):
        accessioning.receive_sample(db_session, sample, accept(), user=(lab.analyst, lab.verifier)[n % 2])
    db_session.commit()
    return submission


def test_a_submissions_pages_cost_the_same_for_2_samples_or_20(app, db_session, lab):  # noqa: F811
    two, twenty = _half_received(db_session, lab, "TWO", 2), _half_received(db_session, lab, "TWENTY", 20)
    helix = _signed_in(app, lab.clients.helix_user)
    technician = _signed_in(app, lab.analyst)
    counted = {}
    for submission, size in ((two, 2), (twenty, 20)):
        own = f"/submissions/{submission.public_id}"
        counts, (client_page,) = _costs(helix, db_session, own)
        staff_counts, (staff_page, receiving) = _costs(
            technician, db_session, own, f"/receiving/{submission.public_id}"
        )
        counted[size] = counts + staff_counts
        for page in (client_page, staff_page):
            assert page.count("data-accession-of=") == size
            assert page.count(">received</span>") == size // 2 and page.count(">expected</span>") == size // 2
        assert receiving.count('<section class="receipt"') == size
        assert receiving.count('<button type="submit">Receive ') == size // 2
    assert counted[20] == counted[2]


def _in_testing(db_session: Session, lab: Lab, prefix: str, size: int) -> Submission:  # noqa: F811
    """A Helix submission of ``size`` samples, each tested for viability and sterility and verified."""
    submission = received(db_session, lab, *(f"{prefix}-{n}" for n in range(size)))
    for sample in submission.samples:
        through_testing(db_session, lab, sample, {"VIAB": "conforms", "STER": "conforms"})
    return submission


def test_reviewing_releasing_and_reading_results_cost_the_same_for_2_samples_or_6_and_aliquots(
    app,
    db_session,
    lab,  # noqa: F811
):
    sizes = {2: _in_testing(db_session, lab, "TWO", 2), 6: _in_testing(db_session, lab, "SIX", 6)}
    # The bigger one's first sample is also split into two aliquots, each tested: their results go under it.
    split_from = sizes[6].samples[0]
    _split(db_session, split_from, lab.analyst, "1 mL", "1 mL")
    for aliquot in aliquots.children_of(db_session, split_from):
        (viability,) = _assign(db_session, lab, aliquot.child, "VIAB")
        _result(db_session, viability, "conforms", by=lab.analyst, verifier=lab.verifier)
    db_session.commit()
    results_shown = {2: 4, 6: 14}
    qa = _signed_in(app, lab.qa)
    helix = _signed_in(app, lab.clients.helix_user)
    before, after, read = {}, {}, {}
    for size, submission in sizes.items():
        before[size], (review,) = _costs(qa, db_session, f"/submissions/{submission.public_id}/release")
        assert review.count('<span class="signature-meaning">Verified</span>') == results_shown[size]
        assert "Sign and release" in review
    for size, submission in sizes.items():
        release.release_results(db_session, submission, user=lab.qa, password=PASSWORD)
        db_session.commit()
        after[size], (released,) = _costs(qa, db_session, f"/submissions/{submission.public_id}/release")
        assert released.count('<span class="signature-meaning">Verified</span>') == results_shown[size]
        assert released.count('<span class="signature-meaning">Released</span>') == 1
        read[size], (shown,) = _costs(helix, db_session, f"/submissions/{submission.public_id}/results")
        assert shown.count("Conforms</td>") == results_shown[size]
        assert shown.count(f"aliquot of {split_from.accession_number}") == (2 if size == 6 else 0)
    assert before[6] == before[2] and after[6] == after[2] and read[6] == read[2]


# The client's portal and a subject's calendar in it


def _released(db_session: Session, lab: Lab, client_sample_id: str) -> None:  # noqa: F811
    """A one-sample Helix submission tested and released, which issues its results report (a certificate)."""
    submission = received(db_session, lab, client_sample_id)
    through_testing(db_session, lab, submission.samples[0], {"VIAB": "conforms", "STER": "conforms"})
    release.release_results(db_session, submission, user=lab.qa, password=PASSWORD)
    db_session.commit()


def test_the_portal_and_a_subjects_calendar_cost_the_same_with_one_of_everything_or_many(
    app,
    db_session,
    lab,  # noqa: F811
    cold_room: ColdRoom,
):
    clients = lab.clients
    _released(db_session, lab, "FIRST")
    helix = _signed_in(app, clients.helix_user)
    calendar = f"/portal/subjects/{clients.subject.id}"
    small, (portal, subject) = _costs(helix, db_session, "/portal", calendar)
    assert _table(portal, "Your latest samples").count("data-custody-of=") == 1
    assert _table(portal, "samples expected and received").count("/portal/subjects/") == 1
    assert _table(portal, "Your certificates").count("<tr><td>") == 1
    assert "1 of 1" in subject and subject.count("collected late, outside the window") == 1

    _released(db_session, lab, "SECOND")
    protocol, arm = clients.subject.protocol, clients.subject.arm
    for code in ("HLX301-014-0008", "HLX301-014-0009"):
        subjects_service.enrol_subject(
            db_session,
            protocol,
            code=code,
            site="DE-01",
            arm=arm,
            enrolled_on=clock.today() - timedelta(days=10),
            consent_version="2.0",
        )
    for week in (50, 51):
        more = submitted(db_session, clients, *(row(f"W{week}-{n}") for n in range(4)), reference=f"Week {week}")
        for sample in more.samples[:3]:
            accessioning.receive_sample(db_session, sample, accept(), user=lab.analyst)
    stored = received_serum(db_session, clients, "SERUM-1", "SERUM-2")
    for column, sample in enumerate(stored, start=1):
        storage.store(db_session, sample, cold_room.box, (1, column), user=cold_room.manager)
    db_session.commit()

    many, (portal, subject) = _costs(helix, db_session, "/portal", calendar)
    latest = _table(portal, "Your latest samples")
    assert latest.count("data-custody-of=") == 10 and latest.count(": Freezer F-01 / Rack A / Box 1 / A") == 2
    assert _table(portal, "samples expected and received").count("/portal/subjects/") == 3
    assert _table(portal, "Your certificates").count("<tr><td>") == 2
    assert "8 of 1" in subject and subject.count("collected late, outside the window") == 10
    assert many == small
