-- migration: 1
CREATE TABLE inbox (
    id              INTEGER PRIMARY KEY,
    event_type      TEXT    NOT NULL,
    conversation_id TEXT    NOT NULL,
    body            BLOB    NOT NULL,
    received_at     REAL    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'queued',   -- queued | running | done | dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    run_after       REAL    NOT NULL,
    lease_until     REAL,
    worker          TEXT,
    last_error      TEXT,
    finished_at     REAL,
    UNIQUE (conversation_id, event_type)
);
CREATE INDEX inbox_ready ON inbox (status, run_after);

CREATE TABLE callers (
    caller_id         TEXT PRIMARY KEY,
    first_seen        REAL    NOT NULL,
    last_seen         REAL    NOT NULL,
    call_count        INTEGER NOT NULL DEFAULT 0,
    first_name        TEXT    NOT NULL DEFAULT '',
    name_source       TEXT    NOT NULL DEFAULT '',
    language          TEXT    NOT NULL DEFAULT '',
    last_call_summary TEXT    NOT NULL DEFAULT '',
    memory_count      INTEGER NOT NULL DEFAULT 0,
    top_facts         TEXT    NOT NULL DEFAULT '[]'
);

CREATE TABLE conversations (
    conversation_id TEXT PRIMARY KEY,
    caller_id       TEXT,
    agent_id        TEXT NOT NULL DEFAULT '',
    started_at      REAL NOT NULL,
    processed_at    REAL NOT NULL
);
CREATE INDEX conversations_by_caller ON conversations (caller_id, started_at);

CREATE TABLE call_files (
    conversation_id TEXT NOT NULL,
    kind            TEXT NOT NULL,
    key             TEXT NOT NULL,
    PRIMARY KEY (conversation_id, kind)
);

CREATE TABLE memories (
    rowid           INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    caller_id       TEXT    NOT NULL,
    type            TEXT    NOT NULL,
    text            TEXT    NOT NULL,
    category        TEXT    NOT NULL DEFAULT '',
    slot            TEXT,
    conversation_id TEXT    NOT NULL,
    agent_id        TEXT    NOT NULL DEFAULT '',
    created_at      REAL    NOT NULL,
    turn_start      INTEGER,
    turn_end        INTEGER,
    superseded_by   TEXT,
    vector          BLOB    NOT NULL
);
CREATE INDEX memories_active ON memories (caller_id, type) WHERE superseded_by IS NULL;
CREATE INDEX memories_by_conversation ON memories (conversation_id);

-- Only active memories are indexed (migration 2 namespaces the terms per caller).
CREATE VIRTUAL TABLE memory_fts USING fts5(
    text, keywords, owner,
    tokenize = 'porter unicode61 remove_diacritics 2'
);

-- migration: 2
-- Per-caller keyword terms (adapters/sqlite/scoped_terms.py) replace the shared index + owner column.
CREATE TABLE fts_keywords_v1 AS SELECT rowid AS rid, keywords FROM memory_fts;
DROP TABLE memory_fts;
CREATE VIRTUAL TABLE memory_fts USING fts5(
    text, keywords,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO memory_fts (rowid, text, keywords)
SELECT m.rowid, am_scoped_text(m.caller_id, m.text), am_scoped_text(m.caller_id, coalesce(k.keywords, ''))
FROM memories m LEFT JOIN fts_keywords_v1 k ON k.rid = m.rowid
WHERE m.superseded_by IS NULL;
DROP TABLE fts_keywords_v1;

-- migration: 3
-- Each claim gets a token; only its holder may complete, retry or bury the job (a stalled worker whose
-- lease expired and whose job was claimed again cannot apply a late result).
ALTER TABLE inbox ADD COLUMN lease_token TEXT;

-- migration: 4
-- The operator's side: when and why a memory stopped being active, the audit trail, caller search.
ALTER TABLE memories ADD COLUMN retired_at REAL;
ALTER TABLE memories ADD COLUMN retired_reason TEXT NOT NULL DEFAULT '';
CREATE INDEX memories_by_caller ON memories (caller_id, created_at);
CREATE INDEX callers_by_last_seen ON callers (last_seen);
CREATE INDEX inbox_by_received ON inbox (status, received_at);
CREATE TABLE audit_events (
    id        INTEGER PRIMARY KEY,
    at        REAL NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    caller_ref TEXT NOT NULL DEFAULT '',
    detail    TEXT NOT NULL DEFAULT '{}'
);
-- Archives written by `agentic-memory backup`: erasing a caller rewrites each one still at its path.
CREATE TABLE backups (
    path       TEXT PRIMARY KEY,
    created_at REAL NOT NULL
);

-- migration: 5
-- One keyword scorer for both backends (domain/keyword_score.py): the index holds the domain's stemmed
-- terms (namespaced per caller) under FTS5's plain tokenizer and only finds candidates; raw keywords and
-- each memory's term count move to `memories` (the count is the caller's BM25 statistics). Old keywords
-- are recovered from the index (active memories only: the others were never kept).
ALTER TABLE memories ADD COLUMN keywords TEXT NOT NULL DEFAULT '';
ALTER TABLE memories ADD COLUMN term_count INTEGER NOT NULL DEFAULT 0;
UPDATE memories SET keywords = coalesce(
    (SELECT am_unscoped_words(f.keywords) FROM memory_fts f WHERE f.rowid = memories.rowid), '');
DROP TABLE memory_fts;
CREATE VIRTUAL TABLE memory_fts USING fts5(
    text, keywords,
    tokenize = 'unicode61 remove_diacritics 0'
);
UPDATE memories SET term_count = am_term_count(text) + am_term_count(keywords);
INSERT INTO memory_fts (rowid, text, keywords)
SELECT rowid, am_scoped_terms(caller_id, text), am_scoped_terms(caller_id, keywords)
FROM memories WHERE superseded_by IS NULL;
