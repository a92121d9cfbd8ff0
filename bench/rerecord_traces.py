"""Record the catalogue's counterexamples again after a model change.

A trace file replays step by step, so a change of the steps a kernel function
yields (not of its behaviour) makes the replay diverge.  This runs each
file's recorded command (``meta.command``) again, minimised, and replaces
the file, keeping its ``expect``:

    python -m bench.rerecord_traces [FILE ...]     (default: tests/counterexamples/*.json)

A file whose command no longer finds a violation of the same property is
left alone and reported: that is a lost bug, not a re-recording.
"""

from __future__ import annotations

import json
import pathlib
import shlex
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent


def rerecord(path: pathlib.Path) -> str:
    old = json.loads(path.read_text())
    argv = shlex.split(old["meta"]["command"])
    if argv[:2] != ["zsmc", "check"]:
        return f"{path.name}: not a zsmc check command: {old['meta']['command']}"
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "cli", *argv[1:], "--out", out]
        # Exit 1 is the point (a violation); the files written say what was found.
        subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        found = [(json.loads(p.read_text()), p.read_text()) for p in pathlib.Path(out).glob("*.json")]
    same = [(d, text) for d, text in found if d["violation"]["property"] == old["violation"]["property"]]
    if not same:
        return f"{path.name}: LOST: the command finds no {old['violation']['property']} violation"
    new, text = same[0]
    expect = old.get("expect", "violation")
    if new.get("expect") != expect:
        text = text.replace(f'"expect": {json.dumps(new.get("expect"))}', f'"expect": {json.dumps(expect)}', 1)
    path.write_text(text)
    return f"{path.name}: {len(old['events'])} -> {len(new['events'])} steps"


def main(argv) -> int:
    files = [pathlib.Path(a) for a in argv] or sorted((ROOT / "tests" / "counterexamples").glob("*.json"))
    lost = 0
    for f in files:
        line = rerecord(f)
        lost += "LOST" in line
        print(line)
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
