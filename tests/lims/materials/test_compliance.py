"""The materials' compliance checks at their boundaries: lots expiring within N days, and expired lots still
released or in quarantine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from lims.audit import context as audit_context
from lims.identity.models import RoleName
from lims.materials import service
from lims.units.measurement import Measurement
from tests.helpers import PASSWORD
from tests.lims.compliance.checking import found
from tests.lims.materials.conftest import TODAY

NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 8, tzinfo=UTC)


@pytest.mark.parametrize(("expires_in_days", "is_found"), [(29, True), (30, True), (31, False)])
def test_a_lot_expiring_within_the_days_set_is_found(db_session, receive, expires_in_days, is_found):
    lot = receive(expires_in_days=expires_in_days)
    conditions = found(db_session, "materials.lot-expiring", at=NOW, days=30)
    assert (str(lot.id) in conditions) is is_found
    if is_found:
        condition = conditions[str(lot.id)]
        assert condition.detail.startswith(f"expires in {expires_in_days} days ({lot.expires_on})")
        assert (condition.record_type, condition.link) == ("material_lot", f"/materials/lots/{lot.id}")


@pytest.mark.parametrize(("days_after_expiry", "is_found"), [(-1, False), (0, False), (1, True)])
def test_an_expired_lot_not_rejected_is_found_from_the_day_after_its_expiry(
    db_session, receive, days_after_expiry, is_found
):
    lot = receive(expires_in_days=10)
    at = NOW + timedelta(days=10 + days_after_expiry)
    conditions = found(db_session, "materials.lot-expired-not-rejected", at=at)
    assert (str(lot.id) in conditions) is is_found
    if is_found:
        assert conditions[str(lot.id)].detail.startswith(f"expired 1 day ago ({lot.expires_on}) but still quarantine")


def test_a_rejected_or_used_up_lot_is_nobodys_concern(db_session, receive, create_user):
    rejected = receive(expires_in_days=10)
    service.reject_lot(
        db_session, rejected, reason="Damaged in transit", user=create_user(RoleName.QA), password=PASSWORD
    )
    used_up = receive(expires_in_days=10)
    with audit_context.reason_for_change(db_session, "All taken for batches"):
        used_up.quantity_remaining = Measurement(Decimal(0), "mL")
    conditions = found(db_session, "materials.lot-expired-not-rejected", at=NOW + timedelta(days=20))
    assert str(rejected.id) not in conditions and str(used_up.id) not in conditions
