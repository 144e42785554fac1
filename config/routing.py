"""WebSocket routes; each app adds its consumers here (/ws/inbox/, /ws/meetings/<id>/)."""

from django.urls import path

from common.consumers import PingConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
]
