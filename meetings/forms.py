"""Forms of the meeting pages. They parse and validate input only; every write is a
service call made by the view (no form `save()`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth.models import Group
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from common.dates import today
from org.models import Assignment, Department, Staff
from org.roles import ROLES
from records.files import classification_leaves_in_force
from records.models import Classification

from .models import AgendaItem, Meeting, Participant


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Staff) -> str:
        return obj.display_name


class StaffMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Staff) -> str:
        return obj.display_name


class DepartmentChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Department) -> str:
        return obj.full_name


class GroupChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Group) -> str:
        return str(ROLES.get(obj.name, obj.name))


def staff_choices() -> Any:
    """People who sit somewhere today (logins without an assignment are not offered)."""
    return (
        Staff.objects.filter(
            is_active=True, assignments__in=Assignment.objects.effective_on(today())
        )
        .distinct()
        .order_by("employee_number", "username")
    )


class MeetingForm(forms.Form):
    """Create or edit a meeting. Chair and 秘 are fixed once the meeting exists: the
    chair holds a permission and confidential pages are rendered per viewer."""

    title = forms.CharField(label=_("会議名"), max_length=200)
    kind = forms.ChoiceField(
        label=_("種類"), choices=Meeting.Kind.choices, initial=Meeting.Kind.KANAI
    )
    day = forms.DateField(
        label=_("開催日"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    start = forms.TimeField(
        label=_("開始時刻"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    end = forms.TimeField(
        label=_("終了予定時刻"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    place = forms.CharField(label=_("場所"), max_length=200, required=False)
    chair = StaffChoiceField(
        label=_("議長"),
        queryset=Staff.objects.none(),
        required=False,
        empty_label=_("（なし）"),
        help_text=_("議長は資料の操作と進行ができます。作成後は変更できません。"),
    )
    confidential = forms.BooleanField(
        label=_("秘"),
        required=False,
        help_text=_(
            "資料を参加者ごとの透かし（氏名・所属・日時）入りで表示し、原本は配布しません。"
            "終了後は一定期間で閲覧できなくなります。作成後は変更できません。"
        ),
    )
    allow_download = forms.BooleanField(
        label=_("原本PDFのダウンロードを許可"),
        required=False,
        help_text=_("秘の会議・秘の資料は常にダウンロードできません。"),
    )
    classification = forms.ModelChoiceField(
        label=_("文書分類（議事録）"),
        queryset=Classification.objects.none(),
        required=False,
        empty_label=_("選択してください"),
        help_text=_("終了後に議事録を公文書として登録するときの分類です。"),
    )

    def __init__(self, *args: Any, meeting: Meeting | None = None, **kwargs: Any) -> None:
        if meeting is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(meeting)
        super().__init__(*args, **kwargs)
        self.meeting = meeting
        self.fields["chair"].queryset = staff_choices()
        self.fields["classification"].queryset = classification_leaves_in_force()
        if meeting is not None:
            self.fields["chair"].disabled = True
            self.fields["confidential"].disabled = True

    @staticmethod
    def initial_for(meeting: Meeting) -> dict[str, Any]:
        starts = timezone.localtime(meeting.starts_at)
        ends = timezone.localtime(meeting.ends_at)
        return {
            "title": meeting.title,
            "kind": meeting.kind,
            "day": starts.date(),
            "start": starts.time().replace(second=0, microsecond=0),
            "end": ends.time().replace(second=0, microsecond=0),
            "place": meeting.place,
            "chair": meeting.chair_id,
            "confidential": meeting.confidential,
            "allow_download": meeting.allow_download,
            "classification": meeting.classification_id,
        }

    def clean_title(self) -> str:
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError(_("会議名を入力してください。"))
        return title

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start is not None and end is not None and end <= start:
            self.add_error("end", _("終了予定時刻は開始時刻より後にしてください。"))
        if data.get("confidential") and data.get("allow_download"):
            self.add_error(
                "allow_download", _("秘の会議では原本PDFのダウンロードを許可できません。")
            )
        return data

    def _at(self, time: dt.time) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.cleaned_data["day"], time))

    @property
    def starts_at(self) -> dt.datetime:
        return self._at(self.cleaned_data["start"])

    @property
    def ends_at(self) -> dt.datetime:
        return self._at(self.cleaned_data["end"])

    def create_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "title": data["title"],
            "kind": data["kind"],
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "place": data["place"],
            "chair": data["chair"],
            "confidential": data["confidential"],
            "allow_download": data["allow_download"],
            "classification": data["classification"],
        }

    def changes(self) -> dict[str, Any]:
        """What differs from the meeting, as `services.meeting_update` takes it."""
        meeting = self.meeting
        assert meeting is not None
        data = self.cleaned_data
        wanted = {
            "title": data["title"],
            "kind": data["kind"],
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "place": data["place"],
            "allow_download": data["allow_download"],
            "classification": data["classification"],
        }
        return {name: value for name, value in wanted.items() if getattr(meeting, name) != value}


class ParticipantsForm(forms.Form):
    """Invite people, the members of departments (with their 係) or of groups, as of
    today. The chair is set with the meeting."""

    ROLES = [
        (Participant.Role.MEMBER, Participant.Role.MEMBER.label),
        (Participant.Role.PRESENTER, Participant.Role.PRESENTER.label),
        (Participant.Role.OBSERVER, Participant.Role.OBSERVER.label),
    ]

    people = StaffMultipleChoiceField(
        label=_("職員"),
        queryset=Staff.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    departments = DepartmentChoiceField(
        label=_("所属（部・課・係）"),
        queryset=Department.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text=_("選んだ所属（その係を含む）に今日いる職員を招集します。"),
    )
    groups = GroupChoiceField(
        label=_("グループ"),
        queryset=Group.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    role = forms.ChoiceField(
        label=_("役割"), choices=ROLES, initial=Participant.Role.MEMBER, widget=forms.RadioSelect
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["people"].queryset = staff_choices()
        self.fields["departments"].queryset = Department.objects.filter(is_active=True).order_by(
            "sort_order", "code"
        )
        self.fields["groups"].queryset = Group.objects.order_by("name")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not (data.get("people") or data.get("departments") or data.get("groups")):
            raise forms.ValidationError(_("職員・所属・グループのいずれかを選んでください。"))
        return data


class AgendaItemForm(forms.Form):
    title = forms.CharField(label=pgettext_lazy("agenda item", "議題"), max_length=200)
    presenter = StaffChoiceField(
        label=_("説明者"),
        queryset=Staff.objects.none(),
        required=False,
        empty_label=_("（なし）"),
        help_text=_("説明者は参加者に加わり、資料を操作できます。"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["presenter"].queryset = staff_choices()

    def clean_title(self) -> str:
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError(_("議題を入力してください。"))
        return title


class MaterialForm(forms.Form):
    title = forms.CharField(label=_("資料名"), max_length=200)
    file = forms.FileField(
        label=_("ファイル（PDF・PNG・JPEG）"),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/png,image/jpeg"}),
        error_messages={
            "required": _("ファイルを選んでください。"),
            "empty": _("空のファイルです（0バイト）。"),
        },
    )
    agenda_item = forms.ModelChoiceField(
        label=pgettext_lazy("agenda item", "議題"),
        queryset=AgendaItem.objects.none(),
        required=False,
        empty_label=_("（議題に関連付けない）"),
    )
    confidential = forms.BooleanField(
        label=_("秘"),
        required=False,
        help_text=_("参加者ごとの透かし入りで表示し、原本はダウンロードできません。"),
    )

    def __init__(self, *args: Any, meeting: Meeting, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agenda_item"].queryset = meeting.agenda.order_by("position")
        if meeting.confidential:
            self.fields["confidential"].initial = True
            self.fields["confidential"].disabled = True
            self.fields["confidential"].help_text = _("秘の会議の資料はすべて秘です。")

    def clean_title(self) -> str:
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError(_("資料名を入力してください。"))
        return title


class ReplaceForm(forms.Form):
    file = forms.FileField(
        label=_("新しい版のファイル（PDF・PNG・JPEG）"),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/png,image/jpeg"}),
        error_messages={
            "required": _("ファイルを選んでください。"),
            "empty": _("空のファイルです（0バイト）。"),
        },
    )


class MinutesForm(forms.Form):
    text = forms.CharField(
        label=_("本文"), required=False, widget=forms.Textarea(attrs={"rows": 14})
    )
    file = forms.FileField(
        label=_("PDF"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf"}),
        help_text=_("PDFを登録すると、前に登録したPDFと置き換わります。"),
        error_messages={"empty": _("空のファイルです（0バイト）。")},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not (data.get("text") or "").strip() and not data.get("file") and not self.errors:
            raise forms.ValidationError(_("議事録の本文かPDFを指定してください。"))
        return data
