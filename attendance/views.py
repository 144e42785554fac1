"""Attendance pages (being built)."""

from django.http import Http404


def leave_detail(request, pk):
    raise Http404


def overtime_detail(request, pk):
    raise Http404


def correction_detail(request, pk):
    raise Http404
