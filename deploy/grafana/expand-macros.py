#!/usr/bin/env python3
"""expand-macros.py — Grafana PostgreSQL macros to plain SQL, for testing the
dashboards against a real database (tests/integration/test_persistence_grafana.sh).

  expand-macros.py DASHBOARD.json FROM TO INTERVAL_SECONDS

FROM and TO are RFC 3339 times.  Prints one JSON object per query target:
{"panel": id, "title": ..., "format": "time_series"|"table", "sql": ...}.

Expands what Grafana's PostgreSQL data source expands, the way it does:
  $__interval, $__interval_ms          the interval ("5m", 300000)
  $__time(col)                         col AS "time"
  $__timeEpoch(col)                    extract(epoch from col) AS "time"
  $__timeFilter(col)                   col BETWEEN 'FROM' AND 'TO'
  $__timeFrom(), $__timeTo()           'FROM', 'TO'
  $__timeGroup(col, iv[, fill])        floor(extract(epoch from col)/S)*S
  $__timeGroupAlias(col, iv[, fill])   the same AS "time"
  $__unixEpochFilter(col)              col >= F AND col <= T (Unix seconds)
  $__unixEpochFrom(), $__unixEpochTo()
Anything else starting with $__ is an error, so a typo cannot pass the test."""
import json
import re
import sys
from datetime import datetime


def seconds_of(iv):
    m = re.fullmatch(r"\s*'?(\d+)(ms|s|m|h|d)?'?\s*", iv)
    if not m:
        raise ValueError(f"interval {iv!r}")
    n = int(m.group(1))
    return {"ms": n / 1000, "s": n, None: n, "m": n * 60, "h": n * 3600, "d": n * 86400}[m.group(2)]


def fmt_interval(secs):
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs % size == 0:
            return f"{secs // size}{unit}"
    return f"{secs}s"


def split_args(s):
    """Splits a macro's argument text at top-level commas."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def expand(sql, frm, to, interval):
    f_epoch = int(datetime.fromisoformat(frm.replace("Z", "+00:00")).timestamp())
    t_epoch = int(datetime.fromisoformat(to.replace("Z", "+00:00")).timestamp())
    # template variables first, as Grafana interpolates them before macros
    sql = sql.replace("$__interval_ms", str(interval * 1000))
    sql = sql.replace("$__interval", fmt_interval(interval))

    def group(args):
        secs = int(seconds_of(args[1]))
        return f"floor(extract(epoch from {args[0]})/{secs})*{secs}"

    macros = {
        "time": lambda a: f'{a[0]} AS "time"',
        "timeEpoch": lambda a: f'extract(epoch from {a[0]}) AS "time"',
        "timeFilter": lambda a: f"{a[0]} BETWEEN '{frm}' AND '{to}'",
        "timeFrom": lambda a: f"'{frm}'",
        "timeTo": lambda a: f"'{to}'",
        "timeGroup": group,
        "timeGroupAlias": lambda a: group(a) + ' AS "time"',
        "unixEpochFilter": lambda a: f"{a[0]} >= {f_epoch} AND {a[0]} <= {t_epoch}",
        "unixEpochFrom": lambda a: str(f_epoch),
        "unixEpochTo": lambda a: str(t_epoch),
    }
    out, i = "", 0
    while True:
        m = re.compile(r"\$__(\w+)\(").search(sql, i)
        if not m:
            out += sql[i:]
            break
        name = m.group(1)
        if name not in macros:
            raise ValueError(f"unknown macro $__{name}")
        depth, j = 1, m.end()
        while depth:
            if j >= len(sql):
                raise ValueError(f"unbalanced parentheses after $__{name}")
            depth += {"(": 1, ")": -1}.get(sql[j], 0)
            j += 1
        out += sql[i:m.start()] + macros[name](split_args(sql[m.end():j - 1]))
        i = j
    left = re.search(r"\$__\w+", out)
    if left:
        raise ValueError(f"unexpanded {left.group(0)}")
    return out


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    dash = json.load(open(sys.argv[1]))
    frm, to, interval = sys.argv[2], sys.argv[3], int(sys.argv[4])
    for p in dash["panels"]:
        for t in p.get("targets", []):
            print(json.dumps({"panel": p["id"], "title": p["title"], "format": t.get("format", "time_series"),
                              "sql": expand(t["rawSql"], frm, to, interval)}))


if __name__ == "__main__":
    main()
