-- Rows as plain records for `agentic-memory copy` (adapters/sqlite/records.py, services/bulk.py). Each kind
-- is read in the order of its key, a page after the last key seen; writes insert what is missing only, so
-- a copy run again after an interruption adds nothing twice.

-- name: count_callers
SELECT count(*) FROM callers;

-- name: read_callers
SELECT caller_id, first_seen, last_seen, call_count, first_name, name_source, language, last_call_summary,
       memory_count, top_facts
FROM callers WHERE :after IS NULL OR caller_id > :after ORDER BY caller_id LIMIT :limit;

-- name: write_callers
INSERT INTO callers (caller_id, first_seen, last_seen, call_count, first_name, name_source, language,
                     last_call_summary, memory_count, top_facts)
VALUES (:caller_id, :first_seen, :last_seen, :call_count, :first_name, :name_source, :language,
        :last_call_summary, :memory_count, :top_facts)
ON CONFLICT (caller_id) DO NOTHING;

-- name: count_conversations
SELECT count(*) FROM conversations;

-- name: read_conversations
SELECT conversation_id, caller_id, agent_id, started_at, processed_at
FROM conversations WHERE :after IS NULL OR conversation_id > :after ORDER BY conversation_id LIMIT :limit;

-- name: write_conversations
INSERT INTO conversations (conversation_id, caller_id, agent_id, started_at, processed_at)
VALUES (:conversation_id, :caller_id, :agent_id, :started_at, :processed_at)
ON CONFLICT (conversation_id) DO NOTHING;

-- name: count_call_files
SELECT count(*) FROM call_files;

-- name: read_call_files
SELECT conversation_id, kind, key FROM call_files
WHERE :after IS NULL OR (conversation_id, kind) > (:after, :after2)
ORDER BY conversation_id, kind LIMIT :limit;

-- name: write_call_files
INSERT INTO call_files (conversation_id, kind, key) VALUES (:conversation_id, :kind, :key)
ON CONFLICT (conversation_id, kind) DO NOTHING;

-- name: count_memories
SELECT count(*) FROM memories;

-- name: read_memories
SELECT id, caller_id, type, text, category, slot, conversation_id, agent_id, created_at, turn_start, turn_end,
       superseded_by, retired_at, retired_reason, vector, keywords
FROM memories WHERE :after IS NULL OR id > :after ORDER BY id LIMIT :limit;

-- name: write_memories
INSERT INTO memories (id, caller_id, type, text, category, slot, conversation_id, agent_id, created_at,
                      turn_start, turn_end, superseded_by, retired_at, retired_reason, vector, keywords,
                      term_count)
VALUES (:id, :caller_id, :type, :text, :category, :slot, :conversation_id, :agent_id, :created_at,
        :turn_start, :turn_end, :superseded_by, :retired_at, :retired_reason, :vector, :keywords, :term_count)
ON CONFLICT (id) DO NOTHING;

-- name: count_inbox
SELECT count(*) FROM inbox;

-- name: read_inbox
SELECT event_type, conversation_id, body, received_at, status, attempts, run_after, lease_until, lease_token,
       worker, last_error, finished_at
FROM inbox WHERE :after IS NULL OR (conversation_id, event_type) > (:after, :after2)
ORDER BY conversation_id, event_type LIMIT :limit;

-- name: write_inbox
INSERT INTO inbox (event_type, conversation_id, body, received_at, status, attempts, run_after, lease_until,
                   lease_token, worker, last_error, finished_at)
VALUES (:event_type, :conversation_id, :body, :received_at, :status, :attempts, :run_after, :lease_until,
        :lease_token, :worker, :last_error, :finished_at)
ON CONFLICT (conversation_id, event_type) DO NOTHING;

-- name: count_audit_events
SELECT count(*) FROM audit_events;

-- name: read_audit_events
SELECT id, at, actor, action, caller_ref, detail FROM audit_events
WHERE :after IS NULL OR id > :after ORDER BY id LIMIT :limit;

-- name: write_audit_events
INSERT INTO audit_events (id, at, actor, action, caller_ref, detail)
VALUES (:id, :at, :actor, :action, :caller_ref, :detail)
ON CONFLICT (id) DO NOTHING;
