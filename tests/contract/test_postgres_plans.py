"""Query plans on the real PostgreSQL stay made for each run's own values (database.py `_configure`)."""

from __future__ import annotations

from agentic_memory.adapters.postgres.database import PostgresDatabase


def test_statements_run_many_times_are_still_planned_for_their_own_values(pg_url):
    # A generic plan of the keyword search reads every caller's matches of a common term before filtering by
    # caller (11x slower /retrieve at 100k callers). A pool connection refuses generic plans.
    db = PostgresDatabase(pg_url, max_size=1)
    try:
        for _ in range(7):  # past psycopg's prepare threshold (5)
            db.fetchone("stats")
        with db.connection() as conn:
            row = conn.execute("SHOW plan_cache_mode").fetchone()
        assert row == ("force_custom_plan",)
    finally:
        db.close()
