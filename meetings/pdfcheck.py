"""Open an uploaded PDF in a throw-away process and report what it is, as one JSON line.

Run as ``python -m meetings.pdfcheck PATH CPU_SECONDS MEMORY_MB`` by
`meetings.validation`, under CPU-time and memory limits, so that a hostile or broken
file can at worst kill this process, never a server worker. Prints ``{"pages": N}``
or ``{"error": "encrypted" | "corrupt" | ...}``. Imports nothing from Django.
"""

from __future__ import annotations

import json
import sys


def inspect(path: str) -> dict:
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code == raw.FPDF_ERR_PASSWORD:
            return {"error": "encrypted"}
        if code == raw.FPDF_ERR_SECURITY:
            return {"error": "encrypted"}
        return {"error": "corrupt"}
    try:
        pages = len(pdf)
        if pages == 0:
            return {"error": "no_pages"}
        # Any security handler (even with an empty user password) counts as encrypted:
        # such files may forbid copying or printing, and we re-render them.
        if raw.FPDF_GetSecurityHandlerRevision(pdf.raw) != -1:
            return {"error": "encrypted"}
        # Load the first and the last page: a broken page tree shows up here.
        for index in {0, pages - 1}:
            page = pdf[index]
            width, height = page.get_size()
            page.close()
            if not (0 < width < 14400 and 0 < height < 14400):
                return {"error": "page_size"}
        return {"pages": pages}
    finally:
        pdf.close()


def _limit(cpu_seconds: int, memory_mb: int) -> None:
    """Cap this process before it touches the file (set here, not with preexec_fn,
    which is unsafe in a threaded server)."""
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


def main() -> None:
    if len(sys.argv) >= 4:
        _limit(int(sys.argv[2]), int(sys.argv[3]))
    try:
        result = inspect(sys.argv[1])
    except Exception:  # anything else the library raises: the file is not usable
        result = {"error": "corrupt"}
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
