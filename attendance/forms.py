"""Forms of the attendance pages. They parse and check the input's shape only; every rule
(units a type allows, overlap, balance, caps, closed months) is the service's, and its
refusal reaches the person as a message."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from org.models import Staff

from .models import LeaveLedgerEntry, LeaveRequest, LeaveType, OvertimeReview
from .overtime import TOKYO

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME = forms.TimeInput(attrs={"type": "time", "step": 60}, format="%H:%M")
REQUIRED = {"required": _("入力してください。")}


class StaffChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Staff) -> str:
        return getattr(obj, "seat_label", "") or obj.display_name


def _staff_field(people: list[Staff], me: Staff) -> StaffChoice:
    field = StaffChoice(
        label=_("対象の職員"),
        queryset=Staff.objects.filter(pk__in=[me.pk, *(p.pk for p in people)]),
        required=False,
        empty_label=_("自分（%(name)s）") % {"name": me.display_name},
        help_text=_("庶務担当・所属長・人事課は、他の職員の分を申請できます。"),
    )
    # Labels and order come from the list already read, not from a second query.
    field.choices = [
        ("", field.empty_label),
        *[(p.pk, field.label_from_instance(p)) for p in people],
    ]
    return field


class _WithStaff(forms.Form):
    def __init__(self, *args: Any, people: list[Staff] = (), me: Staff, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.me = me
        if people:
            self.fields["staff"] = _staff_field(list(people), me)
            self.order_fields(["staff"])

    def person(self) -> Staff:
        return self.cleaned_data.get("staff") or self.me


class LeaveRequestForm(_WithStaff):
    leave_type = forms.ModelChoiceField(
        label=_("休暇の種類"),
        queryset=LeaveType.objects.filter(is_active=True),
        empty_label=_("選択してください"),
        error_messages={"required": _("休暇の種類を選んでください。")},
    )
    unit = forms.ChoiceField(
        label=_("単位"),
        choices=LeaveLedgerEntry.Unit.choices,
        initial=LeaveLedgerEntry.Unit.DAY,
        widget=forms.RadioSelect,
        error_messages={"required": _("単位を選んでください。")},
    )
    start_date = forms.DateField(
        label=_("日付（開始日）"),
        widget=DATE,
        error_messages={"required": _("日付を入力してください。")},
    )
    end_date = forms.DateField(
        label=_("終了日"),
        widget=DATE,
        required=False,
        help_text=_("1日だけなら空欄のままにしてください。"),
    )
    half = forms.ChoiceField(
        label=_("午前・午後"),
        choices=LeaveRequest.Half.choices,
        widget=forms.RadioSelect,
        required=False,
    )
    start_time = forms.TimeField(label=_("開始時刻"), widget=TIME, required=False)
    end_time = forms.TimeField(label=_("終了時刻"), widget=TIME, required=False)
    reason = forms.CharField(
        label=_("理由（任意）"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    correction_reason = forms.CharField(
        label=_("訂正の理由"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("締めた月の休暇を申請するときだけ入力します（人事課まで回ります）。"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["leave_type"].queryset = LeaveType.objects.filter(is_active=True).order_by(
            "sort_order", "code"
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        unit = data.get("unit")
        start, end = data.get("start_date"), data.get("end_date")
        if unit == LeaveLedgerEntry.Unit.DAY:
            if start and end and end < start:
                self.add_error("end_date", _("終了日は開始日以降にしてください。"))
        elif unit == LeaveLedgerEntry.Unit.HALF_DAY:
            if not data.get("half"):
                self.add_error("half", _("午前か午後を選んでください。"))
        elif unit in LeaveLedgerEntry.HOURLY_UNITS:
            if data.get("start_time") is None:
                self.add_error("start_time", _("開始時刻を入力してください。"))
            if data.get("end_time") is None:
                self.add_error("end_time", _("終了時刻を入力してください。"))
            if (s := data.get("start_time")) and (e := data.get("end_time")) and e <= s:
                self.add_error("end_time", _("終了時刻は開始時刻より後にしてください。"))
        return data

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        unit = data["unit"]
        hourly = unit in LeaveLedgerEntry.HOURLY_UNITS
        return {
            "staff": self.person(),
            "leave_type": data["leave_type"],
            "unit": unit,
            "start_date": data["start_date"],
            "end_date": data["end_date"] if unit == LeaveLedgerEntry.Unit.DAY else None,
            "half": data["half"] if unit == LeaveLedgerEntry.Unit.HALF_DAY else "",
            "start_time": data["start_time"] if hourly else None,
            "end_time": data["end_time"] if hourly else None,
            "reason": data["reason"],
            "correction_reason": data["correction_reason"],
        }


def span(day: dt.date, start: dt.time, end: dt.time) -> tuple[dt.datetime, dt.datetime]:
    """A span on `day` in Tokyo; an end at or before the start is on the next day."""
    begins = dt.datetime.combine(day, start, tzinfo=TOKYO)
    ends = dt.datetime.combine(day, end, tzinfo=TOKYO)
    if ends <= begins:
        ends += dt.timedelta(days=1)
    return begins, ends


class OvertimeForm(_WithStaff):
    work_date = forms.DateField(
        label=_("勤務日"), widget=DATE, error_messages={"required": _("勤務日を入力してください。")}
    )
    start_time = forms.TimeField(
        label=_("開始予定"),
        widget=TIME,
        error_messages={"required": _("開始時刻を入力してください。")},
    )
    end_time = forms.TimeField(
        label=_("終了予定"),
        widget=TIME,
        error_messages={"required": _("終了時刻を入力してください。")},
    )
    task = forms.CharField(
        label=_("業務内容"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("業務内容を入力してください。")},
    )
    moved_rest_day = forms.DateField(
        label=_("振替えた週休日（任意）"),
        widget=DATE,
        required=False,
        help_text=_("週休日の振替をした場合、その日を入力します。"),
    )
    special = forms.BooleanField(
        label=_("特例業務（災害対応など）"),
        required=False,
        help_text=_("上限を超えられますが、年度終了後に人事課が要因を整理・分析・検証します。"),
    )
    special_reason = forms.CharField(
        label=_("特例業務の理由"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    after_the_fact_reason = forms.CharField(
        label=_("事後命令の理由"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "開始時刻を過ぎてから申請する場合だけ、事前に命令できなかった理由を入力します。"
        ),
    )
    correction_reason = forms.CharField(
        label=_("訂正の理由"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("締めた月の超過勤務を申請するときだけ入力します（人事課まで回ります）。"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("special") and not (data.get("special_reason") or "").strip():
            self.add_error("special_reason", _("特例業務の理由を入力してください。"))
        return data

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        start, end = span(data["work_date"], data["start_time"], data["end_time"])
        return {
            "staff": self.person(),
            "task": data["task"],
            "planned_start": start,
            "planned_end": end,
            "special": data["special"],
            "special_reason": data["special_reason"],
            "after_the_fact_reason": data["after_the_fact_reason"],
            "moved_rest_day": data["moved_rest_day"],
            "correction_reason": data["correction_reason"],
        }


class ActualForm(forms.Form):
    """The actual times of an overtime (実績報告), or their correction after the close."""

    actual_date = forms.DateField(
        label=_("勤務日"), widget=DATE, error_messages={"required": _("勤務日を入力してください。")}
    )
    actual_start = forms.TimeField(
        label=_("開始（実績）"),
        widget=TIME,
        error_messages={"required": _("開始時刻を入力してください。")},
    )
    actual_end = forms.TimeField(
        label=_("終了（実績）"),
        widget=TIME,
        error_messages={"required": _("終了時刻を入力してください。")},
    )
    break_minutes = forms.IntegerField(
        label=_("休憩（分）"),
        min_value=0,
        max_value=24 * 60,
        initial=0,
        error_messages={
            "required": _("休憩の分数を入力してください（なければ 0）。"),
            "invalid": _("休憩は分を数字で入力してください。"),
        },
    )

    def span(self) -> tuple[dt.datetime, dt.datetime]:
        data = self.cleaned_data
        return span(data["actual_date"], data["actual_start"], data["actual_end"])


class ActualCorrectionForm(ActualForm):
    reason = forms.CharField(
        label=_("訂正の理由"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("訂正の理由を入力してください。")},
    )


class CorrectionReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("訂正の理由"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("訂正の理由を入力してください。")},
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("理由（任意）"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ApproveForm(forms.Form):
    comment = forms.CharField(
        label=_("意見（任意）"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReasonForm(forms.Form):
    """差戻し・却下: a reason is required."""

    comment = forms.CharField(
        label=_("理由"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("理由を入力してください。")},
    )

    def clean_comment(self) -> str:
        comment = self.cleaned_data["comment"].strip()
        if not comment:
            raise forms.ValidationError(_("理由を入力してください。"))
        return comment


class ReviewForm(forms.Form):
    causes = forms.CharField(
        label=OvertimeReview._meta.get_field("causes").verbose_name,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("要因の整理を入力してください。")},
    )
    analysis = forms.CharField(
        label=OvertimeReview._meta.get_field("analysis").verbose_name,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("分析を入力してください。")},
    )
    verification = forms.CharField(
        label=OvertimeReview._meta.get_field("verification").verbose_name,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("検証を入力してください。")},
    )


class MonthCloseForm(forms.Form):
    month = forms.DateField(
        label=_("月"),
        input_formats=["%Y-%m-%d", "%Y-%m"],
        error_messages={"required": _("締める月を選んでください。")},
    )
