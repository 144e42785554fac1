"""What the engine needs from a subject (起案文書, leave request, disposal batch …).

A subject is a model with these methods. The engine calls the `workflow_on_*` hooks
inside its own transaction, with the route locked, so a subject's state always moves
together with its route. Adding a new kind of subject needs no change to the engine.

Optional: `workflow_may_withdraw(actor) -> bool`, who besides the one who submitted the
route may withdraw it (a leave request filed by a clerk: the person it is for).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from org.models import Staff

    from .models import Route


@runtime_checkable
class Subject(Protocol):
    pk: int

    def workflow_title(self) -> str: ...

    def workflow_summary(self) -> str: ...

    def get_absolute_url(self) -> str:
        """Must depend on the pk only: the inbox builds it without loading the subject."""
        ...

    def workflow_on_approved(self, *, route: Route, actor: Staff) -> None: ...

    def workflow_on_rejected(self, *, route: Route, actor: Staff) -> None: ...

    def workflow_on_returned(self, *, route: Route, actor: Staff) -> None: ...

    def workflow_on_withdrawn(self, *, route: Route, actor: Staff) -> None: ...
