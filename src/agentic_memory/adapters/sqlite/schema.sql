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

-- Only active memories are indexed; `owner` scopes every match to one caller.
CREATE VIRTUAL TABLE memory_fts USING fts5(
    text, keywords, owner,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
