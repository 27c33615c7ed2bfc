#!/usr/bin/env bash
# Validates deploy/: renders every overlay (and deploy/grafana) with `kubectl kustomize`,
# checks every rendered document against the Kubernetes API schemas (kubernetes-validate,
# strict: unknown fields are errors), cross-checks the objects (selectors, Services the
# gateways discover through, pinned images), and checks that the Grafana dashboard only
# names metrics that docs/operations.md lists. Needs python3 and kubectl; kubernetes-validate
# is installed into a virtualenv under the target directory. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

KUBERNETES_VALIDATE=1.37.0
# The oldest and the newest Kubernetes the manifests are checked against.
KUBERNETES_VERSIONS="1.30.0 1.37.0"
OVERLAYS="single-cluster sharded region-global"

start=$SECONDS
target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target"
target="$(cd "$target" && pwd)"
venv="$target/deploy-venv"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

command -v kubectl >/dev/null || { echo "validate-deploy: kubectl is required" >&2; exit 1; }
command -v python3 >/dev/null || { echo "validate-deploy: python3 is required" >&2; exit 1; }

if [ ! -x "$venv/bin/python" ]; then
  echo "== creating $venv"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    # Debian's python3 comes without venv/ensurepip: that is the python3-venv package.
    echo "== installing Debian's python3-venv"
    rm -rf "$venv"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    python3 -m venv "$venv"
  fi
fi
if ! "$venv/bin/python" -c "import sys, kubernetes_validate.version as v; sys.exit(v.__version__ != '$KUBERNETES_VALIDATE')" 2>/dev/null; then
  echo "== installing kubernetes-validate $KUBERNETES_VALIDATE"
  # A half-made virtualenv is removed, so the next run starts it anew.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE" \
    || { rm -rf "$venv"; echo "validate-deploy: could not install kubernetes-validate" >&2; exit 1; }
fi

rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT

for overlay in $OVERLAYS; do
  echo "== kubectl kustomize deploy/overlays/$overlay"
  kubectl kustomize "deploy/overlays/$overlay" >"$rendered/$overlay.yaml"
done
echo "== kubectl kustomize deploy/grafana"
kubectl kustomize deploy/grafana >"$rendered/grafana.yaml"
cp deploy/base/objstore-secret.example.yaml "$rendered/objstore-secret.example.yaml"

echo "== kubernetes-validate $KUBERNETES_VALIDATE (Kubernetes $KUBERNETES_VERSIONS, strict) and cross-checks"
"$venv/bin/python" - "$rendered" "$KUBERNETES_VERSIONS" $OVERLAYS grafana objstore-secret.example <<'PY'
import sys, re, yaml
import kubernetes_validate
from kubernetes_validate.utils import SchemaNotFoundError

directory, versions, names = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
failures = []

def fail(where, message):
    failures.append(f"{where}: {message}")

def pod_templates(docs):
    """(doc, pod template) of every workload."""
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            yield d, d["spec"]["template"]

def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

