from __future__ import annotations

import pytest

from attendance.loader import rules_load
from attendance.models import LeaveRules


@pytest.fixture
def leave_rules(db) -> None:
    """The national defaults from fixtures/attendance/*.json."""
    rules_load()


@pytest.fixture
def regular_rules(leave_rules) -> LeaveRules:
    return LeaveRules.objects.get(employee_class="regular")
