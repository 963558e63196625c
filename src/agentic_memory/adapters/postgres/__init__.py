"""PostgreSQL adapters: memory store and job queue over a psycopg connection pool."""
