"""Meetings: page-turn fan-out to the tablets, and the cost of making page images.

Fan-out (needs Redis; skipped with a message when none answers):
  200 tablets (`--quick`: 30) connected over loopback to TWO uvicorn worker processes
  (half on each) serving `config.asgi:application` with the Redis channel layer; the
  presenter is on the first. A turn is the presenter's {"type": "goto"} message; its
  latency is from sending it until the LAST tablet has received the position message
  carrying the new seq. The path: the consumer checks access and writes the live state
  (one access query, the material's row, one UPDATE … RETURNING; on the worker's one
  socket connection, common/socketdb.py) and publishes once; each worker's hub
  (meetings/hub.py) gets it once and writes it to its sockets. p50 and
  p99 (nearest rank) over 60 turns (`--quick`: 15) after 5 warm-up turns, one turn at a
  time. Measured on `RedisPubSubChannelLayer` (REDIS_CHANNEL_LAYER=pubsub, the default);
  `--layers pubsub,core` adds the classic `RedisChannelLayer` for comparison. A layer
  that fails is tried once more; without pubsub figures the benchmark fails, while the
  classic layer is reported as failed (its consumers crash under this load with a redis
  TimeoutError in receive: in 3 of 7 runs before the hub, in every run since).
  Floor, same run, same client code: a bare `websockets` server in one process
  (bench/_fanout_floor.py) that parses the presenter's message and broadcasts it to every
  connection. Goal: ratio ≤ 2 at p50 and p99, and p99 under 150 ms.

Page images (no service needed), per page of a generated 8-page Japanese PDF (`--quick`:
  3 pages), medians of 3 rounds (`--quick`: 1):
  - page: `meetings.rendering.iter_pages` (pypdfium2 at 1× and 2× the tablet width, RGB,
    content hash) + `encode_jpeg` of both sizes, as the render task does;
  - watermarked page: the same with `watermark` on both sizes (a confidential material,
    per viewer; the viewer's overlay is drawn once and reused, as in the task);
  floor for both: bare pypdfium2 render of the same page at the same scales + Pillow
  JPEG save at the same quality.

Set-up: a throw-away SQLite file (or `--database-url postgres://…/<name with bench>`) in a
temporary VAR_DIR, migrated and seeded here; Redis from --redis-url / REDIS_URL (default
redis://127.0.0.1:6379/0), with a channel prefix of its own. The servers get
MEETINGS_WS_RATE_PER_10S=10000: the presenter's socket would otherwise be rate-limited
by the benchmark's pace. Prints a table, then one JSON line per figure (bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import math
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
WARMUP_TURNS = 5
PAUSE_S = 0.05
LAYERS = ("pubsub",)  # the default; "core" on request (see the docstring)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="30 tablets, 15 turns, 3 pages")
    parser.add_argument("--tablets", type=int, default=0, help="default 200, quick 30")
    parser.add_argument("--turns", type=int, default=0, help="default 60, quick 15")
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", ""),
        help="postgres://… of a benchmark database (name containing 'bench'); default SQLite",
    )
    parser.add_argument("--layers", default=",".join(LAYERS), help="pubsub,core")
    parser.add_argument("--ws", default="websockets-sansio", help="uvicorn's --ws")
    args = parser.parse_args()
    args.tablets = args.tablets or (30 if args.quick else 200)
    args.turns = args.turns or (15 if args.quick else 60)
    args.pages = 3 if args.quick else 8
    args.rounds = 1 if args.quick else 3
    return args


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.1)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the database and the meeting ------------------------------------------------------


def prepare_database(args: argparse.Namespace, tmp: Path) -> str:
    if not args.database_url:
        return f"sqlite:///{tmp / 'bench.sqlite3'}"
    url = args.database_url
    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"refusing database {name!r}: a benchmark database's name must contain 'bench'")
    import psycopg

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url


def make_pdf(pages: int) -> bytes:
    """Pages like a city's material: a heading, Japanese body text, a table of figures."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("HeiseiKakuGo-W5"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    _width, height = A4
    for n in range(1, pages + 1):
        c.setFont("HeiseiKakuGo-W5", 18)
        c.drawString(60, height - 70, f"令和7年度 予算編成方針について（資料{n}）")
        c.setFont("HeiseiKakuGo-W5", 10.5)
        y = height - 110
        for line in range(24):
            c.drawString(
                60,
                y,
                f"{line + 1}. 歳入の見通しと重点施策の財源を確保するため、事業の見直しを行う。",
            )
            y -= 17
        for row in range(8):
            for col in range(5):
                x, yy = 60 + col * 95, 250 - row * 22
                c.rect(x, yy, 95, 22)
                c.drawString(x + 6, yy + 7, f"{(row + 1) * (col + 3) * 1234:,}千円")
        c.showPage()
    c.save()
    return buf.getvalue()


