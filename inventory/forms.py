"""Forms of the inventory pages. They parse and check the shape of input; the rules are
in inventory/services.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from org.models import Department

from .models import (
    AttachmentKind,
    AttachmentStatus,
    BusinessProcess,
    LifeEvent,
    OnlineStatus,
    PaymentMethod,
    PriorityWeights,
    Procedure,
    ProcessFlow,
)
from .services import PROCEDURE_FIELDS, PROCESS_FIELDS, WEIGHT_FIELDS


def _departments() -> Any:
    return Department.objects.filter(is_active=True).exclude(level=Department.Level.BU)


class ProcedureForm(forms.ModelForm):
    payment_methods = forms.MultipleChoiceField(
        label=_("手数料等の納付方法"),
        choices=PaymentMethod.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    attachments = forms.MultipleChoiceField(
        label=_("申請時に添付させる書類"),
        choices=AttachmentKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    attachment_status = forms.MultipleChoiceField(
        label=_("添付書類等提出の撤廃/省略状況"),
        choices=AttachmentStatus.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    life_events = forms.MultipleChoiceField(
        label=_("手続が行われるイベント(個人)"),
        choices=LifeEvent.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    detail_url = forms.URLField(
        label=_("詳細URL"), required=False, max_length=300, assume_scheme="https"
    )

    class Meta:
        model = Procedure
        fields = list(PROCEDURE_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = _departments()

    def changes(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.changed_data}


class VolumeForm(forms.Form):
    fiscal_year = forms.IntegerField(label=_("年度（西暦）"), min_value=2000, max_value=2100)
    total = forms.IntegerField(label=_("総手続件数"), min_value=0, required=False)
    online = forms.IntegerField(label=_("オンライン手続件数"), min_value=0, required=False)
    offline = forms.IntegerField(label=_("非オンライン手続件数"), min_value=0, required=False)


class ProcedureFilterForm(forms.Form):
    q = forms.CharField(label=_("キーワード"), required=False, max_length=100)
    department = forms.ModelChoiceField(
        label=_("所管課"), queryset=Department.objects.none(), required=False
    )
    online_status = forms.ChoiceField(
        label=_("オンライン化の実施状況"),
        choices=[("", _("すべて")), *OnlineStatus.choices],
        required=False,
    )
    national = forms.BooleanField(label=_("国の優先リストのみ"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = _departments()


class WeightsForm(forms.ModelForm):
    class Meta:
        model = PriorityWeights
        fields = ["valid_from", *WEIGHT_FIELDS, "dx_department", "note"]
        widgets = {"valid_from": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dx_department"].queryset = _departments()


class WhatIfForm(forms.Form):
    """Assumptions to try on the ranking page; nothing is saved."""

    expected_online_share = forms.DecimalField(
        label=_("想定オンライン利用率"),
        min_value=Decimal("0"),
        max_value=Decimal("1"),
        decimal_places=3,
        required=False,
    )
    national_multiplier = forms.DecimalField(
        label=_("国の優先リストの倍率"),
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        decimal_places=2,
        required=False,
    )
    w_law_change = forms.DecimalField(
        label=_("重み: 制度改正が必要"),
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        decimal_places=2,
        required=False,
    )
    w_in_person = forms.DecimalField(
        label=_("重み: 対面が必要"),
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        decimal_places=2,
        required=False,
    )

    def overrides(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v is not None}


class DecisionForm(forms.Form):
    rank = forms.IntegerField(label=_("優先順位"), min_value=1, max_value=100000)
    reason = forms.CharField(
        label=_("理由"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )


class ReasonForm(forms.Form):
    comment = forms.CharField(
        label=_("理由"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )


class ProcessForm(forms.ModelForm):
    procedures = forms.ModelMultipleChoiceField(
        label=_("関連する手続"),
        queryset=Procedure.objects.order_by("procedure_id"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )

    class Meta:
        model = BusinessProcess
        fields = list(PROCESS_FIELDS)
        widgets = {"purpose": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = _departments()
        if self.instance.pk:
            self.fields["procedures"].initial = list(self.instance.procedures.all())


class FlowForm(forms.Form):
    kind = forms.ChoiceField(label=_("種別"), choices=ProcessFlow.Kind.choices)
    file = forms.FileField(
        label=_("ファイル"), help_text=_("BPMN 2.0 の XML（.bpmn）、PDF、画像など。20 MB まで")
    )


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("ファイル"), help_text=_("棚卸調査の様式の .xlsx または .csv（UTF-8 / Shift_JIS）")
    )


class FiscalYearForm(forms.Form):
    fiscal_year = forms.IntegerField(
        label=_("年度（西暦）"), min_value=2000, max_value=2100, required=False
    )


class PaperCountForm(forms.Form):
    department = forms.ModelChoiceField(label=_("所属"), queryset=Department.objects.none())
    fiscal_year = forms.IntegerField(label=_("年度（西暦）"), min_value=2000, max_value=2100)
    count = forms.IntegerField(label=_("紙の決裁件数"), min_value=0, max_value=10_000_000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = _departments()
