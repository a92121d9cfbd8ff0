"""zsmc check looks for its first bugs at smaller depths first, and -x stops at the first."""

from __future__ import annotations

import json

from clirun import run

M = "kick-deferred-free-forgotten"      # found by free-migrate at depth 1


def test_a_depth_2_check_reports_what_depth_1_finds_first_then_completes_the_rest(tmp_path):
    res = run("check", "--mutation", M, "--depth", "2", "--scenario", "free-migrate",
              "--scenario", "up-read-compact", "--cpus", "1", "--format", "json", "--out", tmp_path)
    assert res.exit_code == 1, res.stdout
    doc = json.loads(res.stdout)
    first, second = doc["scenarios"]
    # The violation comes from the depth-1 pass, reported first (its trace replays at depth 1) ...
    assert first["name"] == "free-migrate" and first["params"]["depth"] == 1
    assert first["violations"] and first["violations"][0]["property"] == "pool-consistency"
    # ... and the scenario depth 1 found nothing in is still checked at the full depth.
    assert second["name"] == "up-read-compact" and second["params"]["depth"] == 2
    assert second["complete"] and not second["violations"]
    trace = json.loads(open(first["violations"][0]["trace"]).read())
    assert trace["program"]["params"]["depth"] == 1
    assert run("replay", first["violations"][0]["trace"]).exit_code == 1


def test_the_text_report_says_at_which_depth(tmp_path):
    res = run("check", "--mutation", M, "--depth", "2", "--scenario", "free-migrate", "--cpus", "2",
              "-q", "--out", tmp_path)
    assert res.exit_code == 1
    full = run("check", "--mutation", M, "--depth", "2", "--scenario", "free-migrate", "--cpus", "2",
               "--out", tmp_path)
    assert "scenario free-migrate (2 CPUs) at depth 1:" in full.stdout


def test_exitfirst_stops_at_the_first_violation_and_names_what_was_not_checked(tmp_path):
    res = run("check", "--mutation", M, "--depth", "2", "-x", "--out", tmp_path)
    assert res.exit_code == 1
    assert res.stdout.count("violation of ") == 1
    note = [ln for ln in res.stdout.splitlines() if ln.startswith("note: stopped at the first violation")]
    assert len(note) == 1 and "not checked:" in note[0] and "up-read-compact" in note[0]


def test_a_clean_check_is_unchanged_by_the_shallow_passes(tmp_path):
    res = run("check", "--depth", "2", "--scenario", "up-read-compact", "--format", "json", "--out", tmp_path)
    assert res.exit_code == 0
    [sc] = json.loads(res.stdout)["scenarios"]
    assert sc["params"]["depth"] == 2 and sc["complete"]
