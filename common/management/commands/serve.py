"""Serve the suite the way `make run` does: daphne (HTTP + WebSocket) and one task worker.

Both run as child processes; when either stops, or on Ctrl-C, the other is stopped too,
so no worker is left behind. Production runs them as separate services (docs/deployment.md).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "daphne とタスクワーカーを起動します (daphne for HTTP/WebSocket, and one task worker)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, host: str, port: str, **options) -> None:
        if not settings.DEBUG:
            call_command("collectstatic", interactive=False, verbosity=0)
        # Periodic work (督促) rides on the task queue; one sweep is kept scheduled.
        call_command("send_reminders", "--schedule", verbosity=0)
        env = os.environ.copy()
        python = sys.executable
        children = [
            subprocess.Popen(  # noqa: S603 - fixed argument list
                [python, "-m", "daphne", "-b", host, "-p", str(port), "config.asgi:application"],
                env=env,
            ),
            subprocess.Popen(  # noqa: S603
                [python, "manage.py", "db_worker", "--interval", "0.5"], env=env
            ),
        ]
        self.stdout.write(
            self.style.SUCCESS(f"http://{host}:{port}/ で待ち受けています (serving; Ctrl-C で終了)")
        )
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
