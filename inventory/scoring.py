"""The DX priority score: effect, difficulty and priority, each term with its number.

Effect E (hours a year) = annual cases × expected online share
                          × (staff minutes × staff saving share
                             + resident minutes × resident saving share) / 60
Difficulty D = base + w_law·[制度改正が必要] + w_seal·[押印＋印鑑証明]
               + w_paper·[原本が紙] + w_payment·[オンライン納付なし]
               + w_in_person·[対面が必要] + w_system·[システムなし]
Priority P = E × (national multiplier if on a national list, else 1) / D

With the default weights this is the formula of the domain notes (総務省の手順書 as
read by the DX team): both saving shares 1, base 1, weights 3/2/2/1/3/1, ×1.5.
A procedure already online (実施済) has nothing left to gain from going online: its
effect is 0 and it sorts last, whatever its volume.

Pure functions over plain values: the same code scores the ranking page, the what-if
form (assumptions changed, nothing saved) and the explanation on a procedure's page.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, NamedTuple

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import PriorityWeights


@dataclass(frozen=True)
class Weights:
    expected_online_share: float = 0.5
    staff_saving_share: float = 1.0
    resident_saving_share: float = 1.0
    base_difficulty: float = 1.0
    w_law_change: float = 3.0
    w_seal_certificate: float = 2.0
    w_paper_original: float = 2.0
    w_no_online_payment: float = 1.0
    w_in_person: float = 3.0
    w_no_system: float = 1.0
    national_multiplier: float = 1.5
    effect_threshold: float = 500.0
    difficulty_threshold: float = 4.0

    FIELDS = (
        "expected_online_share",
        "staff_saving_share",
        "resident_saving_share",
        "base_difficulty",
        "w_law_change",
        "w_seal_certificate",
        "w_paper_original",
        "w_no_online_payment",
        "w_in_person",
        "w_no_system",
        "national_multiplier",
        "effect_threshold",
        "difficulty_threshold",
    )

    @classmethod
    def from_row(cls, row: PriorityWeights | None) -> Weights:
        if row is None:
            return cls()
        return cls(**{name: float(getattr(row, name)) for name in cls.FIELDS})

    def with_changes(self, **changes: Any) -> Weights:
        clean = {k: float(v) for k, v in changes.items() if v is not None and k in self.FIELDS}
        return replace(self, **clean)

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.FIELDS}


class Inputs(NamedTuple):
    """What the score reads from a procedure (and its latest annual volume).

    A named tuple of plain values: immutable, and, holding no objects, left alone by the
    cyclic garbage collector (a ranking keeps tens of thousands of them alive at once).
    """

    annual_cases: int
    staff_minutes: int
    resident_minutes: int
    is_online: bool = False
    national_list: bool = False
    law_change: bool = False
    seal_certificate: bool = False
    paper_original: bool = False
    no_online_payment: bool = False
    in_person: bool = False
    no_system: bool = False

    @classmethod
    def of(cls, procedure: Any, annual_cases: int | None) -> Inputs:
        return cls(
            annual_cases=annual_cases or 0,
            staff_minutes=procedure.staff_minutes,
            resident_minutes=procedure.resident_minutes,
            is_online=procedure.is_online,
            national_list=procedure.on_national_list,
            law_change=procedure.needs_law_change,
            seal_certificate=procedure.needs_seal_certificate,
            paper_original=procedure.needs_paper_original,
            no_online_payment=procedure.lacks_online_payment,
            in_person=procedure.in_person_required,
            no_system=procedure.lacks_system,
        )


@dataclass(frozen=True, slots=True)
class Term:
    label: Any
    flag: bool
    weight: float

    @property
    def value(self) -> float:
        return self.weight if self.flag else 0.0


class Quadrant:
    QUICK_WIN = "quick_win"
    STRATEGIC = "strategic"
    BATCH = "batch"
    DEFER = "defer"

    @staticmethod
    def label(key: str) -> str:
        return {
            Quadrant.QUICK_WIN: _("すぐ着手（効果大・容易）"),
            Quadrant.STRATEGIC: _("戦略的に取組（効果大・困難）"),
            Quadrant.BATCH: _("汎用フォームでまとめて（効果小・容易）"),
            Quadrant.DEFER: _("見送り（効果小・困難）"),
        }[key]


@dataclass(frozen=True, slots=True)
class Score:
    inputs: Inputs
    weights: Weights
    effect: float
    difficulty: float
    multiplier: float
    priority: float
    terms: tuple[Term, ...] = field(default_factory=tuple)

    @property
    def quadrant(self) -> str:
        big = self.effect >= self.weights.effect_threshold
        hard = self.difficulty >= self.weights.difficulty_threshold
        if big:
            return Quadrant.STRATEGIC if hard else Quadrant.QUICK_WIN
        return Quadrant.DEFER if hard else Quadrant.BATCH

    @property
    def quadrant_label(self) -> str:
        return Quadrant.label(self.quadrant)

    @property
    def share(self) -> float:
        """The online share the effect used: 0 for a procedure already online."""
        return 0.0 if self.inputs.is_online else self.weights.expected_online_share

    @property
    def minutes_per_case(self) -> float:
        w = self.weights
        return (
            self.inputs.staff_minutes * w.staff_saving_share
            + self.inputs.resident_minutes * w.resident_saving_share
        )

    def snapshot(self) -> dict[str, Any]:
        return {
            "effect": round(self.effect, 1),
            "difficulty": round(self.difficulty, 2),
            "multiplier": self.multiplier,
            "priority": round(self.priority, 1),
            "annual_cases": self.inputs.annual_cases,
            "weights": self.weights.as_dict(),
        }


# Lazy: a ranking scores thousands of procedures and shows the labels of a few.
LAW_CHANGE = gettext_lazy("制度改正が必要")
SEAL_CERTIFICATE = gettext_lazy("押印＋印鑑証明")
PAPER_ORIGINAL = gettext_lazy("原本が紙の添付書類")
NO_ONLINE_PAYMENT = gettext_lazy("オンライン納付なし")
IN_PERSON = gettext_lazy("対面が必要")
NO_SYSTEM = gettext_lazy("システムなし")


class Scorer:
    """`score` for many procedures under one set of weights (the ranking, the what-if).

    The difficulty depends only on the weights and the six yes/no terms, so it is worked
    out once per combination of terms (64 at most) and its terms are shared by every
    score with that combination; the effect and the priority are worked out per
    procedure with the same arithmetic, in the same order, as for one procedure alone.
    """

    def __init__(self, weights: Weights) -> None:
        self.weights = weights
        self._by_terms: dict[tuple[bool, ...], tuple[tuple[Term, ...], float, float]] = {}

    def _difficulty(self, flags: tuple[bool, ...]) -> tuple[tuple[Term, ...], float, float]:
        w = self.weights
        law, seal, paper, payment, in_person, system = flags
        terms = (
            Term(LAW_CHANGE, law, w.w_law_change),
            Term(SEAL_CERTIFICATE, seal, w.w_seal_certificate),
            Term(PAPER_ORIGINAL, paper, w.w_paper_original),
            Term(NO_ONLINE_PAYMENT, payment, w.w_no_online_payment),
            Term(IN_PERSON, in_person, w.w_in_person),
            Term(NO_SYSTEM, system, w.w_no_system),
        )
        difficulty = w.base_difficulty + sum(t.value for t in terms)
        # A zero or negative difficulty (weights set to 0) would divide by zero: floor it.
        found = self._by_terms[flags] = (terms, difficulty, max(difficulty, 0.01))
        return found

    def __call__(self, inputs: Inputs) -> Score:
        w = self.weights
        flags = (
            inputs.law_change,
            inputs.seal_certificate,
            inputs.paper_original,
            inputs.no_online_payment,
            inputs.in_person,
            inputs.no_system,
        )
        terms, difficulty, divisor = self._by_terms.get(flags) or self._difficulty(flags)
        minutes = inputs.staff_minutes * w.staff_saving_share + (
            inputs.resident_minutes * w.resident_saving_share
        )
        share = 0.0 if inputs.is_online else w.expected_online_share
        effect = inputs.annual_cases * share * minutes / 60
        multiplier = w.national_multiplier if inputs.national_list else 1.0
        priority = effect * multiplier / divisor
        return Score(inputs, w, effect, difficulty, multiplier, priority, terms)


def score(inputs: Inputs, weights: Weights) -> Score:
    """One procedure's score, each term with its number (the explanation on its page)."""
    return Scorer(weights)(inputs)


def to_decimal(value: float, places: int = 1) -> Decimal:
    return Decimal(str(round(value, places)))
