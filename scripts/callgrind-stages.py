"""A query's instructions by stage of the read path: its callgrind profile minus the profile of
the setup alone, function by function (`callgrind_annotate` self costs, where inlined code
counts to the function it was inlined in). Used by scripts/callgrind-engine.sh --stages.

    python3 scripts/callgrind-stages.py SETUP.txt QUERY.txt NAME
"""

import re
import sys

# A function's own instructions go to the first stage whose pattern its name matches.
STAGES = [
    ("store (in memory): serve + protobuf encode",
     r"^<?(store_api::(server|memory)|hyper::proto::h2::server|tonic::codec::encode)|encode"),
    ("gRPC: protobuf decode",
     r"prost|panoptes_proto|tonic::codec::decode|ProstDecoder|store_api::convert"),
    ("gRPC: HTTP/2 transport, buffers (both ends)", r"^<?(h2|hyper|tonic|tower|http_body|bytes)::"),
    ("XOR decode", r"store_api::chunk"),
    ("dedup", r"gateway::fanout::dedup"),
    ("fan-out: select, merge", r"gateway::fanout"),
    ("JSON", r"gateway::http::json|gateway::promql::functions::format|ryu::"),
    ("engine: planning + evaluation", r"gateway::promql"),
    ("malloc, free, memcpy (all stages)",
     r"^_?_?(int_)?(malloc|free|realloc|cfree|mem(cpy|move|cmp|set)|unlink_chunk)|__rdl_alloc"
     r"|alloc_perturb|RawVecInner<A>::(finish_grow|reserve)"),
    ("async runtime", r"tokio"),
]

LINE = re.compile(r"^\s*([\d,]+) \([^)]*\)\s+.*?:(.*?)(?: \[[^\]]*\])?$", re.M)


def own_costs(path):
    """Instructions per function (summed over the source files inlined into it)."""
    costs = {}
    for count, function in LINE.findall(open(path).read()):
        if "PROGRAM TOTALS" not in function:
            costs[function] = costs.get(function, 0) + int(count.replace(",", ""))
    return costs


def main():
    setup, query, name = own_costs(sys.argv[1]), own_costs(sys.argv[2]), sys.argv[3]
    by_stage = {stage: 0 for stage, _ in STAGES}
    other = 0
    for function, count in query.items():
        count -= setup.get(function, 0)
        stage = next((s for s, pattern in STAGES if re.search(pattern, function)), None)
        if stage is None:
            other += count
        else:
            by_stage[stage] += count
    total = sum(by_stage.values()) + other
    print(f"\n{name}: {total:,} instructions")
    for stage, count in [*by_stage.items(), ("other", other)]:
        print(f"  {stage:<44} {count:>14,} {100 * count / total:6.1f} %")


main()
