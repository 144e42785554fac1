"""Every page needs a sign-in; the health endpoint tells whether the backends answer."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.org.factories import AssignmentFactory, StaffFactory

pytestmark = pytest.mark.django_db

# Pages anyone may open: signing in, the health check for load balancers.
PUBLIC = {"/login/", "/healthz", "/admin/login/"}
# Patterns that need an argument are filled with this.
ARG = re.compile(r"<(?:\w+:)?\w+>")


def all_paths(resolvers=None, prefix: str = "") -> list[str]:
    paths: list[str] = []
    for entry in resolvers if resolvers is not None else get_resolver().url_patterns:
        route = str(entry.pattern)
        if route.startswith("^") or "drf_format_suffix" in route:
            continue  # regex routes (admin internals, i18n) are covered below by their roots
        if isinstance(entry, URLResolver):
            paths.extend(all_paths(entry.url_patterns, prefix + route))
        elif isinstance(entry, URLPattern):
            paths.append("/" + ARG.sub("1", prefix + route))
    return sorted(set(paths))


def test_every_page_redirects_to_login_when_signed_out(client) -> None:
    paths = [p for p in all_paths() if p not in PUBLIC and not p.startswith("/static/")]
    assert "/" in paths and "/admin/" in paths
    for path in paths:
        response = client.get(path)
        if path.startswith("/api/"):
            # The API answers for itself (session or token auth), with 401/403.
            assert response.status_code in (401, 403), path
            continue
        assert response.status_code == 302, path
        assert "/login/" in response["Location"], (path, response["Location"])


def test_home_after_sign_in_shows_where_the_person_sits(client) -> None:
    staff = StaffFactory(last_name="瀬戸", first_name="花子")
    AssignmentFactory(staff=staff, department__name="財政課", post__name="主事")
    response = client.post(
        "/login/", {"username": staff.username, "password": "correct-horse-battery"}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "瀬戸 花子" in body and "財政課" in body and "主事" in body
    csp = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'"
    assert response["X-Request-ID"]


def test_login_page_is_japanese_and_refuses_bad_password(client) -> None:
    StaffFactory(username="hanako")
    response = client.get("/login/")
    assert response.status_code == 200
    assert 'lang="ja"' in response.content.decode()
    response = client.post("/login/", {"username": "hanako", "password": "wrong"})
    assert response.status_code == 200
    assert "ユーザー名またはパスワードが正しくありません" in response.content.decode()


def test_repeated_failures_lock_the_login(client, settings) -> None:
    StaffFactory(username="locked")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"username": "locked", "password": "wrong"})
    response = client.post("/login/", {"username": "locked", "password": "correct-horse-battery"})
    assert response.status_code == 429
    assert "一時的に停止" in response.content.decode()


def test_healthz_ok_with_both_backends(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "channel_layer": "ok"},
    }


def test_healthz_503_when_channel_layer_is_down(client, settings) -> None:
    from channels.layers import channel_layers

    # A Redis layer pointing at a port where nothing listens.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    channel_layers.backends.clear()
    try:
        response = client.get("/healthz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "channel_layer": "error"}


def test_healthz_with_redis_layer(client, settings, need_redis) -> None:
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [need_redis]},
        }
    }
    channel_layers.backends.clear()
    try:
        response = client.get("/healthz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 200