def seed(tablets: int) -> dict[str, Any]:
    """A started meeting with one rendered 3-page material and `tablets` participants."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.utils import timezone

    from meetings import services
    from meetings.tasks import render_version
    from org.models import Assignment, Department, Post, Staff

    call_command("migrate", verbosity=0)
    bu = Department.objects.create(code="100", name="総務部", level="bu")
    department = Department.objects.create(code="110", name="総務課", level="ka", parent=bu)
    post = Post.objects.create(code="kacho", name="課長", rank=50, is_manager=True)
    chair = Staff.objects.create_user(username="chair", password=None, last_name="議長")
    Assignment.objects.create(
        staff=chair, department=department, post=post, start=dt.date(2020, 4, 1)
    )
    unusable = make_password(None)  # nobody signs in with a password here
    people = [
        Staff(username=f"tablet{i:03d}", last_name="委員", first_name=str(i), password=unusable)
        for i in range(tablets)
    ]
    Staff.objects.bulk_create(people)
    people = list(Staff.objects.filter(username__startswith="tablet").order_by("pk"))
    start = timezone.now()
    meeting = services.meeting_create(
        actor=chair,
        title="予算編成会議",
        starts_at=start,
        ends_at=start + dt.timedelta(hours=2),
        chair=chair,
    )
    services.participants_add(meeting=meeting, actor=chair, staff=people)
    upload = SimpleUploadedFile("shiryo.pdf", make_pdf(3), content_type="application/pdf")
    material = services.material_add(
        meeting=meeting, actor=chair, title="予算編成方針", upload=upload
    )
    services.meeting_publish(meeting=meeting, actor=chair)
    render_version.call(material.current_version_id)
    services.meeting_start(meeting=meeting, actor=chair)

    def cookie(user) -> str:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "org.auth.StaffBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        return f"sessionid={session.session_key}"

    from django.conf import settings

    assert settings.SESSION_COOKIE_NAME == "sessionid"
    return {
        "meeting": meeting.pk,
        "material": material.pk,
        "pages": 3,
        "chair": cookie(chair),
        "tablets": [cookie(p) for p in people],
    }


# --- the clients (the same code measures the app and the floor) -------------------------


class Round:
    """One turn: which seq the tablets wait for, and when the last one got it."""

    def __init__(self) -> None:
        self.seq: int | None = None
        self.remaining = 0
        self.last = 0.0
        self.done = asyncio.Event()


async def drain(ws) -> None:
    async for _raw in ws:
        pass


async def read(ws, round_: Round) -> None:
    async for raw in ws:
        message = json.loads(raw)
        # The turn's position message; a snapshot (sent instead when a socket saw a gap)
        # that already carries the turn counts as delivered too.
        seq = message.get("seq")
        if round_.seq is not None and (
            (message.get("type") == "position" and seq == round_.seq)
            or (message.get("type") == "snapshot" and isinstance(seq, int) and seq >= round_.seq)
        ):
            round_.remaining -= 1
            if round_.remaining == 0:
                round_.last = time.perf_counter()
                round_.done.set()


async def fanout(
    urls: list[str],
    headers: list[dict[str, str]],
    presenter_url: str,
    presenter_headers: dict[str, str],
    make_turn,
    turns: int,
    first_seq: int,
) -> list[float]:
    """Connect the tablets (20 at a time), then time `turns` turns; ms to the last tablet."""
    from websockets.asyncio.client import connect

    async def open_one(url: str, h: dict[str, str]):
        return await connect(
            url, additional_headers=h, compression=None, max_queue=None, open_timeout=60
        )

    sockets = []
    for i in range(0, len(urls), 20):
        sockets += await asyncio.gather(
            *(open_one(u, h) for u, h in zip(urls[i : i + 20], headers[i : i + 20], strict=True))
        )
    presenter = await open_one(presenter_url, presenter_headers)
    round_ = Round()
    readers = [asyncio.ensure_future(read(ws, round_)) for ws in sockets]
    readers.append(asyncio.ensure_future(drain(presenter)))
    await asyncio.sleep(0.5)  # snapshots and presence lists go by
    latencies: list[float] = []
    try:
        for n in range(WARMUP_TURNS + turns):
            round_.seq = first_seq + n + 1
            round_.remaining = len(sockets)
            round_.done.clear()
            started = time.perf_counter()
            await presenter.send(json.dumps(make_turn(n, round_.seq)))
            await asyncio.wait_for(round_.done.wait(), timeout=30)
            if n >= WARMUP_TURNS:
                latencies.append((round_.last - started) * 1000)
            await asyncio.sleep(PAUSE_S)
    finally:
        for r in readers:
            r.cancel()
        await asyncio.gather(*(ws.close() for ws in [*sockets, presenter]))
    return latencies


def run_floor(args: argparse.Namespace) -> list[float]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "_fanout_floor.py"), str(port)],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_port(port, proc, "the floor server")
        url = f"ws://127.0.0.1:{port}/"

        def turn(n: int, seq: int) -> dict[str, Any]:
            return {"type": "position", "seq": seq, "material": 1, "page": n % 3 + 1}

        return asyncio.run(
            fanout([url] * args.tablets, [{}] * args.tablets, url, {}, turn, args.turns, 0)
        )
    finally:
        stop(proc)


def run_channels(
    args: argparse.Namespace, layer: str, env: dict[str, str], data: dict[str, Any], tmp: Path
) -> list[float]:
    from meetings.models import LiveState

    ports = [free_port(), free_port()]
    procs = []
    env = {
        **env,
        "REDIS_CHANNEL_LAYER": layer,
        "CHANNEL_LAYER_PREFIX": f"bench{secrets.token_hex(4)}",
    }
    logs = []
    try:
        for port in ports:
            log = (tmp / f"uvicorn-{layer}-{port}.log").open("wb")
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "config.asgi:application",
                        "--host=127.0.0.1",
                        f"--port={port}",
                        f"--ws={args.ws}",
                        "--lifespan=off",
                        "--log-level=warning",
                        "--no-access-log",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        for port, proc in zip(ports, procs, strict=True):
            wait_port(port, proc, f"uvicorn on {port}")
        path = f"/ws/meetings/{data['meeting']}/"
        urls = [f"ws://127.0.0.1:{ports[i % 2]}{path}" for i in range(args.tablets)]
        headers = [
            {"Cookie": data["tablets"][i], "Origin": f"http://127.0.0.1:{ports[i % 2]}"}
            for i in range(args.tablets)
        ]
        chair_headers = {"Cookie": data["chair"], "Origin": f"http://127.0.0.1:{ports[0]}"}
        seq = LiveState.objects.get(meeting_id=data["meeting"]).seq

        def turn(n: int, _seq: int) -> dict[str, Any]:
            return {"type": "goto", "material": data["material"], "page": n % data["pages"] + 1}

        return asyncio.run(
            fanout(
                urls,
                headers,
                f"ws://127.0.0.1:{ports[0]}{path}",
                chair_headers,
                turn,
                args.turns,
                seq,
            )
        )
    except Exception:
        for log in logs:
            log.flush()
            print(Path(log.name).read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        for proc in procs:
            stop(proc)
        for log in logs:
            log.close()


def redis_answers(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return str(exc)
    return None


# --- page images -----------------------------------------------------------------------


def render_figures(args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    import pypdfium2 as pdfium
    from django.conf import settings
    from django.utils import timezone

    from meetings import rendering

    source = make_pdf(args.pages)
    width = settings.MEETINGS_PAGE_WIDTH
    quality = settings.MEETINGS_JPEG_QUALITY
    viewer = rendering.Viewer("起案 太郎", "総務部 総務課", "予算編成会議", timezone.localtime())
    watermark_ok = rendering.watermark_font_available()

    def app(with_watermark: bool) -> list[float]:
        timing = rendering.Timing()
        times = []
        pages = rendering.iter_pages(source, "application/pdf", width=width, timing=timing)
        while True:
            started = time.perf_counter()
            page = next(pages, None)
            if page is None:
                return times
            one, two = page.image_1x, page.image_2x
            if with_watermark:
                one = rendering.watermark(one, viewer, timing)
                two = rendering.watermark(two, viewer, timing)
            rendering.encode_jpeg(one, timing)
            rendering.encode_jpeg(two, timing)
            times.append((time.perf_counter() - started) * 1000)

    def floor() -> list[float]:
        times = []
        pdf = pdfium.PdfDocument(source)
        try:
            for index in range(len(pdf)):
                started = time.perf_counter()
                page = pdf[index]
                scale = width / page.get_size()[0]
                for factor in (1, 2):
                    out = io.BytesIO()
                    page.render(scale=scale * factor).to_pil().save(out, "JPEG", quality=quality)
                page.close()
                times.append((time.perf_counter() - started) * 1000)
        finally:
            pdf.close()
        return times

    samples: dict[str, list[float]] = {"page": [], "watermarked": [], "floor": []}
    app(True) if watermark_ok else app(False)  # warm-up: fonts, overlay, code paths
    floor()
    for r in range(args.rounds):
        order = ["page", "watermarked", "floor"] if r % 2 == 0 else ["floor", "watermarked", "page"]
        for name in order:
            if name == "floor":
                samples["floor"] += floor()
            elif name == "page":
                samples["page"] += app(False)
            elif watermark_ok:
                samples["watermarked"] += app(True)
    f50 = statistics.median(samples["floor"])
    result = {"render_page_ms": (statistics.median(samples["page"]), f50)}
    if watermark_ok:
        result["render_watermarked_page_ms"] = (statistics.median(samples["watermarked"]), f50)
    else:
        print("no CJK font for watermarks (MEETINGS_WATERMARK_FONT_PATH): skipped that figure")
    return result


# --- main ------------------------------------------------------------------------------


def emit(metric: str, value: float, floor: float | None, **extra: Any) -> None:
    row = {
        "bench": "meeting_fanout",
        "metric": metric,
        "value": round(value, 2),
        "floor": round(floor, 2) if floor is not None else None,
        "ratio": round(value / floor, 2) if floor else None,
        "unit": "ms",
        **extra,
    }
    print(json.dumps(row), flush=True)


def main() -> int:
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-meetings-"))
    try:
        url = prepare_database(args, tmp)
        server_url = url
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": url,
            "VAR_DIR": str(tmp / "var"),
            "MEDIA_ROOT": str(tmp / "media"),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "MEETINGS_WS_RATE_PER_10S": "10000",
            "LOG_LEVEL": "WARNING",
        }
        (tmp / "var").mkdir()
        os.environ.update({k: v for k, v in env.items() if k != "REDIS_URL"})
        os.environ.pop("REDIS_URL", None)  # this process broadcasts to nobody
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()

        print(f"page images: {args.pages}-page PDF, {args.rounds} round(s)")
        images = render_figures(args)

        fan: dict[str, list[float]] = {}
        failed: list[str] = []
        problem = redis_answers(args.redis_url)
        if problem is not None:
            print(
                f"SKIPPED the fan-out figures: Redis at {args.redis_url} does not answer "
                f"({problem}); set --redis-url or REDIS_URL"
            )
        else:
            print(f"seeding a meeting with {args.tablets} tablets …", flush=True)
            data = seed(args.tablets)
            from django.db import connections

            connections.close_all()
            fan["floor"] = run_floor(args)
            server_env = {**env, "REDIS_URL": args.redis_url, "DATABASE_URL": server_url}
            for layer in args.layers.split(","):
                for attempt in (1, 2):
                    print(f"measuring uvicorn ×2 + {layer} (attempt {attempt}) …", flush=True)
                    try:
                        fan[layer] = run_channels(args, layer, server_env, data, tmp)
                        break
                    except Exception as exc:  # reported, retried once, then a failure
                        print(f"uvicorn ×2 + {layer} failed: {exc!r}", flush=True)
                        failed.append(layer)

        print()
        print(f"  {'':44} {'p50 ms':>8} {'p99 ms':>8}")
        for name, samples in fan.items():
            label = (
                "floor: bare websockets broadcast" if name == "floor" else f"uvicorn ×2 + {name}"
            )
            print(
                f"  {label + f' ({args.tablets} tablets)':44} "
                f"{statistics.median(samples):8.1f} {percentile(samples, 99):8.1f}"
            )
        for metric, (value, floor) in images.items():
            print(f"  {metric:44} {value:8.1f}   floor {floor:.1f}")

        extra = {
            "tablets": args.tablets,
            "turns": args.turns,
            "workers": 2,
            "db": "postgresql" if url.startswith("postgres") else "sqlite",
            "load": round(os.getloadavg()[0], 2),
        }
        if "floor" in fan:
            f50, f99 = statistics.median(fan["floor"]), percentile(fan["floor"], 99)
            for layer in [x for x in args.layers.split(",") if x in fan]:
                suffix = "" if layer == "pubsub" else f"_{layer}"
                samples = fan[layer]
                emit(
                    f"fanout{suffix}_p50_ms", statistics.median(samples), f50, layer=layer, **extra
                )
                emit(f"fanout{suffix}_p99_ms", percentile(samples, 99), f99, layer=layer, **extra)
        for metric, (value, floor) in images.items():
            emit(metric, value, floor, pages=args.pages, rounds=args.rounds)
        lost = [layer for layer in args.layers.split(",") if "floor" in fan and layer not in fan]
        if failed:
            print(f"failures (each retried once): {', '.join(failed)}", file=sys.stderr)
        if "pubsub" in lost:
            print("FAILED: no figures for the production layer (pubsub)", file=sys.stderr)
            return 1
        if lost:
            # The classic layer is measured for comparison only; its consumers crash now
            # and then under load (redis TimeoutError in receive), which is itself a finding.
            print(f"no figures for {', '.join(lost)}: it failed twice (see above)")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
