"""Input of the backups page: the two lists' cursors."""

from __future__ import annotations

from marshmallow import fields

from lims.api.paging import Cursor
from lims.inputs import record_id
from lims.web import FormSchema


class BackupListSchema(FormSchema):
    #: the sort key (time, id) of the last backup the previous page showed
    cursor = Cursor(fields.AwareDateTime(default_timezone=None), record_id(), load_default=None)
    #: the same for the restore verifications
    verified_cursor = Cursor(fields.AwareDateTime(default_timezone=None), record_id(), load_default=None)
