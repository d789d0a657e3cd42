#!/usr/bin/env bash
# Events A/B harness (issue 15): what recording events costs the write paths, measured as the
# same runs on a build that writes no events (the checkout with -tags roster_noevents, or a
# revision BASE) and on the checkout, interleaved, on one seeded SQLite or PostgreSQL data set. Server CPU
# per request (/proc utime+stime, the steady figure on a shared machine) beside req/s and p99.
#   bench/ab-events.sh build [BASE]            build base (see above) and the checkout into $AB_DIR/bin/{base,head}
#   bench/ab-events.sh seed BACKEND            seed USERS users in ORGS organizations with the base build (bulk import)
#   bench/ab-events.sh run BACKEND WHICH OP [SECONDS] [CLIENTS]
#                                              WHICH base|head; OP create_user | update_user
#   bench/ab-events.sh ab BACKEND [ROUNDS] [SECONDS]
#                                              base and head alternately, ROUNDS times (default 3), each op
#   bench/ab-events.sh pair BACKEND OP [ROUNDS] [SECONDS]
#                                              base and head at the same time, ROUNDS times (default 3): both
#                                              servers share core 1 (each with its own load tool on core 0), so
#                                              that the machine's speed, which swings minute to minute on a
#                                              shared host, is the same for both; compare their req/s and CPU.
#                                              Which starts first alternates round by round.
#   bench/ab-events.sh toggle BACKEND OP [WINDOWS] [SECONDS]
#                                              one server (-tags roster_eventtoggle) under one load, recording
#                                              switched off and on every SECONDS (default 2), WINDOWS windows
#                                              (default 20): each window with events against its neighbours without
#   bench/ab-events.sh delivery [EVENTS]       head on SQLite: a backlog of EVENTS events (default 40000) delivered
#                                              to ENDPOINTS endpoints (default 1) on one local receiver; deliveries/s
#                                              (one endpoint's deliveries are sequential: per-endpoint event order)
# SCIM writes: bench/ab-scim.sh run with BIN=$AB_DIR/bin/base/roster and .../head/roster.
# Env: AB_DIR (/tmp/roster-ab-events), USERS (20000), ORGS (2000), PORT, KEEP=1 keeps a run's directory. PERF=file records a perf profile of
# roster during the measurement; PERFSTAT=events counts perf events (e.g. syscalls:sys_enter_pwrite64).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=$ROOT/bench/.tools/bin
AB_DIR=${AB_DIR:-/tmp/roster-ab-events}
PGADMIN=${PGADMIN:-postgres://postgres@127.0.0.1:5432}
USERS=${USERS:-20000}; ORGS=${ORGS:-2000}
PORT=${PORT:-$((20000 + RANDOM % 2000))}
CID=skc_ab_admin; CSEC=ab-secret-0123456789abcdef
source "$ROOT/bench/abkit.sh"
# pgcpu DB: the CPU ticks of PostgreSQL's backends connected to DB (those alive now).
pgcpu() { local t=0 p; for p in $(pgrep -f "postgres: .* $1 "); do t=$((t + $(cpu $p 2>/dev/null || echo 0))); done; echo $t; }
# targets: the run's requests in $t and the warm-up's in $w/warm.targets. Creates: distinct
# users for the warm-up and for the run (a repeated create would conflict).
targets() {
	if [ $op = create_user ]; then "$AB_DIR/bin/benchkit" creates --seed "$AB_DIR/seed-$backend/seed" --prefix "ab$RANDOM" --n ${CREATES:-100000} --base http://127.0.0.1:$PORT --out "$w/in" >/dev/null
		head -n 20000 "$w/in.rest.targets" > "$w/warm.targets"; tail -n +20001 "$w/in.rest.targets" > "$w/run.targets"; t=$w/run.targets
	else "$AB_DIR/bin/benchkit" inputs --seed "$AB_DIR/seed-$backend/seed" --out "$w/in" --base http://127.0.0.1:$PORT >/dev/null; t=$w/in/$op.rest.targets; cp "$t" "$w/warm.targets"; fi
}
warm() {
	tok=$(token)
	taskset -c 0 timeout 30 $TOOLS/vegeta attack -format=json -targets="$w/warm.targets" -rate=0 -workers=$c -max-workers=$c -duration=2s -timeout=10s -header "Authorization: Bearer $tok" >/dev/null
}
source "$ROOT/bench/toggle.sh"
cmd=${1:?usage: see the head of this file}; shift
case $cmd in
build)
	# base: the checkout built with -tags roster_noevents (the same code, writing no events),
	# or, given a revision, that revision's build (f3771c5: the last commit before events).
	base=${1:-}; mkdir -p "$AB_DIR/bin/base" "$AB_DIR/bin/head"
	if [ -z "$base" ]; then (cd "$ROOT" && go build -tags roster_noevents -o "$AB_DIR/bin/base/roster" ./cmd/roster); base="$(git -C "$ROOT" rev-parse --short HEAD) -tags roster_noevents"
	else w=$(mktemp -d); git -C "$ROOT" archive "$base" | tar -x -C "$w"; (cd "$w" && go build -o "$AB_DIR/bin/base/roster" ./cmd/roster); rm -rf "$w"; fi
	mkdir -p "$AB_DIR/bin/toggle"
	(cd "$ROOT" && go build -o "$AB_DIR/bin/head/roster" ./cmd/roster && go build -tags roster_eventtoggle -o "$AB_DIR/bin/toggle/roster" ./cmd/roster &&
		go build -o "$AB_DIR/bin/" ./bench/cmd/seed ./bench/cmd/benchkit ./bench/cmd/receiver)
	echo "base $base, head $(git -C "$ROOT" rev-parse --short HEAD) in $AB_DIR/bin" ;;
