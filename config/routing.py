"""WebSocket routes; each app adds its consumers here (/ws/inbox/, /ws/meetings/<id>/)."""

from django.urls import path

from common.consumers import PingConsumer
from meetings.consumers import MeetingConsumer
from workflow.consumers import InboxConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
    path("ws/inbox/", InboxConsumer.as_asgi()),
    path("ws/meetings/<int:pk>/", MeetingConsumer.as_asgi()),
]
