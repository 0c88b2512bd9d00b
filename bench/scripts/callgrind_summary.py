#!/usr/bin/env python3
"""Self and inclusive instruction counts per function from a callgrind file.

callgrind_annotate 3.19 mis-attributes everything to `clone` when function
names contain "[clone .isra.0]"; this reads the format directly.

  callgrind_summary.py FILE [--ops N] [--top K] [--grep REGEX]

With --ops, also prints instructions per operation.
"""
import argparse
import collections
import re
import sys


def parse(path):
    names = {}
    self_cost = collections.Counter()
    call_cost = collections.Counter()  # inclusive cost of calls made by fn
    total = 0
    fn = None
    pending_call = False

    def name_of(spec):
        m = re.match(r"\((\d+)\)(?:\s+(.*))?$", spec.strip())
        if not m:
            return spec.strip()
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), "?" + m.group(1))

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("fn="):
                fn = name_of(line[3:])
                continue
            if line.startswith("cfn="):
                name_of(line[4:])
                continue
            if line.startswith("calls="):
                pending_call = True
                continue
            if line.startswith("summary:"):
                total = int(line.split()[1])
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                if len(parts) < 2 or fn is None:
                    pending_call = False
                    continue
                cost = int(parts[1])
                if pending_call:
                    call_cost[fn] += cost
                    pending_call = False
                else:
                    self_cost[fn] += cost
    inclusive = collections.Counter()
    for k in set(self_cost) | set(call_cost):
        inclusive[k] = self_cost[k] + call_cost[k]
    return total, self_cost, inclusive


def short(name, width=150):
    name = re.sub(r"std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >",
                  "std::string", name)
    name = re.sub(r"nlohmann::json_abi_v3_11_2::", "nlohmann::", name)
    return name if len(name) <= width else name[: width - 3] + "..."


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--ops", type=int, default=0)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--grep", default=None)
    ap.add_argument("--inclusive", action="store_true")
    a = ap.parse_args()
    total, self_cost, inclusive = parse(a.file)
    print(f"total {total:,} Ir" + (f" = {total / a.ops:,.0f} Ir/op over {a.ops} ops" if a.ops else ""))
    table = inclusive if a.inclusive else self_cost
    rows = table.most_common()
    if a.grep:
        rows = [r for r in rows if re.search(a.grep, r[0])]
    print(("inclusive" if a.inclusive else "self") + " cost, top functions:")
    for name, cost in rows[: a.top]:
        per_op = f"{cost / a.ops:10,.0f}/op " if a.ops else ""
        print(f"{cost:15,} {100.0 * cost / max(total, 1):6.2f}% {per_op} {short(name)}")


if __name__ == "__main__":
    sys.exit(main())