seed)
	backend=$1; s=$AB_DIR/seed-$backend; rm -rf "$s"; mkdir -p "$s/seed"; LOG=$s/roster.log
	if [ $backend = sqlite ]; then mkdir -m 700 "$s/data"; flags=(--data-dir "$s/data")
	else psql "$(pgurl test)" -qc "DROP DATABASE IF EXISTS abev_tpl" -c "CREATE DATABASE abev_tpl"; mkdir -m 700 "$s/keys"; flags=(--database-url "$(pgurl abev_tpl)" --data-dir "$s/keys"); fi
	PIN=0,1 start "$AB_DIR/bin/base/roster" "${flags[@]}"
	BENCH_TOKEN=$(token) "$AB_DIR/bin/seed" --url http://127.0.0.1:$PORT --dir "$s/seed" --orgs $ORGS --users $USERS --workers 16 --bulk --timeout 20m >"$s/seed.log" 2>&1
	[ $backend = postgres ] && psql "$(pgurl abev_tpl)" -qc ANALYZE
	kill $PID; wait $PID || true; echo "seeded $s" ;;
run)
	backend=$1 which=$2 op=$3 dur=${4:-10} c=${5:-16}
	w=$(mktemp -d "$AB_DIR/run.XXXX"); LOG=$w/roster.log; copydata $backend "$w"
	start "$AB_DIR/bin/$which/roster" "${flags[@]}"
	targets; warm
	c0=$(cpu $PID); t0=$(date +%s.%N); p0=0; [ -z "$db" ] || p0=$(pgcpu $db)
	if [ -n "${PERF:-}" ]; then taskset -c 0 perf record -F 999 -g -p $PID -o "$PERF" -- sleep $dur >/dev/null 2>&1 & fi
	if [ -n "${PERFSTAT:-}" ]; then taskset -c 0 perf stat -e "$PERFSTAT" -p $PID -- sleep $dur 2>&1 | grep -E "^ +[0-9]" & fi
	taskset -c 0 timeout $((dur+60)) $TOOLS/vegeta attack -format=json -targets="$t" -rate=0 -workers=$c -max-workers=$c -duration=${dur}s -timeout=10s -header "Authorization: Bearer $tok" > "$w/res.bin"
	c1=$(cpu $PID); p1=0; [ -z "$db" ] || p1=$(pgcpu $db)
	$TOOLS/vegeta report -type=json < "$w/res.bin" > "$w/rep.json"
	python3 - "$w/rep.json" "$c0" "$c1" "$(getconf CLK_TCK)" "$op" "$backend" "$which" "$p0" "$p1" <<'PY'
import json,sys
r=json.load(open(sys.argv[1])); c0,c1=float(sys.argv[2]),float(sys.argv[3]); hz=float(sys.argv[4])
n=r["requests"]; lat=r["latencies"]; p0,p1=float(sys.argv[8]),float(sys.argv[9])
pg=f', postgres backends CPU {(p1-p0)/hz/n*1e6:.0f} µs/req' if p1 else ''
print(f'{sys.argv[6]} {sys.argv[5]} {sys.argv[7]}: {r["throughput"]:.0f} ok/s of {n} req, success {r["success"]*100:.1f}%, p50 {lat["50th"]/1e6:.1f} ms, p99 {lat["99th"]/1e6:.1f} ms, roster CPU {(c1-c0)/hz/n*1e6:.0f} µs/req{pg}, codes {r["status_codes"]}')
PY
	kill $PID; wait $PID 2>/dev/null || true; dropdata; [ -n "${KEEP:-}" ] || rm -rf "$w" ;;
