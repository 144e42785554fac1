from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from .models import Document
from .selectors import document_visible_to


def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    document = get_object_or_404(Document, pk=pk)
    if not document_visible_to(document=document, staff=request.user):
        raise Http404
    return render(request, "approvals/document_detail.html", {"document": document})
