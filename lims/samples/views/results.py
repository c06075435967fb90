"""Results: the lab assigns tests to a sample and enters, verifies and corrects their results; QA works through
the out-of-specification results and releases a submission's results with a signature; the client reads the
released results as a table and a CSV file."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from lims.access import STAFF, allow
from lims.csv_export import csv_lines
from lims.db import STORABLE_IDS, get_session
from lims.equipment.service import use as equipment_use
from lims.identity.models import RoleName
from lims.samples import documents
from lims.samples import result_schemas as schemas
from lims.samples.models import SampleTest
from lims.samples.service import release, results
from lims.samples.service import submissions as submissions_service
from lims.samples.views import CLIENT, blueprint, organization_scope
from lims.signatures import service as signatures
from lims.testing import service as testing
from lims.web import RepeatedForm, load_input, on_refusal_show

TESTERS = frozenset({RoleName.TECHNICIAN, RoleName.MANAGER, RoleName.QA})
REVIEWERS = frozenset({RoleName.QA, RoleName.MANAGER})
READERS = STAFF | {CLIENT}
QUEUE_PAGE = 25


# A sample's tests and results (the lab)


def tests_context(public_id: str) -> dict[str, Any]:
    db = get_session()
    sample = submissions_service.get_sample(db, public_id, organization_id=None)
    tests = results.tests_of(db, [sample])[sample.id]
    verifications = results.verifications_of(db, tests)
    in_force = [test.result for test in tests if test.result is not None]
    assigned = {test.definition_id for test in tests}
    return {
        "sample": sample,
        "tests": tests,
        "history": results.history_of(db, tests),
        "verifications": verifications,
        "verifiable": testing.verifiable_results(db, in_force, current_user, verifications),
        "testable": results.is_testable(sample),
        "definition_options": [
            (definition.id, f"{definition.code} — {definition.name} ({definition.specification})")
            for definition in testing.list_definitions(db)
            if definition.id not in assigned
        ],
        "requested_missing": [
            code for code in sample.requested_test_codes if code not in {test.definition.code for test in tests}
        ],
        **_instrument_choices(db, {test.definition.instrument_type for test in tests} - {None}),
    }


def _instrument_choices(db: Any, kinds: set[Any]) -> dict[str, Any]:
    """Per instrument type the tests name (a few at most): the usable items to choose from."""
    due_soon_days = current_app.config["CALIBRATION_DUE_SOON_DAYS"]
    return {
        "instrument_options": {
            kind: [
                (item.id, f"{item.asset_tag} — {item.name}")
                for item, _status in equipment_use.usable_items(db, kind, due_soon_days=due_soon_days).items
            ]
            for kind in kinds
        }
    }


def _show_tests(public_id: str, **extra: Any) -> Any:
    return on_refusal_show("samples/tests.html", lambda: tests_context(public_id), **extra)


def _back_to_tests(public_id: str) -> Any:
    return redirect(url_for("samples.tests", public_id=public_id, _anchor="tests"), 303)


@blueprint.route("/samples/<public_id>/tests")
@allow(STAFF)
def tests(public_id: str) -> Any:
    return render_template("samples/tests.html", errors={}, form=MultiDict(), **tests_context(public_id))


@blueprint.route("/samples/<public_id>/tests", methods=["POST"])
@allow(TESTERS)
def assign_test(public_id: str) -> Any:
    db = get_session()
    sample = submissions_service.get_sample(db, public_id, organization_id=None)
    with _show_tests(public_id):
        data = load_input(schemas.AssignTestSchema())
        test = results.assign_test(db, sample, data["definition_id"], user=current_user)
    flash(f"{test.definition.name} is assigned to {sample.accession_number}.", "success")
    return _back_to_tests(public_id)


@blueprint.route("/samples/<public_id>/tests/requested", methods=["POST"])
@allow(TESTERS)
def assign_requested_tests(public_id: str) -> Any:
    db = get_session()
    sample = submissions_service.get_sample(db, public_id, organization_id=None)
    with _show_tests(public_id):
        assigned = results.assign_requested_tests(db, sample, user=current_user)
    flash(f"Assigned as the manifest asks: {', '.join(test.definition.code for test in assigned)}.", "success")
    return _back_to_tests(public_id)


def _test(test_id: int) -> SampleTest:
    return results.get_test(get_session(), test_id)


@blueprint.route("/sample-tests/<int:test_id>/result", methods=["POST"])
@allow(TESTERS)
def record_result(test_id: int) -> Any:
    db = get_session()
    test = _test(test_id)
    public_id = test.sample.public_id
    form = RepeatedForm(f"test-{test_id}-", schemas.SampleResultSchema)
    with _show_tests(public_id, repeated=form):
        data = form.load()
        result = results.record_result(db, test, data["result"], user=current_user, instrument_id=data["instrument_id"])
    if result.conforms:
        flash(f"{test.definition.name}: {result.reported} recorded; a second person verifies it.", "success")
    else:
        flash(f"{test.definition.name}: {result.reported} is out of specification; it is on QA's queue.", "warning")
    return _back_to_tests(public_id)


@blueprint.route("/sample-tests/<int:test_id>/correct", methods=["POST"])
@allow(TESTERS)
def correct_result(test_id: int) -> Any:
    db = get_session()
    test = _test(test_id)
    public_id = test.sample.public_id
    form = RepeatedForm(f"correct-{test_id}-", schemas.SampleResultCorrectionSchema)
    with _show_tests(public_id, repeated=form):
        data = form.load()
        results.correct_result(db, test, data["result"], reason=data["reason"], user=current_user)
    flash(f"{test.definition.name} corrected; the original result stays on the record.", "success")
    return _back_to_tests(public_id)


# QA: the out-of-specification queue and the release


def _after_id() -> tuple[int] | None:
    """The keyset cursor of the queue (``?after=<id>``); a malformed or impossible one starts from the top."""
    text = request.args.get("after", "")
    return (int(text),) if text.isdigit() and len(text) <= 10 and int(text) in STORABLE_IDS else None


@blueprint.route("/results/out-of-specification")
@allow(REVIEWERS)
def out_of_specification() -> Any:
    after = _after_id()
    page = results.out_of_specification_after(get_session(), after=after, limit=QUEUE_PAGE)
    return render_template(
        "samples/out_of_specification.html",
        page=page,
        next_after=None if page.next_key is None else str(page.next_key[0]),
        first_page=after is None,
    )


def release_context(public_id: str) -> dict[str, Any]:
    db = get_session()
    submission = submissions_service.get_submission(db, public_id, organization_id=None)
    found = release.review(db, submission)
    return {
        "review": found,
        "release_signatures": signatures.signatures_of(db, found.release) if found.release is not None else [],
    }


@blueprint.route("/submissions/<public_id>/release")
@allow(REVIEWERS)
def release_review(public_id: str) -> Any:
    return render_template("samples/release.html", errors={}, form=MultiDict(), **release_context(public_id))


@blueprint.route("/submissions/<public_id>/release", methods=["POST"])
@allow(RoleName.QA)
def release_results(public_id: str) -> Any:
    db = get_session()
    submission = submissions_service.get_submission(db, public_id, organization_id=None)
    with on_refusal_show("samples/release.html", lambda: release_context(public_id)):
        data = load_input(schemas.ReleaseSchema())
        release.release_results(
            db, submission, user=current_user, password=data["password"], client_address=request.remote_addr
        )
    flash(f"The results of {submission.reference} are released to {submission.organization.name}.", "success")
    return redirect(url_for("samples.release_review", public_id=public_id), 303)


# The client's released results


@blueprint.route("/submissions/<public_id>/results")
@allow(READERS)
def released_results(public_id: str) -> Any:
    db = get_session()
    submission = submissions_service.get_submission(db, public_id, organization_id=organization_scope())
    return render_template(
        "samples/results.html", submission=submission, results=release.released_results(db, submission)
    )


@blueprint.route("/submissions/<public_id>/results.csv")
@allow(READERS)
def released_results_csv(public_id: str) -> Any:
    db = get_session()
    submission = submissions_service.get_submission(db, public_id, organization_id=organization_scope())
    found = release.released_results(db, submission)
    documents.record_export(db, submission, "released results (CSV)")
    return Response(
        "".join(csv_lines(release.CSV_HEADER, release.csv_rows(found))),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="results-{submission.public_id}.csv"'},
    )
