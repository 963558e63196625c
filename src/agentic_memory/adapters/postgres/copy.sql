-- Rows as plain records for `agentic-memory copy` (adapters/postgres/records.py, services/bulk.py). Each
-- kind is read in the order of its key, a page after the last key seen; writes insert what is missing
-- only, so a copy run again after an interruption adds nothing twice.

-- name: count_callers
SELECT count(*) FROM callers;

-- name: read_callers
SELECT caller_id, first_seen, last_seen, call_count, first_name, name_source, language, last_call_summary,
       memory_count, top_facts
FROM callers WHERE %(after)s::text IS NULL OR caller_id > %(after)s ORDER BY caller_id LIMIT %(limit)s;

-- name: write_callers
INSERT INTO callers (caller_id, first_seen, last_seen, call_count, first_name, name_source, language,
                     last_call_summary, memory_count, top_facts)
VALUES (%(caller_id)s, %(first_seen)s, %(last_seen)s, %(call_count)s, %(first_name)s, %(name_source)s,
        %(language)s, %(last_call_summary)s, %(memory_count)s, %(top_facts)s)
ON CONFLICT (caller_id) DO NOTHING;

-- name: count_conversations
SELECT count(*) FROM conversations;

-- name: read_conversations
SELECT conversation_id, caller_id, agent_id, started_at, processed_at FROM conversations
WHERE %(after)s::text IS NULL OR conversation_id > %(after)s ORDER BY conversation_id LIMIT %(limit)s;

-- name: write_conversations
INSERT INTO conversations (conversation_id, caller_id, agent_id, started_at, processed_at)
VALUES (%(conversation_id)s, %(caller_id)s, %(agent_id)s, %(started_at)s, %(processed_at)s)
ON CONFLICT (conversation_id) DO NOTHING;

-- name: count_call_files
SELECT count(*) FROM call_files;

-- name: read_call_files
SELECT conversation_id, kind, key FROM call_files
WHERE %(after)s::text IS NULL OR (conversation_id, kind) > (%(after)s, %(after2)s)
ORDER BY conversation_id, kind LIMIT %(limit)s;

-- name: write_call_files
INSERT INTO call_files (conversation_id, kind, key) VALUES (%(conversation_id)s, %(kind)s, %(key)s)
ON CONFLICT (conversation_id, kind) DO NOTHING;

-- name: count_memories
SELECT count(*) FROM memories;

-- name: read_memories
SELECT id, caller_id, type, text, category, slot, conversation_id, agent_id, created_at, turn_start, turn_end,
       superseded_by, retired_at, retired_reason, vector, keywords
FROM memories WHERE %(after)s::text IS NULL OR id > %(after)s ORDER BY id LIMIT %(limit)s;

-- name: write_memories
INSERT INTO memories (id, caller_id, type, text, category, slot, conversation_id, agent_id, created_at,
                      turn_start, turn_end, superseded_by, retired_at, retired_reason, vector, keywords,
                      text_terms, keyword_terms, term_count)
VALUES (%(id)s, %(caller_id)s, %(type)s, %(text)s, %(category)s, %(slot)s, %(conversation_id)s, %(agent_id)s,
        %(created_at)s, %(turn_start)s, %(turn_end)s, %(superseded_by)s, %(retired_at)s, %(retired_reason)s,
        %(vector)s, %(keywords)s, %(text_terms)s, %(keyword_terms)s, %(term_count)s)
ON CONFLICT (id) DO NOTHING;

-- name: count_inbox
SELECT count(*) FROM jobs;

-- name: read_inbox
SELECT j.event_type, j.conversation_id, coalesce(b.body, ''::bytea), j.received_at, j.status, j.attempts,
       j.run_after, j.lease_until, j.lease_token, j.worker, j.last_error, j.finished_at
FROM jobs j LEFT JOIN job_bodies b ON b.job_id = j.id
WHERE %(after)s::text IS NULL OR (j.conversation_id, j.event_type) > (%(after)s, %(after2)s)
ORDER BY j.conversation_id, j.event_type LIMIT %(limit)s;

-- name: write_inbox
-- The job and its body (when it still has one) in one statement, as `accept` stores them.
WITH job AS (
    INSERT INTO jobs (event_type, conversation_id, received_at, status, attempts, run_after, lease_until,
                      lease_token, worker, last_error, finished_at)
    VALUES (%(event_type)s, %(conversation_id)s, %(received_at)s, %(status)s, %(attempts)s, %(run_after)s,
            %(lease_until)s, %(lease_token)s, %(worker)s, %(last_error)s, %(finished_at)s)
    ON CONFLICT (conversation_id, event_type) DO NOTHING
    RETURNING id
), body AS (
    INSERT INTO job_bodies (job_id, body) SELECT id, %(body)s FROM job WHERE octet_length(%(body)s) > 0
)
SELECT count(*) FROM job;

-- name: count_audit_events
SELECT count(*) FROM audit_events;

-- name: read_audit_events
SELECT id, at, actor, action, caller_ref, detail FROM audit_events
WHERE %(after)s::bigint IS NULL OR id > %(after)s ORDER BY id LIMIT %(limit)s;

-- name: write_audit_events
-- Ids are kept (they are the copy's key); `finish` then moves the identity past the largest.
INSERT INTO audit_events (id, at, actor, action, caller_ref, detail) OVERRIDING SYSTEM VALUE
VALUES (%(id)s, %(at)s, %(actor)s, %(action)s, %(caller_ref)s, %(detail)s)
ON CONFLICT (id) DO NOTHING;

-- name: finish_audit_events
SELECT setval(pg_get_serial_sequence('audit_events', 'id'), greatest(1, (SELECT max(id) FROM audit_events)));
