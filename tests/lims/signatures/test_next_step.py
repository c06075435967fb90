"""Every record that can be signed is named as people call it on the signing page and says what comes after its
signature."""

from __future__ import annotations

from lims import registry


def test_every_signable_record_type_declares_its_name_and_what_comes_after_a_signature(app):
    undeclared = [
        table
        for table, signable in registry.current().signables.items()
        if signable.name is None or signable.next_step is None
    ]
    assert undeclared == []
