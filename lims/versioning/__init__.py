"""Versioned controlled documents (a master batch record, a trial protocol): one lifecycle for every kind.

draft → in review (the author signs) → approved (QA signs, another person) → effective → superseded or retired.
Only a draft changes; a change to a later version is a new version, drafted from the newest one.

- ``models``: the lifecycle's states and the columns every document version has
- ``service``: the rules of the lifecycle and the errors that refuse a step out of turn

Pages show a version's status and its lifecycle actions with the macros of ``lims/templates/_versioning.html``.
"""
