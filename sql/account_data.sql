-- What the customer's account data routes read and write (GET /api/auth/me/export,
-- DELETE /api/auth/me); orders are read through orders_page, addresses through addresses.sql.

-- name: export_payments
-- Every payment of the user, as GET /api/payments/<id> shows one, oldest first.
SELECT id, order_id, amount, currency, status, failure_reason, created_at, settled_at
  FROM payments
 WHERE user_id = :user_id
 ORDER BY id;

-- name: export_reviews
-- Every review the user wrote, shaped as list_reviews, oldest first.
SELECT r.id, r.product_id,
       json_build_object('id', r.user_id, 'full_name', u.full_name) AS "user",
       r.rating, r.title, r.comment, r.verified_purchase, r.created_at
  FROM reviews r
  JOIN users u ON u.id = r.user_id
 WHERE r.user_id = :user_id
 ORDER BY r.id;

-- name: anonymise_user^
-- The first step of a deletion, and its lock: the profile replaced, the password unusable,
-- the account inactive and its token version bumped (every access and refresh token it holds
-- is refused from this commit on). The old email is read under the row lock, for the emails
-- still owed to it. No row when the account is already deleted.
WITH previous AS (
    SELECT id, email FROM users WHERE id = :id AND deleted_at IS NULL FOR NO KEY UPDATE
)
UPDATE users
   SET email = :email,
       full_name = :full_name,
       password_hash = :password_hash,
       is_active = false,
       token_version = token_version + 1,
       deleted_at = now(),
       updated_at = now()
  FROM previous
 WHERE users.id = previous.id
RETURNING users.id, previous.email AS previous_email;

-- name: delete_user_cart!
-- Waits for a checkout holding the cart's lock (it commits its order first, which the
-- deletion then cancels); a checkout that comes after finds no cart: 422 cart_empty.
DELETE FROM carts WHERE user_id = :user_id;

-- name: pending_order_ids
-- Through orders_pending_user_idx. Not locked: each is locked, and its status read again,
-- before it is cancelled.
SELECT id FROM orders WHERE user_id = :user_id AND status = 'pending' ORDER BY id;

-- name: delete_user_idempotency_keys!
-- Their stored answers hold the user's orders. A key claimed by a request still running is
-- purged with the others, after 24 hours.
DELETE FROM idempotency_keys WHERE user_id = :user_id;
