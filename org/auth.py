"""Authentication: the model backend, refusing demo accounts when demo logins are off."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication


class StaffBackend(ModelBackend):
    def user_can_authenticate(self, user) -> bool:
        if getattr(user, "is_demo", False) and not settings.DEMO_LOGINS_ENABLED:
            return False
        return super().user_can_authenticate(user)


class StaffTokenAuthentication(TokenAuthentication):
    """API tokens obey the same rule as passwords: no demo account while demo logins are off."""

    def authenticate_credentials(self, key: str):
        user, token = super().authenticate_credentials(key)
        if getattr(user, "is_demo", False) and not settings.DEMO_LOGINS_ENABLED:
            raise exceptions.AuthenticationFailed(
                "デモ用アカウントは無効です。 (Demo accounts are disabled.)"
            )
        return user, token
