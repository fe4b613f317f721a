"""Business rules as plain async functions taking a connection: shared by web and workers."""
