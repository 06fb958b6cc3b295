#!/bin/bash
# The monitoring files in contrib/monitoring/ against a real agent: the
# Prometheus rules pass `promtool check rules` and their unit tests
# (`promtool test rules`); an agent run with --log-format json writes
# decision lines that are JSON with the job's facts as members; its metrics
# file passes `promtool check metrics`, labels decisions with the
# configuration's names only, and carries every metric that a dashboard
# panel or a rule uses (node_exporter's own metrics are listed below).
# promtool comes with Debian's `prometheus` package (scripts/ci-tools.sh
# installs it); without it the test is skipped, except in CI (SIGNET_CI set).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
MON=$SRC/contrib/monitoring
# Metrics the dashboard and the rules take from node_exporter itself.
NODE_METRICS="node_textfile_mtime_seconds"

if ! command -v promtool >/dev/null; then
	if [ -n "${SIGNET_CI:-}" ]; then
		echo "missing tool: promtool (Debian: apt-get install --no-install-recommends prometheus; scripts/ci-tools.sh installs it)"
		exit 1
	fi
	echo "SKIP: promtool not found (Debian: apt-get install --no-install-recommends prometheus)"
	exit 77
fi
stack_init monitoring python3

if promtool check rules "$MON/signet-rules.yml" > "$D/rules.out" 2>&1; then
	ok "promtool check rules: $(grep -o 'SUCCESS.*' "$D/rules.out")"
else
	fail "promtool check rules" "$D/rules.out"
fi
# promtool resolves rule_files relative to the test file.
if promtool test rules "$MON/signet-rules.test.yml" > "$D/rules-test.out" 2>&1; then
	ok "promtool test rules: agent down, metrics absent and stale, certificate expiring and expired, checkpoint stale"
else
	fail "promtool test rules" "$D/rules-test.out"
fi

stack_redis_start || exit 1
stack_token_init || exit 1
stack_submitter ci-fw ec
STACK_EXTRA="\"metrics_file\": \"$D/signet.prom\", \"metrics_interval\": 1, \"checkpoint_interval\": 1,"
stack_config
stack_agent_start --log-format json || exit 1

printf 'firmware\n' > "$D/fw.bin"
sj() {
	SIGNET_REDIS=unix://$D/redis.sock SIGNET_IDENTITY=$D/ci-fw.key SIGNET_AGENT_PUBKEY=$D/agent.pub \
		"$SUBMIT_JOB" -w 30 "$@"
}
sj -k release -f raw -o "$D/fw.sig" "$D/fw.bin" > "$D/sj1.out" 2>&1 || fail "signing job" "$D/sj1.out"
# A key the configuration does not know, with a quote in its name.
sj -k 'no-such"key' -f raw -o "$D/x.sig" "$D/fw.bin" > "$D/sj2.out" 2>&1
# Until the metrics carry both decisions and a checkpoint.
for _ in $(seq 1 100); do
	grep -q '^signet_jobs_total{status="rejected"' "$D/signet.prom" 2>/dev/null &&
		grep -q '^signet_audit_checkpoint_last_seconds [1-9]' "$D/signet.prom" && break
	sleep 0.1
done
cp "$D/signet.prom" "$D/running.prom"

# The decision lines, read as JSON.
if python3 - "$D/agent.log" > "$D/json.out" 2>&1 <<'EOF'
import json, sys
decisions = []
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    o = json.loads(line)  # every line is one JSON object
    for m in ("time", "level", "ident", "msg"):
        assert m in o, f"line {n}: no {m}"
    if o.get("event") == "decision":
        decisions.append(o)
signed = [o for o in decisions if o["status"] == "signed"]
rejected = [o for o in decisions if o["status"] == "rejected"]
assert len(signed) == 1 and len(rejected) == 1, decisions
for o in signed + rejected:
    for m in ("job", "entry", "key", "submitter", "code", "duration_ms", "artifact", "sha256"):
        assert m in o, f"decision without {m}: {o}"
    assert isinstance(o["duration_ms"], int) and o["duration_ms"] >= 0, o
    assert o["submitter"] == "ci-fw", o
s, r = signed[0], rejected[0]
assert s["key"] == "release" and s["code"] == "" and s["format"] == "raw", s
assert r["key"] == 'no-such"key' and r["code"] == "policy.unknown_key", r
assert len(s["job"]) == 32 and r["job"] != s["job"], (s, r)
print(f'signed: job {s["job"][:12]}... key {s["key"]} in {s["duration_ms"]} ms; '
      f'rejected: key {json.dumps(r["key"])} code {r["code"]}')
