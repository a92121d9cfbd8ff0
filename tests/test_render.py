"""The trace for people (issue 5): text lanes per CPU, and a self-contained HTML picture."""

from __future__ import annotations

import copy
import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from html.parser import HTMLParser

import pytest

from checker.render import render_html, render_text
from checker.trace import make_trace

try:
    from tests import trace_programs as tp
except ImportError:
    import trace_programs as tp


@pytest.fixture(scope="module")
def locks():
    params = {"program": "locks"}
    # The trace must show every kind of step the renderer marks, a sleep among them.
    for start in range(0, 3000, 100):
        v = tp.find_violation(params, "bug", seeds=range(start, start + 100))
        if v is not None and any(s.action.startswith("sleep") for s in v.steps):
            return make_trace(v, tp.program(params))
    raise AssertionError("no violating random walk of 'locks' sleeps")


def _rows(text):
    return [line for line in text.splitlines() if line[:10].strip().lstrip(">* ").isdigit()]


def test_text_has_one_column_per_cpu_and_one_row_per_step(locks):
    text = render_text(locks)
    head = next(line for line in text.splitlines() if "step" in line and "CPU 0" in line)
    assert "CPU 1" in head and head.rstrip().endswith("in")
    rows = _rows(text)
    assert len(rows) == len(locks["events"])
    col1 = head.index("CPU 1")
    for row, e in zip(rows, locks["events"]):
        # The task's name starts the cell in its CPU's column.
        at = row.index(f" {e['name']}  ") + 1
        assert (at >= col1) == (e["cpu"] == 1), row


def test_text_marks_the_violation_preemptions_sleeps_and_lock_operations(locks):
    text = render_text(locks)
    rows = _rows(text)
    step = locks["violation"]["step"]
    assert rows[step].lstrip().startswith(">>")
    assert sum("!preempts" in r for r in rows) == locks["stats"]["preemptions"] > 0
    sleeps = [r for r, e in zip(rows, locks["events"]) if e["op"] == "sleep"]
    assert sleeps and all("zz" in r for r in sleeps)
    assert "mutex_lock(&pool->mutex)" in text and "spin_lock(&class->lock)" in text
    assert "mutex_trylock(&pool->mutex) = " in text
    assert text.splitlines()[0].startswith(f"violation of bug at step {locks['violation']['step']}: task B hit BUG")


def test_text_shows_the_kernel_function_of_each_step(locks):
    rows = _rows(render_text(locks))
    for row, e in zip(rows, locks["events"]):
        fn = {"A": "zs_compact", "B": "zs_free", "D": "zs_page_migrate", "R": "zs_obj_read_begin"}[e["name"]]
        assert row.rstrip().endswith(fn), row


def test_text_lists_the_locks_held_at_the_violating_step(locks):
    text = render_text(locks)
    tail = text[text.index("locks held at step"):]
    # A sleeps inside its mutex section while B reads x: A still holds the mutex.
    assert "A: pool->mutex (mutex)" in tail
    assert "class->lock" not in tail  # B released the spinlock in the violating step


def test_text_renders_a_trace_without_events():
    trace = {"violation": {"property": "deadlock", "message": "m", "step": -1}, "program": {},
             "events": [], "tasks": [{"name": "A", "cpu": 0, "role": None}],
             "pending": [{"task": 0, "name": "A", "action": "acquire(L)", "why": "spins on L"}]}
    text = render_text(trace)
    assert "(no steps)" in text and "A: acquire(L) (spins on L)" in text


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []
        self.stack = []
        self.steps = {}
        self.text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        self.stack.append((tag, a))
        if tag == "g" and "step" in a.get("class", "").split():
            self.steps[a["id"]] = {"class": a["class"], "title": None}

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data):
        self.text.append(data)
        if self.stack and self.stack[-1][0] == "title" and len(self.stack) > 1:
            parent = self.stack[-2]
            if parent[0] == "g" and parent[1].get("id") in self.steps:
                self.steps[parent[1]["id"]]["title"] = data


def test_html_is_a_self_contained_picture_with_hover_details(locks):
    page = _Page()
    page.feed(render_html(locks))
    names = [t for t, _ in page.tags]
    assert names.count("svg") == 1 and "style" in names
    assert "script" not in names and "link" not in names and "img" not in names
    for _, attrs in page.tags:
        for k in ("href", "src"):
            assert not str(attrs.get(k, "")).startswith(("http", "//")), attrs
    assert len(page.steps) == len(locks["events"])
    step = locks["violation"]["step"]
    violating = [i for i, s in page.steps.items() if "violating" in s["class"]]
    assert violating == [f"step-{step}"]
    for i, s in page.steps.items():
        assert s["title"].startswith(f"step {i.split('-')[1]}: "), s
    # Each step's details say what its task holds: A sleeps holding the mutex.
    last_a = max(e["i"] for e in locks["events"] if e["name"] == "A")
    assert "holds: pool->mutex (mutex)" in page.steps[f"step-{last_a}"]["title"]
    assert "holds: no locks" in page.steps[f"step-{step}"]["title"]
    text = " ".join(page.text)
    assert "CPU 0" in text and "CPU 1" in text and "Locks held at step" in text


def test_html_escapes_what_the_model_prints(locks):
    evil = copy.deepcopy(locks)
    evil["events"][0]["action"] = "<script>alert(1)</script>"
    evil["events"][0]["op"] = "read"
    evil["violation"]["message"] = "<b>bold</b>"
    page = _Page()
    page.feed(render_html(evil))
    assert "script" not in [t for t, _ in page.tags] and "b" not in [t for t, _ in page.tags]


def _browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB/RGBA PNG (what Chromium writes)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, bpp)])
        prev = line
    return w, h, rows


def test_html_renders_in_headless_chromium(locks, tmp_path):
    browser = _browser()
    if browser is None:
        pytest.skip("no chromium installed (apt-get install -y chromium)")
    page = tmp_path / "trace.html"
    page.write_text(render_html(locks))
    shot = tmp_path / "shot.png"
    profile = tempfile.mkdtemp(dir=tmp_path)
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1000,900",
         page.as_uri()], check=False, capture_output=True, timeout=120)
    assert shot.exists() and os.path.getsize(shot) > 0, proc.stderr.decode()[-500:]
    w, h, rows = _png_pixels(str(shot))
    assert (w, h) == (1000, 900)
    colors = {px for row in rows[::7] for px in row[::7]}
    assert len(colors) > 20  # not a blank page
    # The violating step's red box is drawn.
    red = sum(1 for row in rows for r, g, b in row if r > 200 and r - g > 50 and r - b > 50)
    assert red > 200
