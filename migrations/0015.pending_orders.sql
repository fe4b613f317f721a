-- A customer's pending orders, counted by every checkout (MAX_PENDING_ORDERS): at most a few
-- entries per user, where orders_user_newest_idx would read every order the user ever placed.
-- The expiry job's oldest-pending-first scan already has orders_status_newest_idx (0006).
-- depends: 0011.drop_redundant_index

CREATE INDEX orders_pending_user_idx ON orders (user_id) WHERE status = 'pending';
