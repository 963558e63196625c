-- name: accept
-- The job row and its body in one statement; a (conversation_id, event_type) seen before inserts nothing.
WITH job AS (
    INSERT INTO jobs (event_type, conversation_id, received_at, run_after)
    VALUES (%(event_type)s, %(conversation_id)s, %(received_at)s, %(received_at)s)
    ON CONFLICT (conversation_id, event_type) DO NOTHING
    RETURNING id
)
INSERT INTO job_bodies (job_id, body) SELECT id, %(body)s FROM job;

-- name: claim
-- The oldest ready job, or one whose lease expired (its worker died or stalled). SKIP LOCKED: concurrent
-- workers never wait on, nor both take, the same row. A fresh token marks this claim as the lease holder.
WITH candidate AS (
    SELECT id FROM jobs
    WHERE status IN ('queued', 'running') AND run_after <= %(now)s
      AND (status = 'queued' OR lease_until < %(now)s)
    ORDER BY run_after, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs j SET status = 'running', attempts = j.attempts + 1, lease_until = %(lease_until)s,
    run_after = %(lease_until)s, lease_token = gen_random_uuid()::text, worker = %(worker)s, heartbeat_at = %(now)s
FROM candidate WHERE j.id = candidate.id
RETURNING j.id, j.event_type, j.conversation_id,
    coalesce((SELECT body FROM job_bodies b WHERE b.job_id = j.id), ''::bytea), j.attempts, j.received_at,
    j.lease_token;

-- name: heartbeat
UPDATE jobs SET lease_until = %(lease_until)s, run_after = %(lease_until)s, heartbeat_at = %(now)s
WHERE id = %(id)s AND status = 'running' AND lease_token = %(lease)s;

-- name: complete
WITH done AS (
    UPDATE jobs SET status = 'done', finished_at = %(now)s, lease_until = NULL, lease_token = NULL,
        last_error = NULL
    WHERE id = %(id)s AND status = 'running' AND lease_token = %(lease)s
    RETURNING id
), dropped AS (
    DELETE FROM job_bodies b USING done WHERE %(drop_body)s AND b.job_id = done.id
)
SELECT count(*) FROM done;

-- name: retry
UPDATE jobs SET status = 'queued', run_after = %(run_after)s, lease_until = NULL, lease_token = NULL,
    last_error = %(error)s
WHERE id = %(id)s AND status = 'running' AND lease_token = %(lease)s;

-- name: bury
UPDATE jobs SET status = 'dead', finished_at = %(now)s, lease_until = NULL, lease_token = NULL,
    last_error = %(error)s
WHERE id = %(id)s AND status = 'running' AND lease_token = %(lease)s;

-- name: running_workers
SELECT DISTINCT worker FROM jobs WHERE status = 'running';

-- name: release_worker
-- Its worker is gone: hand its jobs back at once; the cleared token voids the old claim.
UPDATE jobs SET status = 'queued', lease_until = NULL, lease_token = NULL, run_after = received_at
WHERE status = 'running' AND worker = %(worker)s;

-- name: stats
SELECT
    (SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')) AS pending,
    (SELECT count(*) FROM jobs WHERE status = 'dead') AS dead;

-- name: get_caller
SELECT caller_id, first_seen, last_seen, call_count, first_name, name_source, language,
       last_call_summary, memory_count, top_facts
FROM callers WHERE caller_id = %(caller_id)s;

-- name: latest_call
SELECT max(last_seen) FROM callers;

-- name: upsert_caller
INSERT INTO callers (caller_id, first_seen, last_seen, call_count, first_name, name_source, language,
                     last_call_summary, memory_count, top_facts)
VALUES (%(caller_id)s, %(first_seen)s, %(last_seen)s, %(call_count)s, %(first_name)s, %(name_source)s,
        %(language)s, %(last_call_summary)s, %(memory_count)s, %(top_facts)s)
ON CONFLICT (caller_id) DO UPDATE SET
    first_seen = excluded.first_seen, last_seen = excluded.last_seen, call_count = excluded.call_count,
    first_name = excluded.first_name, name_source = excluded.name_source, language = excluded.language,
    last_call_summary = excluded.last_call_summary, memory_count = excluded.memory_count,
    top_facts = excluded.top_facts;

-- name: insert_conversation
INSERT INTO conversations (conversation_id, caller_id, agent_id, started_at, processed_at)
VALUES (%(conversation_id)s, %(caller_id)s, %(agent_id)s, %(started_at)s, %(processed_at)s)
ON CONFLICT (conversation_id) DO NOTHING;

-- name: insert_memory
INSERT INTO memories (id, caller_id, type, text, category, slot, conversation_id, agent_id, created_at,
                      turn_start, turn_end, vector, keywords, text_terms, keyword_terms, term_count)
VALUES (%(id)s, %(caller_id)s, %(type)s, %(text)s, %(category)s, %(slot)s, %(conversation_id)s, %(agent_id)s,
        %(created_at)s, %(turn_start)s, %(turn_end)s, %(vector)s, %(keywords)s, %(text_terms)s,
        %(keyword_terms)s, %(term_count)s);

-- name: supersede_memory
UPDATE memories SET superseded_by = %(by)s
WHERE id = %(id)s AND caller_id = %(caller_id)s AND superseded_by IS NULL;

-- name: active_facts
SELECT id, caller_id, type, text, conversation_id, agent_id, created_at, category, slot, turn_start,
       turn_end, vector
FROM memories WHERE caller_id = %(caller_id)s AND type = 'factual' AND superseded_by IS NULL
ORDER BY created_at, id;

-- name: active_vectors
SELECT id, vector FROM memories
WHERE caller_id = %(caller_id)s AND superseded_by IS NULL AND (%(type)s::text IS NULL OR type = %(type)s);

-- name: keyword_search
-- The caller's memories holding any index term of the query, with their terms, and the caller's corpus
-- statistics (one statement: one snapshot); domain/keyword_score.py scores them (and drops a memory that
-- holds a phrase's words but not the phrase). The caller's rows come from memories_active.
WITH corpus AS (
    SELECT count(*) AS documents, coalesce(sum(term_count), 0) AS terms FROM memories
    WHERE caller_id = %(caller_id)s AND superseded_by IS NULL AND (%(type)s::text IS NULL OR type = %(type)s)
)
SELECT m.id, m.text_terms, m.keyword_terms, corpus.documents, corpus.terms
FROM corpus, memories m
WHERE m.caller_id = %(caller_id)s AND m.superseded_by IS NULL AND (%(type)s::text IS NULL OR m.type = %(type)s)
  AND string_to_array(m.text_terms || ' ' || m.keyword_terms, ' ') && %(tokens)s::text[];

-- name: memories
SELECT id, caller_id, type, text, conversation_id, agent_id, created_at, category, slot, turn_start, turn_end
FROM memories WHERE id = ANY(%(ids)s);

-- name: link_file
INSERT INTO call_files (conversation_id, kind, key) VALUES (%(conversation_id)s, %(kind)s, %(key)s)
ON CONFLICT (conversation_id, kind) DO UPDATE SET key = excluded.key;

-- name: files
SELECT kind, key FROM call_files WHERE conversation_id = %(conversation_id)s;

-- name: has_conversation
SELECT 1 FROM conversations WHERE conversation_id = %(conversation_id)s;
