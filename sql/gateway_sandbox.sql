-- The sandbox payment gateway's own records (shop_api/domain/gateway.py). Each statement is one
-- request to the gateway, idempotent on its key.

-- name: sandbox_charge^
-- A first request writes its answer; a repeat is counted and gets the first answer, except
-- after a transient failure, which the retry answers afresh (tok_processingError succeeds).
INSERT INTO sandbox_gateway_operations AS op
       (idempotency_key, operation, payment_token, amount, currency, status, failure_reason,
        reference)
VALUES (:idempotency_key, 'charge', :payment_token, :amount, :currency, :status,
        :failure_reason, :reference)
ON CONFLICT (idempotency_key) DO UPDATE
   SET requests = op.requests + 1,
       status = CASE WHEN op.status = 'transient' THEN 'succeeded' ELSE op.status END,
       failure_reason = CASE WHEN op.status = 'transient' THEN NULL ELSE op.failure_reason END,
       updated_at = now()
RETURNING operation, payment_token, amount, currency, status, failure_reason, reference, requests;

-- name: sandbox_refund^
INSERT INTO sandbox_gateway_operations AS op
       (idempotency_key, operation, amount, currency, status, reference, charge_reference)
VALUES (:idempotency_key, 'refund', :amount, :currency, 'succeeded', :reference,
        :charge_reference)
ON CONFLICT (idempotency_key) DO UPDATE
   SET requests = op.requests + 1, updated_at = now()
RETURNING operation, status, reference, requests;

-- name: sandbox_operation^
SELECT operation, payment_token, amount, currency, status, failure_reason, reference, requests
  FROM sandbox_gateway_operations
 WHERE idempotency_key = :idempotency_key;
