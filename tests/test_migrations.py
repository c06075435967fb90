"""Migrations build the schema the models describe, on every engine."""
from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from lims import schema
from lims.db import Base, create_engine_for
from lims.model_registry import import_all_models


def test_migrations_apply_to_an_empty_database_and_match_the_models(fresh_database_url):
    import_all_models()
    engine = create_engine_for(fresh_database_url)
    try:
        with engine.begin() as connection:
            schema.upgrade(connection)
        with engine.connect() as connection:
            assert schema.current_revision(connection) == schema.head_revision()
            drift = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert drift == [], f"models and migrations differ: {drift}"
    finally:
        engine.dispose()


def test_migrations_downgrade_to_nothing_and_upgrade_again(fresh_database_url):
    engine = create_engine_for(fresh_database_url)
    try:
        with engine.begin() as connection:
            schema.upgrade(connection)
        with engine.begin() as connection:
            command.downgrade(schema.alembic_config(connection), "base")
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
        with engine.begin() as connection:
            schema.upgrade(connection)
        with engine.connect() as connection:
            assert schema.current_revision(connection) == schema.head_revision()
            assert {"organization", "user_account", "role", "api_token"} <= set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def test_the_first_migration_seeds_the_five_roles(fresh_database_url):
    engine = create_engine_for(fresh_database_url)
    try:
        with engine.begin() as connection:
            schema.upgrade(connection)
            roles = connection.execute(text("SELECT name FROM role ORDER BY id")).scalars().all()
        assert roles == ["technician", "qa", "manager", "admin", "client"]
    finally:
        engine.dispose()
