"""The embedded default: one SQLite file (WAL) holding the inbox/queue, callers and memories."""
