"""The operations inventory (業務・手続の棚卸): procedures, business processes, the DX
priority weights and the human priority decisions.

Procedures follow デジタル庁「行政手続等の棚卸調査」: its coded columns are `TextChoices`
whose values are the national code strings ("1", "2-1", "1-3" …), so an export writes
"1 申請等" exactly as the national file does. The national columns this app does not use
(独立行政法人等の名称, 申請に関連する士業 …) are kept verbatim in `Procedure.extra`, so a
file that is imported and exported again comes back cell for cell.

The computed score (inventory/scoring.py) is never stored on a procedure: it is worked
out from the procedure and the weights in force whenever it is shown. The human decision
(`PriorityDecision`: rank, reason, who decided) is a separate row that goes through the
workflow engine to the head of the DX office.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

STAFF = settings.AUTH_USER_MODEL


# --- the national code lists (datasets/procedures-survey-r7) ---------------------------


class ProcedureType(models.TextChoices):
    """手続類型."""

    APPLICATION = "1", _("申請等")
    NOTICE_ON_APPLICATION = "2-1", _("申請等に基づく処分通知等")
    NOTICE_WITHOUT_APPLICATION = "2-2", _("申請等に基づかない処分通知等")
    DELIVERY = "2-3", _("交付等（民間手続）")
    INSPECTION = "3", _("縦覧等")
    RECORDING = "4", _("作成・保存等")


class Party(models.TextChoices):
    """手続主体 / 手続の受け手 / 経由機関."""

    STATE = "1", _("国")
    AGENCY = "2", _("独立行政法人等")
    LOCAL = "3", _("地方等")
    STATE_OR_AGENCY = "4-1", _("国又は独立行政法人等")
    AGENCY_OR_LOCAL = "4-2", _("独立行政法人等又は地方等")
    STATE_OR_LOCAL = "4-3", _("国又は地方等")
    ANY_PUBLIC = "4-4", _("国、独立行政法人等又は地方等")
    RESIDENTS = "5", _("国民等")
    BUSINESSES = "6", _("民間事業者等")
    RESIDENTS_OR_BUSINESSES = "7", _("国民等、民間事業者等")


class AffairsType(models.TextChoices):
    """事務区分 (地方自治法第2条)."""

    AUTONOMOUS = "1", _("自治事務")
    ENTRUSTED_1 = "2", _("第1号法定受託事務")
    ENTRUSTED_2 = "3", _("第2号法定受託事務")
    NOT_LOCAL = "4", _("地方の事務でない")


class OnlineStatus(models.TextChoices):
    """オンライン化の実施状況."""

    DONE = "1", _("実施済")
    NOT_YET = "2", _("未実施")
    EXEMPT = "3", _("適用除外")
    OTHER = "4", _("その他")


class Concern(models.TextChoices):
    """オンライン化の実施予定及び検討時の懸念点."""

    PLANNED = "0", _("オンライン化実施予定")
    LAW_NO_TIME = "1", _("制度改正が必要であり、制度改正のための時間確保が困難")
    LAW_LOW_PRIORITY = "2", _("制度改正が必要であり、制度改正の業務上の優先順位が高くない")
    NO_SYSTEM = "3", _("電子化に必要なシステムが省庁内に備わっていない")
    PAPER_ORIGINAL = (
        "4",
        _("一部の必要書類の原本が紙であり、電子化してもオンライン処理が完結しない"),
    )
    UNSUITABLE = "5", _("性質上、電子化すべきでない")
    LOW_BENEFIT = "6", _("オンライン化の費用対効果が小さい又は不明")
    OTHER = "7", _("上記に該当しない（理由を記載）")


class PlannedYear(models.TextChoices):
    """オンライン化実施時期."""

    FY2024 = "1", _("2024年度")
    FY2025 = "2", _("2025年度")
    FY2026 = "3", _("2026年度")
    FY2027 = "4", _("2027年度")
    FY2028 = "5", _("2028年度")
    FY2029 = "6", _("2029年度")
    FY2030_OR_LATER = "7", _("2030年度以降")


class IdentityCheck(models.TextChoices):
    """申請等における本人確認手法."""

    SEAL_AND_CERTIFICATE = "1", _("押印＋印鑑証明")
    SEAL = "2", _("押印")
    SIGNATURE = "3", _("署名")
    ID_DOCUMENT = "4", _("本人確認書類の提示・提出")
    OTHER = "5", _("その他")
    NONE = "6", _("本人確認不要")


class Fee(models.TextChoices):
    """手数料等の納付有無."""

    NONE = "1", _("手数料等無し")
    PAID = "2", _("手数料等有り")


class PaymentMethod(models.TextChoices):
    """手数料等の納付方法 (1-x offline, 2-x online; several may apply)."""

    COUNTER = "1-1", _("行政機関の窓口")
    BANK = "1-2", _("銀行の窓口")
    PAYEASY_ATM = "1-3", _("ペイジー(ATM)")
    CONVENIENCE_STORE = "1-4", _("コンビニ等代理施設")
    OTHER_OFFLINE = "1-5", _("その他オフラインでの納付方法")
    PAYEASY_NET = "2-1", _("ペイジー(ネットバンキング)")
    PAYEASY_DIRECT = "2-2", _("ペイジー(ダイレクト方式)")
    CREDIT_CARD = "2-3", _("クレジットカード払い")
    QR_CODE = "2-4", _("二次元コード決済")
    NET_BANKING = "2-5", _("インターネットバンキング")
    OTHER_ONLINE = "2-6", _("その他オンラインでの納付方法")


class AttachmentKind(models.TextChoices):
    """申請時に添付させる書類 (the national list has no codes: the name is the value)."""

    RESIDENT_RECORD = "住民票", _("住民票")
    FAMILY_REGISTER = "戸籍", _("戸籍")
    COMMERCIAL_REGISTRY = "登記事項証明書（商業）", _("登記事項証明書（商業）")
    REAL_ESTATE_REGISTRY = "登記事項証明書（不動産）", _("登記事項証明書（不動産）")
    SEAL_CERTIFICATE = "印鑑登録証明書（個人）", _("印鑑登録証明書（個人）")
    CORPORATE_SEAL_CERTIFICATE = "印鑑登録証明書（法人）", _("印鑑登録証明書（法人）")
    TAX_CERTIFICATE = "所得証明書・納税証明書", _("所得証明書・納税証明書")
    INSURANCE_CERTIFICATE = (
        "健康保険及び厚生年金保険の納入証明書",
        _("健康保険及び厚生年金保険の納入証明書"),
    )
    ARTICLES = "定款", _("定款")
    ACCOUNTS = "決算書", _("決算書")
    MEMBER_LIST = "社員名簿", _("社員名簿")
    BUSINESS_LICENCE = (
        "営業許可証（食品衛生法、建設業等）",
        _("営業許可証（食品衛生法、建設業等）"),
    )
    QUALIFICATION = "資格証明書（くるみん認定等）", _("資格証明書（くるみん認定等）")
    OTHER = "その他の添付書類", _("その他の添付書類")
    NONE = "添付書類なし", _("添付書類なし")


class AttachmentStatus(models.TextChoices):
    """添付書類等提出の撤廃/省略状況."""

    ABOLISHED = "1", _("撤廃・省略済")
    PLANNED = "2", _("撤廃・省略予定")
    IMPOSSIBLE = "3", _("撤廃・省略不可")
    OTHER = "4", _("その他")


class LifeEvent(models.TextChoices):
    """手続が行われるイベント(個人) (no codes: the name is the value)."""

    PREGNANCY = "妊娠", _("妊娠")
    BIRTH = "出生・こども", _("出生・こども")
    MOVING = "引越し", _("引越し")
    JOB = "就職・転職", _("就職・転職")
    MARRIAGE = "結婚・離婚", _("結婚・離婚")
    CAR = "自動車の購入・保有", _("自動車の購入・保有")
    HOUSING = "住宅の購入・保有", _("住宅の購入・保有")
    CARE = "介護", _("介護")
    HEALTH = "医療・健康", _("医療・健康")
    TAX = "税金", _("税金")
    PENSION = "年金の受給", _("年金の受給")
    DEATH = "死亡・相続", _("死亡・相続")
    OTHER = "その他イベント(個人)", _("その他イベント(個人)")
    NEITHER = "その他(個人も法人にもあてはまらない)", _("その他(個人も法人にもあてはまらない)")


# --- local code lists -------------------------------------------------------------------


class Seal(models.TextChoices):
    """押印: whether the city still asks for a seal (押印廃止率 counts REQUIRED vs ABOLISHED)."""

    NEVER = "never", _("押印なし（もともと不要）")
    REQUIRED = "required", _("押印が必要")
    ABOLISHED = "abolished", _("押印を廃止済")


class SealBasis(models.TextChoices):
    """Where the seal is required: only the city can change its own 条例・規則・要綱・慣行."""

    LAW = "law", _("法令")
    ORDINANCE = "ordinance", _("条例・規則")
    GUIDELINE = "guideline", _("要綱")
    CUSTOM = "custom", _("慣行")


# The subjects of the workflow engine whose volumes and lead times can be measured.
INTERNAL_SOURCES: dict[str, str | Promise] = {
    "approvals.document": _("起案文書の決裁"),
    "attendance.leaverequest": _("休暇の申請"),
    "attendance.overtimeorder": _("時間外勤務命令"),
    "records.disposalbatch": _("公文書の廃棄・移管"),
}


def internal_source_q() -> Q:
    q = Q()
    for key in INTERNAL_SOURCES:
        app_label, model = key.split(".")
        q |= Q(app_label=app_label, model=model)
    return q


class InternalSourceMixin(models.Model):
    """A link to a process that runs inside this suite (measured from the workflow log)."""

    source_type = models.ForeignKey(
        ContentType,
        verbose_name=_("内部の処理（種類）"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to=internal_source_q,
        help_text=_("この市のシステム内で処理している場合、その種類（実績を自動計測します）"),
    )
    source_category = models.ForeignKey(
        "approvals.MatterCategory",
        verbose_name=_("事案の区分"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("起案文書の場合、対象とする事案の区分（空欄はすべて）"),
    )

    class Meta:
        abstract = True

    @property
    def source_key(self) -> str:
        if self.source_type_id is None:
            return ""
        ct = ContentType.objects.get_for_id(self.source_type_id)
        return f"{ct.app_label}.{ct.model}"


# --- procedures -------------------------------------------------------------------------


class Procedure(InternalSourceMixin):
    """手続: one row of the 棚卸調査, with the city's own columns."""

    # identity
    procedure_id = models.CharField(_("手続ID"), max_length=40, unique=True)
    ministry = models.CharField(_("所管府省庁"), max_length=100, blank=True)
    name = models.CharField(_("手続名"), max_length=300)
    law_name = models.CharField(_("法令名"), max_length=300, blank=True)
    law_article = models.CharField(_("根拠条項号"), max_length=200, blank=True)
    related_articles = models.CharField(_("関連条項号"), max_length=300, blank=True)
    # type
    procedure_type = models.CharField(
        _("手続類型"),
        max_length=4,
        choices=ProcedureType.choices,
        default=ProcedureType.APPLICATION,
    )
    actor_party = models.CharField(_("手続主体"), max_length=4, choices=Party.choices, blank=True)
    recipient_party = models.CharField(
        _("手続の受け手"), max_length=4, choices=Party.choices, blank=True
    )
    via_party = models.CharField(_("経由機関"), max_length=4, choices=Party.choices, blank=True)
    affairs_type = models.CharField(
        _("事務区分"), max_length=2, choices=AffairsType.choices, blank=True
    )
    # online status
    online_status = models.CharField(
        _("オンライン化の実施状況"),
        max_length=2,
        choices=OnlineStatus.choices,
        default=OnlineStatus.NOT_YET,
        db_index=True,
    )
    concern = models.CharField(
        _("オンライン化の実施予定及び検討時の懸念点"),
        max_length=2,
        choices=Concern.choices,
        blank=True,
    )
    online_note = models.CharField(
        _("オンライン化の実施状況に関する補足"), max_length=500, blank=True
    )
    planned_year = models.CharField(
        _("オンライン化実施時期"), max_length=2, choices=PlannedYear.choices, blank=True
    )
    # requirements
    identity_check = models.CharField(
        _("申請等における本人確認手法"), max_length=2, choices=IdentityCheck.choices, blank=True
    )
    fee = models.CharField(_("手数料等の納付有無"), max_length=2, choices=Fee.choices, blank=True)
    payment_methods = models.JSONField(_("手数料等の納付方法"), default=list, blank=True)
    # time and systems
    processing_online = models.CharField(_("処理期間(オンライン)"), max_length=100, blank=True)
    processing_offline = models.CharField(_("処理期間(非オンライン)"), max_length=100, blank=True)
    system_application = models.CharField(_("情報システム(申請)"), max_length=200, blank=True)
    system_processing = models.CharField(_("情報システム(事務処理)"), max_length=200, blank=True)
    # attachments and context
    attachments = models.JSONField(_("申請時に添付させる書類"), default=list, blank=True)
    attachment_status = models.JSONField(
        _("添付書類等提出の撤廃/省略状況"), default=list, blank=True
    )
    life_events = models.JSONField(_("手続が行われるイベント(個人)"), default=list, blank=True)
    # The national columns this app does not model, kept verbatim by header.
    extra = models.JSONField(_("その他の調査項目"), default=dict, blank=True)

    # --- the city's own columns ---
    department = models.ForeignKey(
        "org.Department",
        verbose_name=_("所管課"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    channel_counter = models.BooleanField(_("窓口"), default=True)
    channel_mail = models.BooleanField(_("郵送"), default=False)
    channel_e_application = models.BooleanField(_("電子申請"), default=False)
    channel_mynaportal = models.BooleanField(_("マイナポータル"), default=False)
    seal = models.CharField(_("押印"), max_length=10, choices=Seal.choices, default=Seal.NEVER)
    seal_basis = models.CharField(
        _("押印を求める根拠"), max_length=10, choices=SealBasis.choices, blank=True
    )
    in_person_required = models.BooleanField(
        _("対面での手続が必要"), default=False, help_text=_("来庁・対面での確認が必須のもの")
    )
    staff_minutes = models.PositiveIntegerField(_("職員の処理時間（分/件）"), default=0)
    resident_minutes = models.PositiveIntegerField(
        _("住民の所要時間（分/件）"), default=0, help_text=_("来庁・待ち時間を含む")
    )
    # National lists (加古川市's columns): 26 子育て・介護, 罹災証明, 転出・転入予約, 59.
    on_childcare_care_list = models.BooleanField(_("子育て・介護26手続"), default=False)
    on_disaster_list = models.BooleanField(_("罹災証明書"), default=False)
    on_moving_list = models.BooleanField(_("転出・転入予約"), default=False)
    on_priority_list = models.BooleanField(_("優先的にオンライン化すべき手続"), default=False)
    # Public catalogue (GIF 制度)
    target_persons = models.CharField(_("対象者"), max_length=300, blank=True)
    detail_url = models.URLField(_("詳細URL"), max_length=300, blank=True)
    contact = models.CharField(_("お問い合わせ先"), max_length=300, blank=True)

    created_at = models.DateTimeField(_("登録日時"))
    updated_at = models.DateTimeField(_("更新日時"))

    class Meta:
        verbose_name = _("手続")
        verbose_name_plural = _("手続")
        ordering = ["procedure_id"]
        indexes = [models.Index(fields=["department", "online_status"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(seal="required") | ~Q(seal_basis=""),
                name="inventory_procedure_seal_basis",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("inventory:procedure", args=[self.pk])

    @property
    def on_national_list(self) -> bool:
        return (
            self.on_childcare_care_list
            or self.on_disaster_list
            or self.on_moving_list
            or self.on_priority_list
        )

    @property
    def is_online(self) -> bool:
        return self.online_status == OnlineStatus.DONE

    @property
    def channels(self) -> list[str]:
        names = [
            (self.channel_counter, _("窓口")),
            (self.channel_mail, _("郵送")),
            (self.channel_e_application, _("電子申請")),
            (self.channel_mynaportal, _("マイナポータル")),
        ]
        return [str(label) for on, label in names if on]

    # Difficulty terms read from the national columns (inventory/scoring.py); the rules
    # are the functions below, which the ranking applies to plain value rows.
    @property
    def needs_law_change(self) -> bool:
        return self.concern in LAW_CHANGE_CONCERNS

    @property
    def needs_seal_certificate(self) -> bool:
        return self.identity_check == IdentityCheck.SEAL_AND_CERTIFICATE

    @property
    def needs_paper_original(self) -> bool:
        return self.concern == Concern.PAPER_ORIGINAL

    @property
    def lacks_online_payment(self) -> bool:
        return lacks_online_payment(self.fee, self.payment_methods)

    @property
    def lacks_system(self) -> bool:
        return lacks_system(self.concern, self.is_online, self.system_application)


# The rules of the difficulty terms on plain values: for one procedure (the properties
# above) and for the ranking, which scores value rows rather than model instances.
LAW_CHANGE_CONCERNS = frozenset({Concern.LAW_NO_TIME.value, Concern.LAW_LOW_PRIORITY.value})


def lacks_online_payment(fee: str, payment_methods: list[Any]) -> bool:
    """A fee is due and none of the payment methods is online (2-x)."""
    return fee == Fee.PAID and not any(str(m).startswith("2-") for m in payment_methods)


def lacks_system(concern: str, is_online: bool, system_application: str) -> bool:
    """懸念点 3 (no system), or not online yet and no application system named."""
    return concern == Concern.NO_SYSTEM or (not is_online and not system_application.strip())


class ProcedureVolume(models.Model):
    """総手続件数 / オンライン / 非オンライン for one fiscal year (self-reported)."""

    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="volumes")
    fiscal_year = models.PositiveSmallIntegerField(_("年度"))
    total = models.PositiveIntegerField(_("総手続件数"), null=True, blank=True)
    online = models.PositiveIntegerField(_("オンライン手続件数"), null=True, blank=True)
    offline = models.PositiveIntegerField(_("非オンライン手続件数"), null=True, blank=True)

    class Meta:
        verbose_name = _("手続件数")
        verbose_name_plural = _("手続件数")
        ordering = ["procedure", "-fiscal_year"]
        constraints = [
            models.UniqueConstraint(
                fields=["procedure", "fiscal_year"], name="inventory_volume_unique"
            )
        ]
        indexes = [models.Index(fields=["fiscal_year", "procedure"])]

    def __str__(self) -> str:
        return f"{self.procedure_id} {self.fiscal_year}"

    @property
    def online_share(self) -> float | None:
        if not self.total or self.online is None:
            return None
        return self.online / self.total


# --- business processes (業務量調査) -----------------------------------------------------


class BusinessProcess(InternalSourceMixin):
    """業務: one row of the 業務量調査 / 業務説明表."""

    class Routine(models.TextChoices):
        ROUTINE = "routine", _("定型")
        NON_ROUTINE = "non_routine", _("非定型")

    class Core(models.TextChoices):
        CORE = "core", _("コア業務")
        NON_CORE = "non_core", _("ノンコア業務")

    number = models.CharField(_("整理番号"), max_length=30, unique=True)
    name = models.CharField(_("業務名"), max_length=200)
    purpose = models.TextField(_("目的・概要"), blank=True)
    basis_law = models.CharField(_("根拠法令（法律・政省令）"), max_length=300, blank=True)
    basis_local = models.CharField(_("根拠（条例・規則・要綱）"), max_length=300, blank=True)
    department = models.ForeignKey(
        "org.Department",
        verbose_name=_("所管部署"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    routine = models.CharField(
        _("定型/非定型"), max_length=12, choices=Routine.choices, default=Routine.ROUTINE
    )
    core = models.CharField(
        _("コア/ノンコア"), max_length=10, choices=Core.choices, default=Core.NON_CORE
    )
    # 業務規模: cases by season (四半期), the year being their sum.
    volume_q1 = models.PositiveIntegerField(_("件数 4〜6月"), default=0)
    volume_q2 = models.PositiveIntegerField(_("件数 7〜9月"), default=0)
    volume_q3 = models.PositiveIntegerField(_("件数 10〜12月"), default=0)
    volume_q4 = models.PositiveIntegerField(_("件数 1〜3月"), default=0)
    outcome_indicator = models.CharField(_("成果指標"), max_length=300, blank=True)
    fte = models.DecimalField(
        _("従事職員（人工）"), max_digits=7, decimal_places=2, default=Decimal("0")
    )
    system_cost = models.PositiveBigIntegerField(_("システム経費（円/年）"), default=0)
    procedures = models.ManyToManyField(
        Procedure, verbose_name=_("関連する手続"), blank=True, related_name="processes"
    )
    created_at = models.DateTimeField(_("登録日時"))
    updated_at = models.DateTimeField(_("更新日時"))

    class Meta:
        verbose_name = _("業務")
        verbose_name_plural = _("業務")
        ordering = ["number"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("inventory:process", args=[self.pk])

    @property
    def annual_volume(self) -> int:
        return self.volume_q1 + self.volume_q2 + self.volume_q3 + self.volume_q4


def flow_path(instance: ProcessFlow, filename: str) -> str:
    # Content-addressed like the approvals attachments: the name is the sha256.
    return f"inventory/flows/{instance.sha256[:2]}/{instance.sha256}"


class ProcessFlow(models.Model):
    """A flow chart of a process: the current (現行) or the revised (見直し後) one, as a file
    or a BPMN 2.0 XML document (checked to be well-formed XML without DTDs or entities)."""

    class Kind(models.TextChoices):
        CURRENT = "current", _("現行フロー")
        REVISED = "revised", _("見直し後フロー")

    process = models.ForeignKey(BusinessProcess, on_delete=models.CASCADE, related_name="flows")
    kind = models.CharField(_("種別"), max_length=10, choices=Kind.choices)
    file = models.FileField(_("ファイル"), upload_to=flow_path, max_length=200)
    original_name = models.CharField(_("ファイル名"), max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(_("サイズ"))
    sha256 = models.CharField(max_length=64)
    is_bpmn = models.BooleanField(_("BPMN"), default=False)
    bpmn_summary = models.JSONField(default=dict, blank=True)
    uploaded_by = models.ForeignKey(STAFF, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("登録日時"))

    class Meta:
        verbose_name = _("業務フロー")
        verbose_name_plural = _("業務フロー")
        ordering = ["process", "kind", "-uploaded_at"]

    def __str__(self) -> str:
        return self.original_name


# --- priority -----------------------------------------------------------------------------


class PriorityWeights(models.Model):
    """One dated version of the scoring assumptions. The version in force on a day is the
    latest whose `valid_from` has come; an old version is never edited (a change is a new
    row), so yesterday's ranking can always be explained."""

    valid_from = models.DateField(_("適用開始日"), unique=True)
    expected_online_share = models.DecimalField(
        _("想定オンライン利用率"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.5"),
        help_text=_("オンライン化した後に、オンラインで行われる件数の割合（0〜1）"),
    )
    staff_saving_share = models.DecimalField(
        _("職員の処理時間の削減割合"), max_digits=4, decimal_places=3, default=Decimal("1")
    )
    resident_saving_share = models.DecimalField(
        _("住民の所要時間の削減割合"), max_digits=4, decimal_places=3, default=Decimal("1")
    )
    base_difficulty = models.DecimalField(
        _("難易度の基礎点"), max_digits=5, decimal_places=2, default=Decimal("1")
    )
    w_law_change = models.DecimalField(
        _("重み: 制度改正が必要"), max_digits=5, decimal_places=2, default=Decimal("3")
    )
    w_seal_certificate = models.DecimalField(
        _("重み: 押印＋印鑑証明"), max_digits=5, decimal_places=2, default=Decimal("2")
    )
    w_paper_original = models.DecimalField(
        _("重み: 原本が紙の添付書類"), max_digits=5, decimal_places=2, default=Decimal("2")
    )
    w_no_online_payment = models.DecimalField(
        _("重み: オンライン納付なし"), max_digits=5, decimal_places=2, default=Decimal("1")
    )
    w_in_person = models.DecimalField(
        _("重み: 対面が必要"), max_digits=5, decimal_places=2, default=Decimal("3")
    )
    w_no_system = models.DecimalField(
        _("重み: システムなし"), max_digits=5, decimal_places=2, default=Decimal("1")
    )
    national_multiplier = models.DecimalField(
        _("国の優先リストの倍率"), max_digits=5, decimal_places=2, default=Decimal("1.5")
    )
    effect_threshold = models.DecimalField(
        _("効果の境界（時間/年）"),
        max_digits=9,
        decimal_places=1,
        default=Decimal("500"),
        help_text=_("4象限の「効果が大きい」の下限"),
    )
    difficulty_threshold = models.DecimalField(
        _("難易度の境界"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("4"),
        help_text=_("4象限の「難しい」の下限"),
    )
    dx_department = models.ForeignKey(
        "org.Department",
        verbose_name=_("DX推進担当課"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("優先順位の決定を決裁する課（その課の長に回ります）"),
    )
    note = models.CharField(_("改正内容"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        STAFF, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("登録日時"))

    class Meta:
        verbose_name = _("優先度の重み")
        verbose_name_plural = _("優先度の重み")
        ordering = ["-valid_from"]

    def __str__(self) -> str:
        return f"{self.valid_from} {self.note}".strip()


class PaperDecisionCount(models.Model):
    """Decisions still made on paper (紙決裁), counted by a department for a fiscal year:
    the denominator of 電子決裁率 beside the electronic ones the workflow engine counts."""

    department = models.ForeignKey("org.Department", on_delete=models.PROTECT, related_name="+")
    fiscal_year = models.PositiveSmallIntegerField(_("年度"))
    count = models.PositiveIntegerField(_("紙の決裁件数"))
    updated_by = models.ForeignKey(STAFF, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(_("更新日時"))

    class Meta:
        verbose_name = _("紙の決裁件数")
        verbose_name_plural = _("紙の決裁件数")
        ordering = ["-fiscal_year", "department"]
        constraints = [
            models.UniqueConstraint(
                fields=["department", "fiscal_year"], name="inventory_paper_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.department_id} {self.fiscal_year}: {self.count}"


class PriorityDecision(models.Model):
    """The human decision on a procedure's DX priority (rank, reason, who decided), kept
    apart from the computed score and decided by the head of the DX office on the
    workflow engine. The score at the time of proposal is kept for the record."""

    class Status(models.TextChoices):
        IN_REVIEW = "in_review", _("決裁中")
        RETURNED = "returned", _("差戻し")
        WITHDRAWN = "withdrawn", _("取下げ")
        DECIDED = "decided", _("決定")
        REJECTED = "rejected", _("却下")

    TRANSITIONS: dict[str, set[str]] = {
        Status.IN_REVIEW: {Status.DECIDED, Status.REJECTED, Status.RETURNED, Status.WITHDRAWN},
        Status.RETURNED: {Status.WITHDRAWN},
        Status.WITHDRAWN: set(),
        Status.DECIDED: set(),
        Status.REJECTED: set(),
    }

    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="decisions")
    fiscal_year = models.PositiveSmallIntegerField(_("年度"))
    rank = models.PositiveIntegerField(_("優先順位"))
    reason = models.TextField(_("理由"))
    status = models.CharField(
        _("状態"), max_length=10, choices=Status.choices, default=Status.IN_REVIEW
    )
    score_snapshot = models.JSONField(_("提案時の算定値"), default=dict, blank=True)
    proposed_by = models.ForeignKey(
        STAFF, verbose_name=_("提案者"), on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField(_("提案日時"))
    decided_by = models.ForeignKey(
        STAFF,
        verbose_name=_("決定者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("決定日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("優先順位の決定")
        verbose_name_plural = _("優先順位の決定")
        ordering = ["-proposed_at"]
        indexes = [models.Index(fields=["procedure", "status"])]

    def __str__(self) -> str:
        return f"{self.procedure} 第{self.rank}位（{self.fiscal_year}年度）"

    def get_absolute_url(self) -> str:
        return reverse("inventory:decision", args=[self.pk])

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, set())

    # --- the workflow subject protocol: the rules live in inventory/services.py ----------

    def workflow_title(self) -> str:
        return f"DX優先順位の決定: {self.procedure.name}"

    def workflow_summary(self) -> str:
        return f"{self.fiscal_year}年度 第{self.rank}位"

    def workflow_on_approved(self, *, route, actor) -> None:
        from .services import decision_on_closed

        decision_on_closed(decision=self, status=self.Status.DECIDED, actor=actor)

    def workflow_on_rejected(self, *, route, actor) -> None:
        from .services import decision_on_closed

        decision_on_closed(decision=self, status=self.Status.REJECTED, actor=actor)

    def workflow_on_returned(self, *, route, actor) -> None:
        from .services import decision_on_closed

        decision_on_closed(decision=self, status=self.Status.RETURNED, actor=actor)

    def workflow_on_withdrawn(self, *, route, actor) -> None:
        from .services import decision_on_closed

        decision_on_closed(decision=self, status=self.Status.WITHDRAWN, actor=actor)