EOF
then
	ok "--log-format json: decision lines carry event, job, entry, key, submitter, code, duration_ms ($(cat "$D/json.out"))"
else
	fail "JSON decision lines" "$D/json.out"
fi

m=$D/running.prom
if promtool check metrics < "$m" > "$D/check-metrics.out" 2>&1; then
	ok "promtool check metrics accepts the agent's metrics file"
else
	fail "promtool check metrics" "$D/check-metrics.out"
fi
if grep -q '^signet_jobs_total{status="signed",code="",key="release",submitter="ci-fw"} 1$' "$m" &&
	grep -q '^signet_jobs_total{status="rejected",code="policy.unknown_key",key="other",submitter="ci-fw"} 1$' "$m" &&
	! grep -q 'no-such' "$m" && grep -q '^signet_last_signature_seconds{key="release"} [1-9]' "$m" &&
	grep -q '^signet_approvals_pending 0$' "$m" && grep -q '^signet_queue_oldest_pending_seconds 0$' "$m" &&
	grep -q '^signet_queue_oldest_undelivered_seconds 0$' "$m" &&
	grep -q '^signet_audit_checkpoint_interval_seconds 1$' "$m"; then
	ok "decisions are labelled with the configuration's key and submitter names (an unknown key is \"other\")"
else
	fail "metric labels" "$m"
fi

# Every metric a panel or a rule uses is in the real file (or node_exporter's).
if python3 - "$MON/signet-dashboard.json" "$MON/signet-rules.yml" "$m" "$NODE_METRICS" > "$D/names.out" 2>&1 <<'EOF'
import json, re, sys
dash, rules, prom, node = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split()
d = json.load(open(dash))
assert d["__inputs"][0]["name"] == "DS_PROMETHEUS", "no DS_PROMETHEUS input"
exprs = []
def walk(x):
    if isinstance(x, dict):
        for k, v in x.items():
            if k in ("expr", "definition") and isinstance(v, str):
                exprs.append(("dashboard", v))
            else:
                walk(v)
    elif isinstance(x, list):
        for v in x:
            walk(v)
walk(d)
# The rules file: its expr lines (folded expressions continue on the next
# lines, indented deeper).
lines = open(rules).read().splitlines()
i = 0
while i < len(lines):
    mt = re.match(r"^(\s*)expr:\s*(.*)$", lines[i])
    if mt:
        ind, text = len(mt.group(1)), mt.group(2)
        if text in (">-", ">", "|", "|-"):
            text = ""
            while i + 1 < len(lines) and (len(lines[i + 1]) - len(lines[i + 1].lstrip())) > ind:
                i += 1
                text += " " + lines[i].strip()
        exprs.append(("rules", text))
    i += 1
have = set()
for line in open(prom):
    if line.startswith("# TYPE "):
        have.add(line.split()[2])
    elif line.strip() and not line.startswith("#"):
        have.add(re.split(r"[{ ]", line, 1)[0])
keywords = {"by", "without", "and", "or", "unless", "on", "ignoring", "group_left",
            "group_right", "bool", "offset", "le"}
missing, used = [], set()
for where, e in exprs:
    s = re.sub(r"label_values\(\s*([^,)]*),[^)]*\)", r"\1", e)  # a variable's query
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', s)        # strings
    s = re.sub(r"\{[^}]*\}", "", s)                   # label matchers
    s = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", s)  # groupings
    s = re.sub(r"\[[^\]]*\]", "", s)                  # ranges
    for mt in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?", s):
        name, call = mt.group(0).rstrip("( \t"), mt.group(1)
        if call or name in keywords:
            continue
        if name.startswith("label_values"):
            continue
        used.add(name)
        if name not in have and name not in node:
            missing.append(f"{where}: {name} in {e}")
assert not missing, "\n".join(missing)
assert len(exprs) >= 20, exprs
print(f"{len(exprs)} expressions, {len(used)} metrics: {' '.join(sorted(used))}")
EOF
then
	ok "the dashboard loads as JSON; every metric its panels and the rules use is in the agent's file or node_exporter's: $(cat "$D/names.out")"
else
	fail "metric names in the dashboard and the rules" "$D/names.out"
fi

stack_agent_stop
if grep -q '^signet_up 0$' "$D/signet.prom" && promtool check metrics < "$D/signet.prom" >/dev/null 2>&1 &&
	tail -n 1 "$D/agent.log" | jq -e '.event == "stop" and .msg == "stopped"' >/dev/null; then
	ok "after a clean stop: signet_up 0 in a file promtool accepts, and a \"stop\" event last in the log"
else
	fail "after the stop" "$D/agent.log"
fi
summary
