"""The web front ends: the REST API (routes, schemas, the @endpoint declaration, its
middleware) and the server-rendered admin pages (admin/), on one aiohttp app."""