for name in names:
    path = f"{directory}/{name}.yaml"
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    if not docs:
        fail(name, "rendered no documents")
        continue
    schema_failures = len(failures)
    for d in docs:
        where = f"{name}: {d.get('kind')}/{d.get('metadata', {}).get('name')}"
        for version in versions:
            try:
                kubernetes_validate.validate(d, version, strict=True)
            except SchemaNotFoundError as e:
                fail(where, e.message)
            except kubernetes_validate.ValidationError as e:
                fail(where, f"Kubernetes {version}: {'.'.join(map(str, e.path))}: {e.message}")
    if len(failures) > schema_failures:
        continue  # the cross-checks below assume schema-valid objects

    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    templates = list(pod_templates(docs))

    for d, template in templates:
        where = f"{name}: {d['kind']}/{d['metadata']['name']}"
        labels = template["metadata"].get("labels", {})
        if not matches(d["spec"]["selector"].get("matchLabels"), labels):
            fail(where, "selector does not match its pod template's labels")
        if d["kind"] == "StatefulSet":
            svc = by_kind.get("Service", {}).get(d["spec"]["serviceName"])
            if svc is None or svc["spec"].get("clusterIP") != "None":
                fail(where, f"serviceName {d['spec']['serviceName']!r} is not a headless Service here")
        spec = template["spec"]
        if spec.get("serviceAccountName") and spec["serviceAccountName"] not in by_kind.get("ServiceAccount", {}):
            fail(where, f"ServiceAccount {spec['serviceAccountName']!r} is not defined")
        for volume in spec.get("volumes", []):
            if "configMap" in volume and volume["configMap"]["name"] not in by_kind.get("ConfigMap", {}):
                fail(where, f"ConfigMap {volume['configMap']['name']!r} is not defined")
        for c in spec["containers"]:
            image = c["image"]
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            if not tag or tag == "latest":
                fail(where, f"container {c['name']}: image {image!r} is not pinned to a tag")
            for probe in ("readinessProbe", "livenessProbe"):
                if probe not in c:
                    fail(where, f"container {c['name']} has no {probe}")
            if "limits" not in c.get("resources", {}) or "requests" not in c.get("resources", {}):
                fail(where, f"container {c['name']} has no resource requests and limits")
            ports = {p["name"] for p in c.get("ports", []) if "name" in p}
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                port = c.get(probe, {}).get("httpGet", {}).get("port")
                if isinstance(port, str) and port not in ports:
                    fail(where, f"container {c['name']}: {probe} port {port!r} is not a named port")
            # An in-namespace dnssrv+ endpoint is a headless Service of this render with a port
            # named grpc that selects pods (other endpoints are outside the render).
            for arg in c.get("args", []):
                m = re.match(r"--endpoint=dnssrv\+_grpc\._tcp\.([a-z0-9-]+)\.\$\(POD_NAMESPACE\)\.svc\.cluster\.local$", arg)
                if m:
                    svc = by_kind.get("Service", {}).get(m.group(1))
                    if svc is None:
                        fail(where, f"{arg!r}: no Service {m.group(1)!r}")
                    elif svc["spec"].get("clusterIP") != "None" or "grpc" not in {p.get("name") for p in svc["spec"]["ports"]}:
                        fail(where, f"{arg!r}: Service {m.group(1)!r} is not headless with a port named grpc")
                    elif not any(matches(svc["spec"]["selector"], t["metadata"].get("labels", {})) for _, t in templates):
                        fail(where, f"{arg!r}: Service {m.group(1)!r} selects no pods")

    for svc in by_kind.get("Service", {}).values():
        where = f"{name}: Service/{svc['metadata']['name']}"
        selected = [t for _, t in templates if matches(svc["spec"].get("selector"), t["metadata"].get("labels", {}))]
        if not selected:
            fail(where, "selects no pods")
            continue
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort")
            if isinstance(target, str) and not any(
                    target in {p.get("name") for c in t["spec"]["containers"] for p in c.get("ports", [])}
                    for t in selected):
                fail(where, f"targetPort {target!r} is no named port of the selected pods")
    for pdb in by_kind.get("PodDisruptionBudget", {}).values():
        if not any(matches(pdb["spec"]["selector"]["matchLabels"], t["metadata"].get("labels", {})) for _, t in templates):
            fail(f"{name}: PodDisruptionBudget/{pdb['metadata']['name']}", "selects no pods")
    for secret in by_kind.get("Secret", {}).values():
        for key, text in secret.get("stringData", {}).items():
            bucket = yaml.safe_load(text) if key == "objstore.yaml" else None
            if key == "objstore.yaml" and not (isinstance(bucket, dict) and bucket.get("type") in ("S3", "GCS", "AZURE", "FILESYSTEM")):
                fail(f"{name}: Secret/{secret['metadata']['name']}", "objstore.yaml: type is not S3, GCS, AZURE or FILESYSTEM")

    if len(failures) == schema_failures:
        print(f"   {name}: {len(docs)} documents valid")

if failures:
    print("\n".join(f"ERROR {f}" for f in failures))
    sys.exit(1)
PY

echo "== deploy/grafana/panoptes-dashboard.json: valid JSON, only metrics of docs/operations.md"
python3 - deploy/grafana/panoptes-dashboard.json docs/operations.md <<'PY'
import json, re, sys

dashboard_path, docs_path = sys.argv[1:3]
try:
    with open(dashboard_path) as f:
        dashboard = json.load(f)
except ValueError as e:
    sys.exit(f"ERROR {dashboard_path}: not valid JSON: {e}")

# The metric names the docs list: the first column of the Self-metrics table.
with open(docs_path) as f:
    docs = f.read()
