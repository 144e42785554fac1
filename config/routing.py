"""WebSocket routes. Each app adds its consumers here as it lands (/ws/inbox/, /ws/meetings/<id>/)."""

from django.urls import path

from common.consumers import PingConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
]
