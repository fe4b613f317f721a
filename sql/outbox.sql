-- name: outbox_insert!
-- Written in the transaction of the change it announces; the relay sends it after commit. A
-- row that asks for no task is complete at once.
INSERT INTO outbox (topic, payload, pending_tasks, completed_at)
VALUES (:topic, :payload, :tasks::text[],
        CASE WHEN cardinality(:tasks::text[]) = 0 THEN now() END);

-- name: outbox_lease_batch
-- Takes the due rows and, in the same statement, moves each one's next due time forward by
-- its redelivery delay (doubling with each enqueue, capped), so the broker is called outside
-- any transaction and no row lock is held meanwhile. A row whose tasks do not report done by
-- then is sent again; after :max_enqueues sends it waits for a person (available 'infinity').
-- SKIP LOCKED: several relays drain side by side, each taking rows no other relay holds.
WITH due AS (
    SELECT id
      FROM outbox
     WHERE completed_at IS NULL AND available_at <= now()
     ORDER BY available_at
     LIMIT :batch_size
       FOR UPDATE SKIP LOCKED
)
UPDATE outbox o
   SET available_at = CASE
           WHEN o.enqueues + 1 >= :max_enqueues THEN 'infinity'::timestamptz
           ELSE now() + make_interval(secs => least(:max_delay_seconds::float8,
                                                    :redeliver_after_seconds * power(2, o.enqueues)))
       END,
       attempts = o.attempts + 1
  FROM due
 WHERE o.id = due.id
RETURNING o.id, o.topic, o.payload, o.pending_tasks, o.enqueues;

-- name: outbox_mark_enqueued!
UPDATE outbox SET sent_at = now(), enqueues = enqueues + 1 WHERE id = ANY(:ids::bigint[]);

-- name: outbox_defer!
-- The broker refused: back off exponentially, capped at five minutes.
UPDATE outbox
   SET available_at = now() + least(interval '5 minutes', interval '1 second' * power(2, attempts))
 WHERE id = ANY(:ids::bigint[]);

-- name: outbox_complete_task!
-- A task reports its effect done on rows :ids (one for an actor, a batch for the relay's
-- webhook fan-out); a row closes with its last task. Reporting twice is harmless (the second
-- finds nothing to remove).
UPDATE outbox
   SET pending_tasks = array_remove(pending_tasks, :task::text),
       completed_at = CASE WHEN array_remove(pending_tasks, :task::text) = '{}' THEN now() END
 WHERE id = ANY(:ids::bigint[]) AND completed_at IS NULL;

-- name: outbox_backlog^
-- The rows not handed to the broker yet, and how long the oldest has waited (0 when none): the
-- relay's lag, for /api/health and /metrics. Only open rows are read, through outbox_due_idx.
SELECT count(*) AS unsent,
       coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest_age_seconds
  FROM outbox
 WHERE completed_at IS NULL AND enqueues = 0;
