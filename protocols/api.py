"""JSON API of protocols: a client system sees the protocols its organization sponsors; staff see all."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify

from lims.access import STAFF, allow
from lims.db import get_session
from lims.errors import RecordNotFound
from lims.identity.models import RoleName
from protocols import service
from protocols.models import Protocol, ProtocolVersion

blueprint = Blueprint("protocols_api", __name__, url_prefix="/api/v1")
READERS = STAFF | {RoleName.CLIENT}


def _visible(protocol: Protocol) -> bool:
    token = g.get("api_token")
    return token is None or protocol.sponsor_id == token.organization_id


def _version(version: ProtocolVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "status": version.status.value,
        "amendment_summary": version.amendment_summary,
        "effective_at": version.effective_at.isoformat() if version.effective_at else None,
        "arms": [{"code": arm.code, "name": arm.name, "type": arm.arm_type} for arm in version.arms],
        "visits": [{
            "code": visit.code, "name": visit.name, "reference_event": visit.reference_event.value,
            "day": visit.day_offset, "window_before_days": visit.window_before_days,
            "window_after_days": visit.window_after_days,
            "samples": [{"sample_type": requirement.sample_type, "volume": str(requirement.volume),
                         "container": requirement.container,
                         "handling": f"{requirement.handling_minimum.value}–{requirement.handling_maximum}",
                         "max_hours_to_processing": requirement.max_hours_to_processing}
                        for requirement in visit.requirements],
        } for visit in version.visits],
    }


def _summary(protocol: Protocol) -> dict[str, Any]:
    effective = service.effective_version(protocol)
    return {"id": protocol.id, "number": protocol.number, "title": protocol.title, "phase": protocol.phase.value,
            "nct_id": protocol.nct_id, "sponsor": protocol.sponsor.code,
            "effective_version": effective.number if effective else None}


@blueprint.get("/protocols")
@allow(READERS)
def index() -> Any:
    return jsonify(items=[_summary(protocol) for protocol in service.list_protocols(get_session())
                          if _visible(protocol)])


@blueprint.get("/protocols/<int:protocol_id>")
@allow(READERS)
def show(protocol_id: int) -> Any:
    protocol = service.get_protocol(get_session(), protocol_id)
    if not _visible(protocol):
        # Another client's protocol: answer as if it did not exist.
        raise RecordNotFound(f"There is no protocol with id {protocol_id}.")
    return jsonify({**_summary(protocol), "versions": [_version(version) for version in protocol.versions]})
