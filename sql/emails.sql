-- name: claim_email_event^
-- One short statement claims the event's email ('sending') before it goes out; the send runs
-- outside any transaction. A row still 'sending' after the lease belongs to an attempt that
-- died (before or after the server's 250): it is claimed again, keeping its Message-ID.
-- Nothing comes back when the email was sent, or another attempt is sending it now.
INSERT INTO sent_emails AS e (event_key, kind, recipient, message_id, claimed_at)
VALUES (:event_key, :kind, :recipient, :message_id, now())
ON CONFLICT (event_key) DO UPDATE
   SET claimed_at = now(), attempts = e.attempts + 1, recipient = EXCLUDED.recipient
 WHERE e.status = 'sending'
   AND e.claimed_at < now() - make_interval(secs => :lease_seconds)
RETURNING message_id, attempts;

-- name: email_status$
SELECT status FROM sent_emails WHERE event_key = :event_key;

-- name: mark_email_sent!
UPDATE sent_emails SET status = 'sent', sent_at = now() WHERE event_key = :event_key;
