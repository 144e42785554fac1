"""Domain errors with a message a person understands, in Japanese and English."""

from __future__ import annotations


class WorkflowError(Exception):
    """Base: `message` is Japanese first, with the English after it."""

    status_code = 409

    def __init__(self, ja: str, en: str) -> None:
        super().__init__(f"{ja} ({en})")
        self.ja = ja
        self.en = en

    @property
    def message(self) -> str:
        return str(self)


class AlreadyDecided(WorkflowError):
    def __init__(self) -> None:
        super().__init__(
            "この案件は既に他の人が処理しました。画面を更新してください。",
            "Someone else has already acted on this item; reload the page.",
        )


class NotAllowed(WorkflowError):
    status_code = 403


class InvalidRequest(WorkflowError):
    status_code = 400
