"""What the records capability needs from whatever becomes a record.

A source (a decided 起案文書 today; received documents, minutes and reports later) is a
model with `record_payload() -> RenderPayload`: everything printed on the official PDF,
gathered by the source's own app. Records never imports the apps above it; it calls this
method on the object its Record points to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class ApprovalRow:
    """One line of the approval record (回議用紙) with its electronic stamp (電子印影)."""

    stage: str  # 回議 / 合議 / 決裁 / 供覧
    post: str  # the post the step asked for, e.g. 「財政課長」
    name: str  # who acted (family name first)
    family_name: str  # for the seal
    action: str  # 承認 / 決裁 / 差戻し / 引上げ …
    mode: str  # "" (in person), 代決, 引上げ（後閲）, 後閲
    at: dt.datetime | None
    comment: str = ""
    on_behalf_of: str = ""  # the absent holder, for 代決


@dataclass(frozen=True)
class AttachmentItem:
    name: str
    content_type: str
    sha256: str
    size: int
    read: Callable[[], bytes]  # the bytes, read only when rendering


@dataclass(frozen=True)
class RenderPayload:
    kind_label: str  # 起案文書
    number: str  # 文書番号
    title: str  # 件名
    drafter: str  # post and name: 「財政課 主事 佐々木 大輔」
    department: str
    dates: list[tuple[str, dt.date | None]]  # [("起案日", d), ("決裁日", d), ("施行日", d)]
    classification: str  # 文書分類 (free text until the records schedule exists)
    retention: str  # 保存期間
    confidentiality: str
    body: str
    approvals: list[ApprovalRow] = field(default_factory=list)
    attachments: list[AttachmentItem] = field(default_factory=list)
    history_json: bytes = b"[]"  # the audit events of the source, machine-readable


@runtime_checkable
class RecordSource(Protocol):
    pk: int

    def record_payload(self) -> RenderPayload: ...

    def record_visible_to(self, staff: object) -> bool:
        """Whether this person may read the record's content (the PDF)."""
        ...

    def record_destroy_content(self) -> set[str]:
        """At 廃棄: remove the source's own content, keep its rows; return the storage
        names to delete after commit."""
        ...
