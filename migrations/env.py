"""Alembic environment: one history for the idp and consent metadata."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import consent.api
import idp.models  # noqa: F401 - registers every idp table on Base.metadata
from idp.db import Base, make_engine
from idp.settings import Settings

target_metadata = [Base.metadata, consent.api.metadata]


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    url = context.config.get_main_option("sqlalchemy.url") or Settings().sqlalchemy_url
    engine = make_engine(url)
    with engine.connect() as conn:
        run(conn)
        conn.commit()
    engine.dispose()
