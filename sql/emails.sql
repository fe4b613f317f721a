-- name: claim_email_event$
-- Claimed in the transaction that sends the email and committed only once it is sent. A second
-- delivery of the same event waits here for the first one's transaction, then finds the row
-- and skips; if the first failed and rolled back, the second sends.
INSERT INTO sent_emails (event_key, kind, recipient)
VALUES (:event_key, :kind, :recipient)
ON CONFLICT (event_key) DO NOTHING
RETURNING event_key;
