"""Read-only HTTP API and dashboard over the published warehouse (see README.md here)."""

from .app import create_app

__all__ = ["create_app"]
