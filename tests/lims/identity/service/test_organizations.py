"""Organizations: one facility per deployment."""

from __future__ import annotations

import pytest

from lims.errors import AlreadyExists
from lims.identity.models import OrganizationKind
from lims.identity.service import organizations


def test_only_one_facility_can_be_registered(db_session, facility):
    with pytest.raises(AlreadyExists):
        organizations.create_organization(db_session, code="OTHER", name="Other Lab", kind=OrganizationKind.FACILITY)
