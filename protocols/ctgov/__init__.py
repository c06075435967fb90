"""Read a ClinicalTrials.gov study record into what a protocol needs, and list what it leaves out.

Two formats are read, told apart by their content (``parse.parse_study``): the
API v2 single-study JSON (``api_v2``, an object with ``protocolSection``) and
the legacy ``clinical_study`` XML (``legacy_xml``). The lab serves trials after
phase II, so earlier phases and studies without a phase are refused. Whatever
the record holds that is not mapped into ``study.ImportedStudy`` is listed in
its ``unmapped`` for the user (``unmapped`` holds the entries both formats share).

The parser is pure: no database, no Flask. The file is untrusted input, so XML
goes through defusedxml and every JSON value is type-checked before use.
"""
