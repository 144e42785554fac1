"""Roles are Django groups with these names (created by a data migration)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

STAFF = "staff"
CLERK = "clerk"
MANAGER = "manager"
RECORDS_OFFICER = "records_officer"
HR = "hr"
DX_OFFICE = "dx_office"
ADMIN = "admin"

ROLES: dict[str, str] = {
    STAFF: _("職員"),
    CLERK: _("庶務担当"),
    MANAGER: _("管理職（承認者）"),
    RECORDS_OFFICER: _("文書主管課"),
    HR: _("人事課"),
    DX_OFFICE: _("DX推進"),
    ADMIN: _("システム管理者"),
}


def has_role(user, role: str) -> bool:
    """Whether the user holds `role`; the groups are read once per request and cached."""
    if not getattr(user, "is_authenticated", False):
        return False
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._role_names = cached
    return role in cached