ab)
	backend=$1 rounds=${2:-3} dur=${3:-10}
	for i in $(seq $rounds); do for op in create_user update_user; do for which in base head; do
		"$0" run $backend $which $op $dur 16; done; done; done ;;
pair)
	backend=$1 op=$2 rounds=${3:-3} dur=${4:-10}
	# Which starts first alternates: in runs of one build against itself the second started
	# used 2-3% less CPU per request.
	for i in $(seq $rounds); do
		first=base second=head; [ $((i % 2)) = 0 ] && first=head second=base
		out=$(mktemp); PORT=$((PORT + 100)) "$0" run $backend $first $op $dur 16 > "$out" 2>&1 &
		sleep 0.3; "$0" run $backend $second $op $dur 16 2>&1 | tail -1; wait; tail -1 "$out"; rm -f "$out"
	done ;;
toggle)
	# One process, the checkout built with -tags roster_eventtoggle: under one steady load,
	# recording is switched off and on (SIGUSR1) every SECONDS, WINDOWS windows, starting on
	# (bench/toggle.sh). Each window's roster CPU per request (and the whole PostgreSQL
	# server's) and req/s; a window with events is compared with the windows without on either
	# side of it.
	backend=$1 op=$2 windows=${3:-20} win=${4:-2} c=${5:-16}
	w=$(mktemp -d "$AB_DIR/run.XXXX"); LOG=$w/roster.log; copydata $backend "$w"
	start "$AB_DIR/bin/toggle/roster" "${flags[@]}"
	CREATES=$((20000 + (windows * win + 4) * 6000)) targets; warm
	toggle_run "$t" "$tok" $c $windows $win "$w" "$db" "$backend $op"
	kill $PID; wait $PID 2>/dev/null || true; dropdata; [ -n "${KEEP:-}" ] || rm -rf "$w" ;;
delivery)
	n=${1:-40000}; w=$(mktemp -d "$AB_DIR/run.XXXX"); LOG=$w/roster.log; mkdir -m 700 "$w/data"
	taskset -c 0 "$AB_DIR/bin/receiver" --listen 127.0.0.1:$((PORT+1)) --report "$w/received" &
	RPID=$!
	PIN=1 start "$AB_DIR/bin/head/roster" --data-dir "$w/data" --allow-private-networks --webhook-poll-interval 50ms
	tok=$(token); api() { curl -fsS -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' "$@"; }
	# The endpoint is created disabled, the backlog written, then the endpoint enabled: what is
	# timed is the delivery of a backlog of n events, not the rate at which writes make them.
	k=${ENDPOINTS:-1}; eps=()
	for e in $(seq $k); do eps+=("$(api http://127.0.0.1:$PORT/api/v1/webhook_endpoints -d "{\"url\":\"http://127.0.0.1:$((PORT+1))/hook/$e\",\"disabled\":true}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["endpoint"]["id"])')"); done
	org=$(api http://127.0.0.1:$PORT/api/v1/organizations -d '{"display_name":"Delivery"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["organization"]["id"])')
	# n/2 users, each with a membership: user.created and user.organization_membership_created.
	python3 - "$((n / 2))" "$org" > "$w/users.ndjson" <<'PY'
import sys
for i in range(int(sys.argv[1])): print('{"email":"d%d@delivery.example","memberships":[{"organization_id":"%s"}]}' % (i, sys.argv[2]))
PY
	curl -fsS -H "Authorization: Bearer $tok" -H 'Content-Type: application/x-ndjson' --data-binary @"$w/users.ndjson" http://127.0.0.1:$PORT/api/v1/users:import | tail -1
	c0=$(cpu $PID); t0=$(date +%s.%N)
	for e in "${eps[@]}"; do api -X POST http://127.0.0.1:$PORT/api/v1/webhook_endpoints/$e:enable -d '{}' >/dev/null; done
	if [ -n "${PERF:-}" ]; then taskset -c 0 perf record -F 999 -g -p $PID -o "$PERF" -- sleep 5 >/dev/null 2>&1 & fi
	want=$((n * k)); got=0; for i in $(seq 2400); do got=$(cat "$w/received" 2>/dev/null); got=${got:-0}; [ "$got" -ge "$want" ] && break; sleep 0.05; done
	t1=$(date +%s.%N); c1=$(cpu $PID)
	python3 -c "n=$want; got=$got; t=$t1-$t0; print(f'delivery sqlite, $k endpoint(s), each in event order: {got} of {n} deliveries in {t:.2f} s: {got/t:.0f} deliveries/s, roster CPU {($c1-$c0)/$(getconf CLK_TCK)/max(got,1)*1e6:.0f} µs/delivery')"
	kill $PID $RPID; wait $PID $RPID 2>/dev/null || true; rm -rf "$w" ;;
esac
