from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth.models import Group

from org.models import Absence, Assignment, Department, Deputy, Post, Staff, WorkSchedule


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"D{n:04d}")
    name = factory.Sequence(lambda n: f"第{n}課")
    level = Department.Level.KA
    parent = factory.LazyAttribute(
        lambda o: (
            DepartmentFactory(code=f"B{o.code}", name="総務部", level=Department.Level.BU)
            if o.level != Department.Level.BU
            else None
        )
    )
    doc_symbol = factory.Sequence(lambda n: f"記{n}")


class PostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Post
        django_get_or_create = ("code",)

    code = "shuji"
    name = "主事"
    rank = 90
    is_manager = False


class WorkScheduleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkSchedule
        django_get_or_create = ("code",)

    code = "standard"
    name = "標準勤務"
    start = dt.time(8, 30)
    end = dt.time(17, 15)
    break_start = dt.time(12, 0)
    break_end = dt.time(13, 0)


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Staff
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    employee_number = factory.Sequence(lambda n: f"E{n:06d}")
    last_name = "山田"
    first_name = factory.Sequence(lambda n: f"太郎{n}")
    password = factory.django.Password("correct-horse-battery")

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs) -> None:
        if create and extracted:
            self.groups.add(*[Group.objects.get(name=name) for name in extracted])


class AssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assignment

    staff = factory.SubFactory(StaffFactory)
    department = factory.SubFactory(DepartmentFactory)
    post = factory.SubFactory(PostFactory)
    start = dt.date(2020, 4, 1)


class AbsenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Absence

    staff = factory.SubFactory(StaffFactory)
    reason = Absence.Reason.TRIP


class DeputyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deputy

    principal = factory.SubFactory(StaffFactory)
    deputy = factory.SubFactory(StaffFactory)
    order = 1
    start = dt.date(2020, 4, 1)
