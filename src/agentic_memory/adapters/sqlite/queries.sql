-- name: accept
INSERT INTO inbox (event_type, conversation_id, body, received_at, run_after)
VALUES (:event_type, :conversation_id, :body, :received_at, :received_at)
ON CONFLICT (conversation_id, event_type) DO NOTHING;

-- name: claim
-- One statement: picks the oldest ready job, or one whose lease expired (its worker died).
UPDATE inbox SET status = 'running', attempts = attempts + 1, lease_until = :lease_until, worker = :worker,
    lease_token = :token
WHERE id = (
    SELECT id FROM inbox
    WHERE (status = 'queued' AND run_after <= :now) OR (status = 'running' AND lease_until < :now)
    ORDER BY run_after, id LIMIT 1
)
RETURNING id, event_type, conversation_id, body, attempts, received_at, lease_token;

-- name: heartbeat
UPDATE inbox SET lease_until = :lease_until
WHERE id = :id AND status = 'running' AND lease_token = :lease;

-- name: running_workers
SELECT DISTINCT worker FROM inbox WHERE status = 'running';

-- name: release_worker
-- Its worker is gone (crashed or killed): hand its jobs back without waiting for the lease to expire.
UPDATE inbox SET status = 'queued', lease_until = NULL, lease_token = NULL
WHERE status = 'running' AND worker = :worker;

-- name: complete
UPDATE inbox SET status = 'done', finished_at = :now, lease_until = NULL, lease_token = NULL,
    last_error = NULL, body = CASE WHEN :drop_body THEN x'' ELSE body END
WHERE id = :id AND status = 'running' AND lease_token = :lease;

-- name: retry
UPDATE inbox SET status = 'queued', run_after = :run_after, lease_until = NULL, lease_token = NULL,
    last_error = :error
WHERE id = :id AND status = 'running' AND lease_token = :lease;

-- name: bury
UPDATE inbox SET status = 'dead', finished_at = :now, lease_until = NULL, lease_token = NULL, last_error = :error
WHERE id = :id AND status = 'running' AND lease_token = :lease;

-- name: stats
-- Index range counts: O(pending + dead), not O(every webhook ever received). `done` is not counted here.
SELECT
    (SELECT count(*) FROM inbox WHERE status IN ('queued', 'running')) AS pending,
    (SELECT count(*) FROM inbox WHERE status = 'dead') AS dead;

-- name: get_caller
SELECT caller_id, first_seen, last_seen, call_count, first_name, name_source, language,
       last_call_summary, memory_count, top_facts
FROM callers WHERE caller_id = :caller_id;

-- name: latest_call
SELECT max(last_seen) FROM callers;

-- name: upsert_caller
INSERT INTO callers (caller_id, first_seen, last_seen, call_count, first_name, name_source, language,
                     last_call_summary, memory_count, top_facts)
VALUES (:caller_id, :first_seen, :last_seen, :call_count, :first_name, :name_source, :language,
        :last_call_summary, :memory_count, :top_facts)
ON CONFLICT (caller_id) DO UPDATE SET
    first_seen = excluded.first_seen, last_seen = excluded.last_seen, call_count = excluded.call_count,
    first_name = excluded.first_name, name_source = excluded.name_source, language = excluded.language,
    last_call_summary = excluded.last_call_summary, memory_count = excluded.memory_count,
    top_facts = excluded.top_facts;

-- name: insert_conversation
INSERT INTO conversations (conversation_id, caller_id, agent_id, started_at, processed_at)
VALUES (:conversation_id, :caller_id, :agent_id, :started_at, :processed_at)
ON CONFLICT (conversation_id) DO NOTHING;

-- name: insert_memory
INSERT INTO memories (id, caller_id, type, text, category, slot, conversation_id, agent_id, created_at,
                      turn_start, turn_end, vector, keywords, term_count)
VALUES (:id, :caller_id, :type, :text, :category, :slot, :conversation_id, :agent_id, :created_at,
        :turn_start, :turn_end, :vector, :keywords, :term_count);

-- name: index_memory
INSERT INTO memory_fts (rowid, text, keywords) VALUES (:rowid, :text, :keywords);

-- name: supersede_memory
UPDATE memories SET superseded_by = :by WHERE id = :id AND caller_id = :caller_id AND superseded_by IS NULL
RETURNING rowid;

-- name: unindex_memory
DELETE FROM memory_fts WHERE rowid = :rowid;

-- name: active_facts
SELECT id, caller_id, type, text, conversation_id, agent_id, created_at, category, slot, turn_start,
       turn_end, vector
FROM memories WHERE caller_id = :caller_id AND type = 'factual' AND superseded_by IS NULL
ORDER BY created_at;

-- name: active_vectors
SELECT id, vector, created_at FROM memories
WHERE caller_id = :caller_id AND superseded_by IS NULL AND (:type IS NULL OR type = :type);

-- name: keyword_search
-- The caller's memories holding any of the query's phrases, with their index terms, and the caller's
-- corpus statistics (one statement: one snapshot); domain/keyword_score.py scores them. CROSS JOIN fixes the
-- order: the MATCH runs once and its rows are looked up by rowid. Left to itself the planner walks the caller's
-- memories and re-runs the MATCH for each one (bench/PERF_NOTES.md item 20). The
-- statistics read only the memories_terms index.
WITH corpus AS (
    SELECT count(*) AS documents, coalesce(sum(term_count), 0) AS terms FROM memories
    WHERE caller_id = :caller_id AND superseded_by IS NULL AND (:type IS NULL OR type = :type)
)
SELECT m.id, memory_fts.text, memory_fts.keywords, corpus.documents, corpus.terms
FROM corpus CROSS JOIN memory_fts CROSS JOIN memories m ON m.rowid = memory_fts.rowid
WHERE memory_fts MATCH :match AND m.caller_id = :caller_id AND (:type IS NULL OR m.type = :type);

-- name: link_file
INSERT INTO call_files (conversation_id, kind, key) VALUES (:conversation_id, :kind, :key)
ON CONFLICT (conversation_id, kind) DO UPDATE SET key = excluded.key;

-- name: files
SELECT kind, key FROM call_files WHERE conversation_id = :conversation_id;

-- name: has_conversation
SELECT 1 FROM conversations WHERE conversation_id = :conversation_id;

-- name: export_memories
-- Every active memory, a conversation's together (copying them to another engine).
SELECT id, caller_id, type, text, conversation_id, agent_id, created_at, category, slot, turn_start, turn_end
FROM memories WHERE superseded_by IS NULL ORDER BY conversation_id, created_at, id;

-- name: count_active_memories
SELECT count(*) FROM memories WHERE superseded_by IS NULL;
