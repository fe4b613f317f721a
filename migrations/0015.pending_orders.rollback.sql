DROP INDEX orders_pending_user_idx;
