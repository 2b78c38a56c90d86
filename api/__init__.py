"""api: the FastAPI app (REST, WebSocket live stream) and the web console."""

from api.main import create_app

__all__ = ["create_app"]
