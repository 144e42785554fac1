"""Template context shared by every page."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from org.roles import ROLES, has_role


def roles(request: HttpRequest) -> dict:
    """`user_roles`: the signed-in person's role names, read only if a template asks."""

    def names() -> frozenset[str]:
        user = getattr(request, "user", None)
        return frozenset(name for name in ROLES if has_role(user, name))

    return {"user_roles": SimpleLazyObject(names)}
