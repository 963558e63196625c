-- PostgreSQL schema, applied by `agentic-memory migrate` (adapters/postgres/database.py) under an advisory
-- lock. Each migration runs in one transaction and is recorded in schema_migrations. Never edit an applied
-- migration: add the next one.

-- migration: 1
-- Keyword search: English stemming like SQLite's porter tokenizer, but no stop words (FTS5 drops none).
CREATE TEXT SEARCH DICTIONARY am_english_stem (TEMPLATE = snowball, LANGUAGE = english);
CREATE TEXT SEARCH CONFIGURATION am_english (COPY = english);
ALTER TEXT SEARCH CONFIGURATION am_english
    ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part WITH am_english_stem;

-- The queue's hot table: job state only. `run_after` is also the lease expiry of a running job, so
-- one partial index finds both ready jobs and expired leases.
CREATE TABLE jobs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_type      TEXT        NOT NULL,
    conversation_id TEXT        NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL,
    status          TEXT        NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'dead')),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    run_after       TIMESTAMPTZ NOT NULL,
    lease_until     TIMESTAMPTZ,
    lease_token     TEXT,
    worker          TEXT,
    heartbeat_at    TIMESTAMPTZ,
    last_error      TEXT,
    finished_at     TIMESTAMPTZ,
    UNIQUE (conversation_id, event_type)
);
CREATE INDEX jobs_pending ON jobs (run_after, id) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_dead ON jobs (id) WHERE status = 'dead';

-- Raw webhook bodies, out of the hot table (they are up to megabytes; claims scan `jobs` only).
CREATE TABLE job_bodies (
    job_id BIGINT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    body   BYTEA NOT NULL
);

CREATE TABLE callers (
    caller_id         TEXT PRIMARY KEY,
    first_seen        TIMESTAMPTZ NOT NULL,
    last_seen         TIMESTAMPTZ NOT NULL,
    call_count        INTEGER     NOT NULL DEFAULT 0,
    first_name        TEXT        NOT NULL DEFAULT '',
    name_source       TEXT        NOT NULL DEFAULT '',
    language          TEXT        NOT NULL DEFAULT '',
    last_call_summary TEXT        NOT NULL DEFAULT '',
    memory_count      INTEGER     NOT NULL DEFAULT 0,
    top_facts         TEXT[]      NOT NULL DEFAULT '{}'
);

CREATE TABLE conversations (
    conversation_id TEXT PRIMARY KEY,
    caller_id       TEXT,
    agent_id        TEXT        NOT NULL DEFAULT '',
    started_at      TIMESTAMPTZ NOT NULL,
    processed_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX conversations_by_caller ON conversations (caller_id, started_at);

CREATE TABLE call_files (
    conversation_id TEXT NOT NULL,
    kind            TEXT NOT NULL,
    key             TEXT NOT NULL,
    PRIMARY KEY (conversation_id, kind)
);

-- Vectors are float32 bytes, scored exactly in numpy over one caller's rows (as on SQLite), so the code
-- needs no pgvector. `search` holds the text (weight A) and index-only keywords (weight B).
CREATE TABLE memories (
    id              TEXT PRIMARY KEY,
    caller_id       TEXT        NOT NULL,
    type            TEXT        NOT NULL,
    text            TEXT        NOT NULL,
    category        TEXT        NOT NULL DEFAULT '',
    slot            TEXT,
    conversation_id TEXT        NOT NULL,
    agent_id        TEXT        NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    turn_start      INTEGER,
    turn_end        INTEGER,
    superseded_by   TEXT,
    vector          BYTEA       NOT NULL,
    search          TSVECTOR    NOT NULL
);
CREATE INDEX memories_active ON memories (caller_id, type) WHERE superseded_by IS NULL;
CREATE INDEX memories_by_conversation ON memories (conversation_id);
CREATE INDEX memories_search ON memories USING gin (search) WHERE superseded_by IS NULL;

-- migration: 2
-- The operator's side (adapters/postgres/admin_store.py; SQLite's migration 4): when and why a memory
-- stopped being active, the audit trail, caller search. An erased caller's jobs stay as bodiless
-- tombstones (status 'erased') so a retried webhook stays a no-op.
ALTER TABLE memories ADD COLUMN retired_at TIMESTAMPTZ;
ALTER TABLE memories ADD COLUMN retired_reason TEXT NOT NULL DEFAULT '';
CREATE INDEX memories_by_caller ON memories (caller_id, created_at);
CREATE INDEX callers_by_last_seen ON callers (last_seen);
CREATE INDEX jobs_by_received ON jobs (status, received_at);
ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
    CHECK (status IN ('queued', 'running', 'done', 'dead', 'erased'));
CREATE TABLE audit_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    actor      TEXT        NOT NULL,
    action     TEXT        NOT NULL,
    caller_ref TEXT        NOT NULL DEFAULT '',
    detail     TEXT        NOT NULL DEFAULT '{}'
);

-- migration: 3
-- One keyword scorer for both backends (domain/keyword_score.py): each memory keeps its raw keywords and
-- the domain's index terms of its text and keywords (space-separated), filled by `migrate` itself after
-- this step (adapters/postgres/database.py: the terms come from Python, not from a text search config);
-- the database only finds a caller's candidates, the domain scores them. Old keywords are recovered from
-- the tsvector (as stemmed lexemes: the original words were not kept).
ALTER TABLE memories ADD COLUMN keywords TEXT NOT NULL DEFAULT '';
ALTER TABLE memories ADD COLUMN text_terms TEXT NOT NULL DEFAULT '';
ALTER TABLE memories ADD COLUMN keyword_terms TEXT NOT NULL DEFAULT '';
ALTER TABLE memories ADD COLUMN term_count INTEGER;
UPDATE memories SET keywords = array_to_string(tsvector_to_array(ts_filter(search, '{b}')), ' ');
DROP INDEX memories_search;
ALTER TABLE memories DROP COLUMN search;
DROP TEXT SEARCH CONFIGURATION am_english;
DROP TEXT SEARCH DICTIONARY am_english_stem;
