#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""chrome-check.py FILE [--task NAME]... [--refusal TASK:ERRNO]... [--grants N]

Check that FILE is Chrome trace-event JSON as liteipc's Chrome renderer writes it and as
Perfetto and chrome://tracing read it: a JSON object with a traceEvents list; every record with
ph, pid, tid and a numeric ts, in time order; B/E balanced and nested per track; every flow
start (s) with exactly one end (f) of the same id after it, both inside a slice of their track
whose args name the same message (type, code, from, to); no call slice inside another.
Then what the caller expects: a named track (thread_name) per --task, an instant of a refusal
with that errno on that task's track per --refusal, at least N grants. Exit status 1 and what
is wrong otherwise.
"""
import argparse
import json
import sys


def fail(msg):
    print(f"chrome-check: {msg}", file=sys.stderr)
    sys.exit(1)


def check_structure(events):
    stacks, flows, last_ts = {}, {}, None
    for i, ev in enumerate(events):
        for key in ("ph", "pid", "tid", "ts"):
            if key not in ev:
                fail(f"record {i} has no {key}: {ev}")
        if not isinstance(ev["ts"], (int, float)):
            fail(f"record {i}: ts is not a number")
        if last_ts is not None and ev["ts"] < last_ts:
            fail(f"record {i}: time goes back ({ev['ts']} < {last_ts})")
        last_ts = ev["ts"]
        track = (ev["pid"], ev["tid"])
        stack = stacks.setdefault(track, [])
        ph = ev["ph"]
        if ph == "B":
            name = ev.get("name", "")
            if name.startswith("call ") and any(s["name"].startswith("call ") for s in stack):
                fail(f"record {i}: a call inside a call on track {track}")
            stack.append({"name": name, "args": ev.get("args", {})})
        elif ph == "E":
            if not stack:
                fail(f"record {i}: E without a B on track {track}")
            stack.pop()
        elif ph in ("s", "f"):
            if not stack:
                fail(f"record {i}: flow {ph} outside any slice of track {track}")
            fid, args = ev["id"], stack[-1]["args"]
            msg = {k: args.get(k) for k in ("type", "code", "from", "to")}
            if ph == "s":
                if fid in flows:
                    fail(f"record {i}: flow {fid} started twice")
                flows[fid] = {"msg": msg, "ended": False}
                continue
            if fid not in flows or flows[fid]["ended"]:
                fail(f"record {i}: flow end {fid} without one start before it")
            if "code" in args and msg != flows[fid]["msg"]:
                fail(f"record {i}: flow {fid} ends at {msg}, began at {flows[fid]['msg']}")
            flows[fid]["ended"] = True
        elif ph not in ("i", "M"):
            fail(f"record {i}: unexpected phase {ph!r}")
    for track, stack in stacks.items():
        if stack:
            fail(f"track {track}: slices never ended: {stack}")
    for fid, flow in flows.items():
        if not flow["ended"]:
            fail(f"flow {fid} never ends (a start needs one end)")
    return len(flows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--task", action="append", default=[])
    ap.add_argument("--refusal", action="append", default=[])
    ap.add_argument("--grants", type=int, default=0)
    args = ap.parse_args()
    with open(args.file, encoding="utf-8") as f:
        try:
            doc = json.load(f)
        except json.JSONDecodeError as e:
            fail(f"{args.file}: not JSON: {e}")
    events = doc.get("traceEvents") if isinstance(doc, dict) else None
    if not isinstance(events, list):
        fail(f"{args.file}: no traceEvents list")
    nflows = check_structure(events)

    tracks = {}  # task name -> (pid, tid)
    for ev in events:
        if ev["ph"] == "M" and ev.get("name") == "thread_name":
            tracks[ev["args"]["name"].split(" (")[0]] = (ev["pid"], ev["tid"])
    for name in args.task:
        if name not in tracks:
            fail(f"no track named {name!r} (tracks: {sorted(tracks)})")
    for want in args.refusal:
        task, err = want.split(":")
        if not any(ev["ph"] == "i" and (ev["pid"], ev["tid"]) == tracks.get(task) and
                   ev.get("args", {}).get("errno") == err for ev in events):
            fail(f"no {err} refusal on {task}'s track")
    grants = sum(1 for ev in events if ev["ph"] == "i" and ev["name"].startswith("grant:"))
    if grants < args.grants:
        fail(f"{grants} grants, expected at least {args.grants}")
    print(f"chrome-check: {args.file}: {len(events)} records, {nflows} flows, {grants} grants, "
          f"{len(tracks)} named tracks: OK")


if __name__ == "__main__":
    main()
