"""Running the shop: the command line, embedded servers for development, migrations and
seed data."""
