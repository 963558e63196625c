-- Queries of the operator's side (adapters/postgres/admin_store.py). Caller ids are E.164 numbers
-- (with AGENTIC_MEMORY_SCOPE=agent_and_caller, "number|agent").

-- name: find_callers
SELECT caller_id, first_seen, last_seen, call_count, first_name, name_source, language,
       last_call_summary, memory_count, top_facts
FROM callers
WHERE (%(number)s::text IS NULL OR caller_id = %(number)s
       OR left(caller_id, length(%(number)s) + 1) = %(number)s || '|')
  AND (%(digits)s = '' OR strpos(caller_id, %(digits)s) > 0)
  AND (%(name)s = '' OR strpos(lower(first_name), lower(%(name)s)) > 0)
  AND (%(seen_after)s::timestamptz IS NULL OR last_seen >= %(seen_after)s)
  AND (%(seen_before)s::timestamptz IS NULL OR last_seen < %(seen_before)s)
ORDER BY last_seen DESC, caller_id
LIMIT %(limit)s OFFSET %(offset)s;

-- name: caller_memories
SELECT id, caller_id, type, text, conversation_id, agent_id, created_at, category, slot, turn_start,
       turn_end, superseded_by, retired_at, retired_reason
FROM memories WHERE caller_id = %(caller_id)s
ORDER BY created_at, id;

-- name: caller_calls
SELECT c.conversation_id, c.agent_id, c.started_at, f.kind, f.key
FROM conversations c LEFT JOIN call_files f ON f.conversation_id = c.conversation_id
WHERE c.caller_id = %(caller_id)s
ORDER BY c.started_at DESC, c.conversation_id;

-- name: set_name
UPDATE callers SET first_name = %(first_name)s, name_source = %(source)s WHERE caller_id = %(caller_id)s;

-- name: retire_memory
-- A retired memory leaves the keyword search (which reads active memories only); its text stays in the history.
UPDATE memories SET superseded_by = %(by)s, retired_at = %(at)s, retired_reason = %(reason)s
WHERE id = %(id)s AND caller_id = %(caller_id)s AND superseded_by IS NULL;

-- name: refresh_profile
UPDATE callers SET top_facts = %(top_facts)s,
    memory_count = (SELECT count(*) FROM memories WHERE caller_id = %(caller_id)s AND superseded_by IS NULL)
WHERE caller_id = %(caller_id)s;

-- name: caller_conversations
SELECT conversation_id FROM conversations WHERE caller_id = %(caller_id)s;

-- name: delete_files
DELETE FROM call_files WHERE conversation_id = %(conversation_id)s RETURNING key;

-- name: delete_conversation
DELETE FROM conversations WHERE conversation_id = %(conversation_id)s;

-- name: tombstone_inbox
-- The job row stays (its UNIQUE key keeps a retried webhook a no-op); its body and everything personal go.
WITH erased AS (
    UPDATE jobs SET status = 'erased', last_error = NULL, worker = NULL, lease_until = NULL,
        lease_token = NULL
    WHERE conversation_id = %(conversation_id)s AND status <> 'erased'
    RETURNING id
), bodies AS (
    DELETE FROM job_bodies b USING erased WHERE b.job_id = erased.id
)
SELECT count(*) FROM erased;

-- name: delete_memories
-- Deleting the row deletes its keyword terms with it.
DELETE FROM memories WHERE caller_id = %(caller_id)s;

-- name: delete_caller
DELETE FROM callers WHERE caller_id = %(caller_id)s;

-- name: pending_bodies
SELECT j.conversation_id, coalesce(b.body, ''::bytea)
FROM jobs j LEFT JOIN job_bodies b ON b.job_id = j.id
WHERE j.event_type = %(event_type)s AND j.status IN ('queued', 'running', 'dead') ORDER BY j.id;

-- name: inbox
SELECT j.id, j.event_type, j.conversation_id, j.status, j.attempts, coalesce(j.last_error, ''), j.received_at,
       coalesce(octet_length(b.body), 0)
FROM jobs j LEFT JOIN job_bodies b ON b.job_id = j.id
WHERE (%(status)s::text IS NULL OR j.status = %(status)s)
ORDER BY j.id DESC LIMIT %(limit)s OFFSET %(offset)s;

-- name: inbox_entry
SELECT j.id, j.event_type, j.conversation_id, j.status, j.attempts, coalesce(j.last_error, ''), j.received_at,
       coalesce(octet_length(b.body), 0)
FROM jobs j LEFT JOIN job_bodies b ON b.job_id = j.id
WHERE j.id = %(id)s;

-- name: requeue
UPDATE jobs SET status = 'queued', attempts = 0, run_after = %(now)s, lease_until = NULL, lease_token = NULL,
    finished_at = NULL
WHERE status = 'dead' AND (%(all)s OR id = ANY(%(ids)s::bigint[]));

-- name: purge
-- Their bodies go by ON DELETE CASCADE.
DELETE FROM jobs WHERE status = 'dead' AND (%(all)s OR id = ANY(%(ids)s::bigint[]));

-- name: expire_bodies
DELETE FROM job_bodies b USING jobs j
WHERE b.job_id = j.id AND j.status = 'done' AND j.received_at < %(before)s AND octet_length(b.body) > 0;

-- name: expire_files
DELETE FROM call_files f USING conversations c
WHERE c.conversation_id = f.conversation_id AND c.started_at < %(before)s AND f.kind = ANY(%(kinds)s::text[])
RETURNING f.key;

-- name: expire_memories
DELETE FROM memories WHERE type = %(type)s AND created_at < %(before)s RETURNING caller_id;

-- name: inactive_callers
SELECT caller_id FROM callers WHERE last_seen < %(before)s ORDER BY last_seen LIMIT %(limit)s;

-- name: record_audit
INSERT INTO audit_events (at, actor, action, caller_ref, detail)
VALUES (%(at)s, %(actor)s, %(action)s, %(caller_ref)s, %(detail)s);

-- name: audit_events
SELECT at, actor, action, caller_ref, detail FROM audit_events ORDER BY id DESC LIMIT %(limit)s OFFSET %(offset)s;

-- name: totals
SELECT
    (SELECT count(*) FROM callers) AS callers,
    (SELECT count(*) FROM memories WHERE superseded_by IS NULL AND type = 'factual') AS factual,
    (SELECT count(*) FROM memories WHERE superseded_by IS NULL AND type = 'semantic') AS semantic;

-- name: inbox_by_status
SELECT status, count(*) FROM jobs GROUP BY status;

-- name: calls_per_day
-- A call is a caller's first when no earlier conversation of theirs is stored.
SELECT to_char(c.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*), count(DISTINCT c.caller_id),
       count(DISTINCT CASE WHEN c.started_at = f.first THEN c.caller_id END)
FROM conversations c
JOIN (SELECT caller_id, min(started_at) AS first FROM conversations GROUP BY caller_id) f USING (caller_id)
WHERE c.started_at >= %(since)s
GROUP BY day ORDER BY day;

-- name: job_latencies
SELECT finished_at, extract(epoch FROM finished_at - received_at) FROM jobs
WHERE status = 'done' AND finished_at >= %(since)s ORDER BY finished_at;

-- name: memories_per_caller
SELECT memory_count, count(*) FROM callers GROUP BY memory_count ORDER BY memory_count;
