"""Marshmallow schemas: they validate requests and describe answers in the OpenAPI document."""