section = re.search(r"^## Self-metrics\n(.*?)(?=^## )", docs, re.S | re.M)
if not section:
    sys.exit(f"{docs_path}: no '## Self-metrics' section")
exact, prefixes, histograms = set(), [], set()
for line in section.group(1).splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) < 3 or not cells[0].startswith("`"):
        continue
    for name in re.findall(r"`([a-zA-Z_:][a-zA-Z0-9_:]*\*?)`", cells[0]):
        if name.endswith("*"):
            prefixes.append(name[:-1])
        else:
            exact.add(name)
            if cells[2].startswith("histogram"):
                histograms.add(name)
if len(exact) < 10:
    sys.exit(f"{docs_path}: found only {len(exact)} metric names in Self-metrics; has the table changed?")

def documented(name):
    if name in exact or any(name.startswith(p) for p in prefixes):
        return True
    base, _, suffix = name.rpartition("_")
    return suffix in ("bucket", "sum", "count") and base in histograms

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
            "and", "or", "unless", "atan2", "inf", "nan"}
# Aggregations may put `by (...)` before their argument: `sum by (job) (rate(x[5m]))`.
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
                "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
TOKEN = re.compile(r'''"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`|\$\{?\w+\}?|\d[\w.]*|[a-zA-Z_:][a-zA-Z0-9_:]*|\S''')

def metric_names(expr):
    """The metric names a PromQL expression selects (Grafana variables count as values)."""
    tokens = TOKEN.findall(expr)
    names, i = [], 0
    while i < len(tokens):
        t = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if t in ("{", "["):  # label matchers and ranges: no metric names inside
            i = tokens.index("}" if t == "{" else "]", i) + 1
            continue
        if t in ("by", "without", "on", "ignoring", "group_left", "group_right") and nxt == "(":
            i = tokens.index(")", i) + 1  # label names
            continue
        if t in AGGREGATIONS and nxt in ("by", "without"):
            i += 1
            continue
        if re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", t) and nxt != "(" and t.lower() not in KEYWORDS:
            names.append(t)
        i += 1
    return names

exprs = []
def walk(panels):
    for p in panels:
        walk(p.get("panels", []))
        if p.get("type") == "row":
            continue
        targets = [t.get("expr", "") for t in p.get("targets", [])]
        if not any(targets):
            exprs.append((p.get("title"), ""))
        exprs.extend((p.get("title"), e) for e in targets)
walk(dashboard.get("panels", []))
for v in dashboard.get("templating", {}).get("list", []):
    query = v.get("query")
    query = query.get("query", "") if isinstance(query, dict) else query
    if v.get("type") == "query":
        m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", query or "")
        exprs.append((f"variable {v.get('name')}", m.group(1) if m else query))

failures, seen = [], set()
for where, expr in exprs:
    names = metric_names(expr)
    if not names:
        failures.append(f"{where}: no metric in {expr!r}")
    for name in names:
        seen.add(name)
        if not documented(name):
            failures.append(f"{where}: metric {name!r} is not in {docs_path} (Self-metrics)")
if failures:
    print("\n".join(f"ERROR {dashboard_path}: {f}" for f in failures))
    sys.exit(1)
print(f"   {len(exprs)} queries, {len(seen)} metric names, all documented")
PY

# Prometheus 3's promtool, as scripts/reference-systems.sh unpacks it (scripts/test.sh runs that
# first), else one on PATH; Debian's 2.x promtool is built without kubernetes_sd: not used.
promtool="" version=""
for candidate in "$target/reference/sid/usr/bin/promtool" "$(command -v promtool || true)"; do
  [ -x "$candidate" ] || continue
  version="$("$candidate" --version 2>&1 || true)"
  case "$version" in "promtool, version 3."*) promtool="$candidate"; break ;; esac
done
if [ -n "$promtool" ]; then
  echo "== promtool check config (every prometheus.yml)"
  echo "${version%%$'\n'*}"
  for config in deploy/base/prometheus/prometheus.yml deploy/overlays/*/shard-*/prometheus.yml; do
    "$promtool" check config "$config" >/dev/null
    echo "   $config: valid"
  done
else
  echo "== no Prometheus 3 promtool: prometheus.yml files not checked (scripts/reference-systems.sh unpacks one)"
fi

echo "== deploy/ valid ($((SECONDS - start)) s)"
