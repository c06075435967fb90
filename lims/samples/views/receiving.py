"""The lab's side: the submissions waiting to be received, receiving them sample by sample (and a sample not on
the manifest), and the labels of received samples."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from lims import clock
from lims.access import STAFF, allow
from lims.db import get_session
from lims.errors import RecordNotFound
from lims.samples import documents, schemas
from lims.samples.errors import NotPrintable
from lims.samples.models import Sample, SampleStatus
from lims.samples.service import accessioning, stability
from lims.samples.service import submissions as submissions_service
from lims.samples.views import RECEIVERS, blueprint
from lims.web import RepeatedForm, load_input, on_refusal_show


@blueprint.route("/receiving")
@allow(RECEIVERS)
def receiving() -> Any:
    return render_template("samples/receiving.html", submissions=accessioning.awaiting_receipt(get_session()))


def receive_context(public_id: str) -> dict[str, Any]:
    db = get_session()
    submission = submissions_service.get_submission(db, public_id, organization_id=None)
    samples = submissions_service.samples_of(db, submission)
    # What the deadline will be at receipt, for the samples still expected: a late one is flagged before it is taken.
    expected = [sample for sample in samples if sample.status == SampleStatus.EXPECTED]
    return {
        "submission": submission,
        "samples": samples,
        "deadlines": stability.deadlines(db, expected),
        "now": clock.now(),
    }


def receipt_form(sample: Sample) -> RepeatedForm:
    return RepeatedForm(f"s-{sample.public_id}-", schemas.ReceiptSchema)


@blueprint.route("/receiving/<public_id>")
@allow(STAFF)
def receive(public_id: str) -> Any:
    return render_template(
        "samples/receive.html", errors={}, form=MultiDict(), receipt_form=receipt_form, **receive_context(public_id)
    )


def _receipt(data: dict[str, Any]) -> accessioning.Receipt:
    return accessioning.Receipt(
        arrival_temperature=data["arrival_temperature"],
        container_intact=data["container_intact"],
        accepted=data["decision"] == "accept",
        received_at=data["received_at"],
        received_volume=data["received_volume"],
        rejection_reason=data["rejection_reason"],
        note=data["note"],
    )


@blueprint.route("/receiving/<public_id>/samples/<sample_id>", methods=["POST"])
@allow(RECEIVERS)
def receive_sample(public_id: str, sample_id: str) -> Any:
    db = get_session()
    context = receive_context(public_id)
    sample = next((s for s in context["samples"] if s.public_id == sample_id), None)
    if sample is None:
        raise RecordNotFound("This submission has no such sample.")
    form = receipt_form(sample)
    with on_refusal_show(
        "samples/receive.html", lambda: receive_context(public_id), repeated=form, receipt_form=receipt_form
    ):
        received = accessioning.receive_sample(db, sample, _receipt(form.load()), user=current_user)
    verdict = "accepted" if received.status == SampleStatus.RECEIVED else "rejected"
    flash(f"{received.client_sample_id} is {received.accession_number}, {verdict}.", "success")
    if received.received_at and stability.is_past(received.stability_deadline, received.received_at):
        flash(f"{received.accession_number} arrived past its stability window: {_late(received)}.", "warning")
    return redirect(url_for("samples.receive", public_id=public_id, _anchor=f"sample-{sample.public_id}"), 303)


@blueprint.route("/receiving/<public_id>/unexpected", methods=["POST"])
@allow(RECEIVERS)
def receive_unexpected(public_id: str) -> Any:
    db = get_session()
    context = receive_context(public_id)
    with on_refusal_show("samples/receive.html", lambda: receive_context(public_id), receipt_form=receipt_form):
        data = load_input(schemas.UnexpectedSampleSchema())
        sample = accessioning.receive_unexpected_sample(
            db,
            context["submission"],
            _receipt(data),
            client_sample_id=data["client_sample_id"],
            sample_type=data["sample_type"],
            container=data["container"],
            user=current_user,
        )
    flash(f"{sample.client_sample_id} was not on the manifest; recorded as {sample.accession_number}.", "warning")
    return redirect(url_for("samples.receive", public_id=public_id), 303)


def _late(sample: Sample) -> str:
    deadline = sample.stability_deadline
    assert deadline is not None
    local = deadline.astimezone(clock.facility_zone()).strftime("%Y-%m-%d %H:%M")
    return f"it was to be processed by {local}"


def _labels(samples: list[Sample], about: Any, filename: str) -> Response:
    received = [sample for sample in samples if sample.accession_number]
    if not received:
        raise NotPrintable("No sample here has been received yet: labels carry the accession number.")
    pdf = documents.labels(get_session(), received, about=about)
    return Response(pdf, mimetype="application/pdf", headers={"Content-Disposition": f'inline; filename="{filename}"'})


@blueprint.route("/receiving/<public_id>/labels.pdf")
@allow(STAFF)
def submission_labels(public_id: str) -> Any:
    context = receive_context(public_id)
    return _labels(context["samples"], context["submission"], f"labels-{public_id}.pdf")


@blueprint.route("/samples/<public_id>/label.pdf")
@allow(STAFF)
def sample_label(public_id: str) -> Any:
    sample = submissions_service.get_sample(get_session(), public_id, organization_id=None)
    return _labels([sample], sample, f"label-{sample.accession_number or public_id}.pdf")
