"""/api/openapi.json and /api/docs: the contract, and a reference page served locally."""

from __future__ import annotations

from aiohttp import web

from shop_api.web.jsonio import json_response
from shop_api.web.keys import openapi_key

routes = web.RouteTableDef()

DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Shop API reference</title>
  <link rel="stylesheet" href="/api/docs/static/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/docs/static/swagger-ui-bundle.js"></script>
  <script>
    // validatorUrl null: no badge fetched from validator.swagger.io, nothing from elsewhere.
    window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#swagger-ui",
                                 deepLinking: true, persistAuthorization: true,
                                 validatorUrl: null});
  </script>
</body>
</html>
"""


@routes.get("/api/openapi.json")
async def openapi_document(request: web.Request) -> web.Response:
    return json_response(request.app[openapi_key])


@routes.get("/api/docs")
async def docs_page(request: web.Request) -> web.Response:
    return web.Response(text=DOCS_HTML, content_type="text/html")
