-- Queries of the operator's side (adapters/sqlite/admin_store.py). Caller ids are E.164 numbers.

-- name: find_callers
SELECT caller_id, first_seen, last_seen, call_count, first_name, name_source, language,
       last_call_summary, memory_count, top_facts
FROM callers
WHERE (:number IS NULL OR caller_id = :number OR substr(caller_id, 1, length(:number) + 1) = :number || '|')
  AND (:digits = '' OR instr(caller_id, :digits) > 0)
  AND (:name = '' OR instr(lower(first_name), lower(:name)) > 0)
  AND (:seen_after IS NULL OR last_seen >= :seen_after)
  AND (:seen_before IS NULL OR last_seen < :seen_before)
ORDER BY last_seen DESC, caller_id
LIMIT :limit OFFSET :offset;

-- name: caller_memories
SELECT id, caller_id, type, text, conversation_id, agent_id, created_at, category, slot, turn_start,
       turn_end, superseded_by, retired_at, retired_reason
FROM memories WHERE caller_id = :caller_id
ORDER BY created_at, id;

-- name: caller_calls
SELECT c.conversation_id, c.agent_id, c.started_at, f.kind, f.key
FROM conversations c LEFT JOIN call_files f ON f.conversation_id = c.conversation_id
WHERE c.caller_id = :caller_id
ORDER BY c.started_at DESC, c.conversation_id;

-- name: set_name
UPDATE callers SET first_name = :first_name, name_source = :source WHERE caller_id = :caller_id;

-- name: retire_memory
UPDATE memories SET superseded_by = :by, retired_at = :at, retired_reason = :reason
WHERE id = :id AND caller_id = :caller_id AND superseded_by IS NULL
RETURNING rowid;

-- name: refresh_profile
UPDATE callers SET top_facts = :top_facts,
    memory_count = (SELECT count(*) FROM memories WHERE caller_id = :caller_id AND superseded_by IS NULL)
WHERE caller_id = :caller_id;

-- name: caller_conversations
SELECT conversation_id FROM conversations WHERE caller_id = :caller_id;

-- name: unindex_caller
DELETE FROM memory_fts WHERE rowid IN (SELECT rowid FROM memories WHERE caller_id = :caller_id);

-- name: delete_memories
DELETE FROM memories WHERE caller_id = :caller_id;

-- name: delete_caller
DELETE FROM callers WHERE caller_id = :caller_id;

-- name: conversation_files
SELECT key FROM call_files WHERE conversation_id = :conversation_id;

-- name: delete_files
DELETE FROM call_files WHERE conversation_id = :conversation_id;

-- name: delete_conversation
DELETE FROM conversations WHERE conversation_id = :conversation_id;

-- name: tombstone_inbox
-- The row stays (its UNIQUE key keeps a retried webhook a no-op); everything personal goes.
UPDATE inbox SET body = x'', status = 'erased', last_error = NULL, worker = NULL, lease_until = NULL
WHERE conversation_id = :conversation_id AND status <> 'erased';

-- name: pending_bodies
SELECT conversation_id, body FROM inbox
WHERE event_type = :event_type AND status IN ('queued', 'running', 'dead') ORDER BY id;

-- name: inbox
SELECT id, event_type, conversation_id, status, attempts, coalesce(last_error, ''), received_at, length(body)
FROM inbox WHERE (:status IS NULL OR status = :status)
ORDER BY id DESC LIMIT :limit OFFSET :offset;

-- name: inbox_entry
SELECT id, event_type, conversation_id, status, attempts, coalesce(last_error, ''), received_at, length(body)
FROM inbox WHERE id = :id;

-- name: requeue
UPDATE inbox SET status = 'queued', attempts = 0, run_after = :now, lease_until = NULL, finished_at = NULL
WHERE status = 'dead' AND (:all OR id IN (SELECT value FROM json_each(:ids)));

-- name: purge
DELETE FROM inbox WHERE status = 'dead' AND (:all OR id IN (SELECT value FROM json_each(:ids)));

-- name: expire_bodies
UPDATE inbox SET body = x'' WHERE status = 'done' AND received_at < :before AND length(body) > 0;

-- name: expired_files
SELECT f.conversation_id, f.kind, f.key FROM call_files f
JOIN conversations c ON c.conversation_id = f.conversation_id
WHERE c.started_at < :before AND f.kind IN (SELECT value FROM json_each(:kinds));

-- name: unlink_file
DELETE FROM call_files WHERE conversation_id = :conversation_id AND kind = :kind;

-- name: expired_memories
SELECT rowid, caller_id FROM memories WHERE type = :type AND created_at < :before;

-- name: delete_memory
DELETE FROM memories WHERE rowid = :rowid;

-- name: inactive_callers
SELECT caller_id FROM callers WHERE last_seen < :before ORDER BY last_seen LIMIT :limit;

-- name: record_audit
INSERT INTO audit_events (at, actor, action, caller_ref, detail)
VALUES (:at, :actor, :action, :caller_ref, :detail);

-- name: audit_events
SELECT at, actor, action, caller_ref, detail FROM audit_events ORDER BY id DESC LIMIT :limit OFFSET :offset;

-- name: totals
SELECT
    (SELECT count(*) FROM callers) AS callers,
    (SELECT count(*) FROM memories WHERE superseded_by IS NULL AND type = 'factual') AS factual,
    (SELECT count(*) FROM memories WHERE superseded_by IS NULL AND type = 'semantic') AS semantic;

-- name: inbox_by_status
SELECT status, count(*) FROM inbox GROUP BY status;

-- name: calls_per_day
-- A call is a caller's first when no earlier conversation of theirs is stored.
SELECT date(c.started_at, 'unixepoch') AS day, count(*), count(DISTINCT c.caller_id),
       count(DISTINCT CASE WHEN c.started_at = f.first THEN c.caller_id END)
FROM conversations c
JOIN (SELECT caller_id, min(started_at) AS first FROM conversations GROUP BY caller_id) f USING (caller_id)
WHERE c.started_at >= :since
GROUP BY day ORDER BY day;

-- name: job_latencies
SELECT finished_at, finished_at - received_at FROM inbox
WHERE status = 'done' AND finished_at >= :since ORDER BY finished_at;

-- name: memories_per_caller
SELECT memory_count, count(*) FROM callers GROUP BY memory_count ORDER BY memory_count;
