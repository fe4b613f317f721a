-- orders_status_newest_idx (0006) leads with status, so it answers every lookup the plain
-- status index of 0003 did; one index less to keep up on every order written.
-- depends: 0006.admin

DROP INDEX orders_status_idx;
