"""What every `lims` command shares: one unit of work, attributed to whoever runs it, and passwords unechoed."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from lims.audit import context as audit_context
from lims.db import get_session
from lims.errors import LimsError


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """Commit what the block does, or nothing if it fails; domain errors exit non-zero."""
    session = get_session()
    audit_context.act_as(session, audit_context.Actor(None, f"command line ({getpass.getuser()})"))
    try:
        yield session
        session.commit()
    except LimsError as error:
        # A refusal that must leave its record (a failed password counts toward lockout) is committed all the same.
        if error.keeps_changes:
            session.commit()
        else:
            session.rollback()
        raise click.ClickException(error.message) from error
    except BaseException:
        session.rollback()
        raise


def password_from(variable: str, prompt: str, *, new: bool = True) -> str:
    """The password in environment ``variable``, else one typed at the terminal, unechoed (a ``new`` one twice)."""
    password = os.environ.get(variable)
    if password:
        return password
    if not sys.stdin.isatty():
        raise click.ClickException(f"No terminal to ask for the password: set {variable}.")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=new)
