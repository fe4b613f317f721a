"""Business rules as plain async functions, shared by the web app, the workers and the CLI.

What a function takes says how it uses the database, one rule for all of them:

- A function that must be atomic (several statements that commit together, usually behind a
  row lock) takes `conn: asyncpg.Connection` and runs inside `db.atomic(conn)`: the caller's
  transaction if one is open (an idempotency key claimed with the work it protects), else one
  of its own. A refusal raised before anything is written leaves the caller's transaction
  usable. The few that need a transaction of their own (a snapshot with its isolation level, a
  revocation that must commit before its 401) say so and use `conn.transaction()`.
- A function that does slow work outside any transaction (bcrypt, the payment gateway, SMTP,
  HTTP) takes the pool, `pool: asyncpg.Pool`, and holds a connection only around its short
  database steps, so the slow part holds no pool slot. Only these take the pool.
- Everything else (reads, and writes of one statement) takes `conn: db.Queryable`: a
  connection, or the pool itself, whichever the caller has.

This package imports no web code (routes, schemas, middleware, endpoint, auth, aiohttp):
tests/test_layers.py checks it. The limits the schemas validate against live here
(`limits.py`), as do the account state checks the web layer's authentication asks.
"""
