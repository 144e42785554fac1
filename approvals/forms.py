"""Forms of the document pages. They parse and validate input only; every write is a
service call made by the view (no form `save()`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from common.dates import today
from org.models import Assignment, Department, Post, Staff
from records.files import classification_leaves_in_force
from records.models import Classification
from workflow.errors import InvalidRequest
from workflow.models import Stage, Step
from workflow.services import StageSpec, StepSpec

from .models import AuthorityTable, Document, MatterCategory


class StaffChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Staff) -> str:
        return obj.display_name


def staff_choices() -> Any:
    """People who sit somewhere today (logins without an assignment are not asked)."""
    return (
        Staff.objects.filter(
            is_active=True, assignments__in=Assignment.objects.effective_on(today())
        )
        .distinct()
        .order_by("employee_number", "username")
    )


def section_choices() -> Any:
    return Department.objects.filter(is_active=True, level=Department.Level.KA).order_by(
        "sort_order", "code"
    )


class DocumentForm(forms.Form):
    title = forms.CharField(label=_("件名"), max_length=300)
    body = forms.CharField(
        label=_("本文"), widget=forms.Textarea(attrs={"rows": 10}), required=False
    )
    category = forms.ModelChoiceField(
        label=_("事案の区分"),
        queryset=MatterCategory.objects.all(),
        empty_label=_("選択してください"),
    )
    amount = forms.IntegerField(
        label=_("金額（円）"),
        min_value=0,
        max_value=10**15,
        required=False,
        help_text=_("支出を伴わない事案は空欄のままにしてください。"),
    )
    important = forms.BooleanField(
        label=_("重要・異例"),
        required=False,
        help_text=_("決裁権者が一段上がり、代決できなくなります。"),
    )
    confidentiality = forms.ChoiceField(
        label=_("秘密区分"), choices=Document.Confidentiality.choices
    )
    classification = forms.ModelChoiceField(
        label=_("文書分類"),
        queryset=Classification.objects.none(),
        required=False,
        empty_label=_("選択してください"),
        help_text=_("文書分類表の小分類。保存期間は分類のものになります。"),
    )
    retention = forms.ChoiceField(
        label=_("保存期間"),
        choices=Document.Retention.choices,
        initial=Document.Retention.Y5,
        help_text=_("文書分類を選んだときは、その分類の保存期間が使われます。"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["classification"].queryset = classification_leaves_in_force()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("classification") is not None:
            # The schedule decides the period: the document follows its classification.
            data["retention"] = data["classification"].retention
        return data

    def clean_title(self) -> str:
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError(_("件名を入力してください。"))
        return title

    @classmethod
    def initial_for(cls, document: Document) -> dict[str, Any]:
        return {
            "title": document.title,
            "body": document.body,
            "category": document.category_id,
            "amount": document.amount,
            "important": document.important,
            "confidentiality": document.confidentiality,
            "retention": document.retention,
            "classification": document.classification_id,
        }


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("添付ファイル"))


def consultation_post() -> Post:
    """Who a 合議 asks in each department: the first rung of the ladder of deciders in the
    table in force (課長), as the proposed route does (approvals.services.route_propose)."""
    table = AuthorityTable.objects.in_force()
    level = table.levels.select_related("post").order_by("level").first() if table else None
    if level is None:
        raise InvalidRequest("事務決裁規程が登録されていません。", "No authority table in force.")
    return level.post


class ExtraStagesForm(forms.Form):
    """Stages the drafter adds before the decision: never a way to change the decider."""

    consult = forms.ModelMultipleChoiceField(
        label=_("合議先（課）"),
        queryset=Department.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("各課の課長に合議します。"),
    )
    inform = StaffChoiceField(
        label=_("供覧先（職員）"),
        queryset=Staff.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_("情報共有のための回覧です。決裁を待たせません。"),
    )

    def __init__(self, *args: Any, exclude_departments: list[int] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["consult"].queryset = section_choices().exclude(pk__in=exclude_departments)
        self.fields["inform"].queryset = staff_choices()

    def stages(self) -> list[StageSpec]:
        stages: list[StageSpec] = []
        if self.cleaned_data["consult"]:
            post = consultation_post()
            stages.append(
                StageSpec(
                    Stage.Kind.CONSULTATION,
                    [StepSpec(post=post, department=d) for d in self.cleaned_data["consult"]],
                )
            )
        if self.cleaned_data["inform"]:
            stages.append(
                StageSpec(
                    Stage.Kind.INFORMATION,
                    [StepSpec(person=p) for p in self.cleaned_data["inform"]],
                )
            )
        return stages


class AddStageForm(forms.Form):
    """An approver adds a stage right after their own step (回議・合議・供覧)."""

    KINDS = [
        (Stage.Kind.CONSULTATION, _("合議（課を選ぶ）")),
        (Stage.Kind.CIRCULATION, _("回議（職員を選ぶ）")),
        (Stage.Kind.INFORMATION, _("供覧（職員を選ぶ）")),
    ]
    kind = forms.ChoiceField(label=_("追加する段"), choices=KINDS, widget=forms.RadioSelect)
    departments = forms.ModelMultipleChoiceField(
        label=_("合議先（課）"),
        queryset=Department.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    people = StaffChoiceField(
        label=_("職員"),
        queryset=Staff.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["departments"].queryset = section_choices()
        self.fields["people"].queryset = staff_choices()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        if kind == Stage.Kind.CONSULTATION and not data.get("departments"):
            self.add_error("departments", _("合議先の課を選んでください。"))
        if kind in (Stage.Kind.CIRCULATION, Stage.Kind.INFORMATION) and not data.get("people"):
            self.add_error("people", _("職員を選んでください。"))
        return data

    def spec(self) -> StageSpec:
        kind = self.cleaned_data["kind"]
        if kind == Stage.Kind.CONSULTATION:
            post = consultation_post()
            steps = [StepSpec(post=post, department=d) for d in self.cleaned_data["departments"]]
        else:
            steps = [StepSpec(person=p) for p in self.cleaned_data["people"]]
        return StageSpec(kind, steps)


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


class ReturnForm(ReasonForm):
    to_step = forms.TypedChoiceField(
        label=_("差戻し先"), coerce=int, required=False, empty_value=None
    )

    def __init__(self, *args: Any, targets: list[Step] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to_step"].choices = [
            ("", _("起案者（経路を終了し、修正できる状態に戻す）")),
            *[(s.pk, f"{s.stage.get_kind_display()}: {_who(s)}") for s in targets],
        ]


def _who(step: Step) -> str:
    if step.acted_by_id:
        return f"{step.acted_by} ({step.assignee_label})"
    return step.assignee_label


class CommentForm(forms.Form):
    comment = forms.CharField(
        label=_("意見"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("意見を入力してください。")},
    )


class DateForm(forms.Form):
    """施行日・完結日."""

    on = forms.DateField(
        label=_("日付"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args: Any, label: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["on"].initial = today()
        if label:
            self.fields["on"].label = label

    @property
    def day(self) -> dt.date:
        return self.cleaned_data["on"]


class DocumentFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("状態"),
        required=False,
        choices=[("", _("すべて")), *Document.Status.choices],
    )
