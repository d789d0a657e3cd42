#!/usr/bin/env bash
# SCIM A/B harness: compare two roster builds on one seeded SCIM directory, row by row, by
# server CPU per request (the steady figure on a shared machine) beside req/s and p99.
#   bench/ab-scim.sh seed BACKEND NAME      build roster from the checkout, seed a SCIM directory (100k users via SCIM
#                                          POST, a 20k-member group) and keep it as $AB_DIR/NAME-BACKEND (sqlite dir /
#                                          pg template database ab_NAME_tpl)
#   bench/ab-scim.sh run BACKEND NAME BIN OP [SECONDS] [CLIENTS]
#                                          copy the seeded data, start BIN (a roster binary) pinned to CPU 1, vegeta on CPU 0,
#                                          OP one of scim_list scim_create scim_patch scim_put scim_member; prints
#                                          req/s, success, p50/p99, and roster CPU per request (µs, /proc utime+stime)
# With WINDOWS=n and BIN built with -tags roster_eventtoggle (bench/ab-events.sh build makes
# $AB_DIR/bin/toggle/roster), run measures n windows of SECONDS each, events switched off and
# on between them (bench/toggle.sh), and SCIM_N sets how many creates it prepares.
# Env: KEEP=file keeps vegeta's results. PERF=file records a perf profile of roster during the measurement. USERS (default 100000), GROUP (20000), PORT (default 18000+random).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=$ROOT/bench/.tools/bin   # vegeta: bash bench/run.sh installs it
AB_DIR=${AB_DIR:-/tmp/roster-ab}
PGADMIN=${PGADMIN:-postgres://postgres@127.0.0.1:5432}
USERS=${USERS:-100000}; GROUP=${GROUP:-20000}
PORT=${PORT:-$((18000 + RANDOM % 2000))}
CID=skc_ab_admin; CSEC=ab-secret-0123456789abcdef
source "$ROOT/bench/toggle.sh"
cmd=$1 backend=$2 name=$3; shift 3
base=$AB_DIR/$name-$backend
source "$ROOT/bench/abkit.sh"
case $cmd in
seed)
	cd "$ROOT"; mkdir -p "$AB_DIR"; rm -rf "$base"; mkdir -p "$base/bin" "$base/seed"
	go build -o "$base/bin/roster" ./cmd/roster; go build -o "$base/bin/seed" ./bench/cmd/seed; go build -o "$base/bin/benchkit" ./bench/cmd/benchkit
	LOG=$base/seed.roster.log
	if [ $backend = sqlite ]; then mkdir -m 700 "$base/data"; flags=(--data-dir "$base/data")
	else psql "$(pgurl test)" -qc "DROP DATABASE IF EXISTS ab_${name}_tpl" -c "CREATE DATABASE ab_${name}_tpl" ; mkdir -m 700 "$base/keys"; flags=(--database-url "$(pgurl ab_${name}_tpl)" --data-dir "$base/keys"); fi
	PIN=0,1 start "$base/bin/roster" "${flags[@]}"
	BENCH_TOKEN=$(token) "$base/bin/seed" --url http://127.0.0.1:$PORT --dir "$base/seed" --scim-users $USERS --scim-group $GROUP --workers 32 --budget 600s --timeout 30m
	[ $backend = postgres ] && psql "$(pgurl ab_${name}_tpl)" -qc ANALYZE
	kill $PID; wait $PID || true
	echo "seeded $base"; cat "$base/seed/scim.env" ;;
run)
	bin=$1 op=$2 dur=${3:-10} c=${4:-16}
	[ -d "$base/seed" ] || { echo "no seed at $base"; exit 1; }
	w=$(mktemp -d "$AB_DIR/run.XXXX"); LOG=$w/roster.log
	if [ $backend = sqlite ]; then cp -a "$base/data" "$w/data"; flags=(--data-dir "$w/data")
	else db=ab_run_$$_$RANDOM; psql "$(pgurl test)" -qc "CREATE DATABASE $db TEMPLATE ab_${name}_tpl"; cp -a "$base/keys" "$w/keys"; flags=(--database-url "$(pgurl $db)" --data-dir "$w/keys"); fi
	start "$bin" "${flags[@]}"
	"$base/bin/benchkit" scim --seed "$base/seed" --out "$w/in" --prefix "ab$RANDOM" --n ${SCIM_N:-60000} --keys 60000 >/dev/null
	tok=$(sed -n 's/^token=//p' "$base/seed/scim.env")
	seedport=$(sed -n 's/^endpoint=http:..127.0.0.1:\([0-9]*\).*/\1/p' "$base/seed/scim.env")
	sed -i "s#127.0.0.1:$seedport/#127.0.0.1:$PORT/#g" "$w"/in/*.targets
	# warm up 2 s, then measure; creates warm up on users of their own (a repeated create is a 409)
	t=$w/in/$op.rest.targets
	if [ $op = scim_create ]; then head -n 20000 "$t" > "$w/warm.targets"; tail -n +20001 "$t" > "$w/run.targets"; t=$w/run.targets; else cp "$t" "$w/warm.targets"; fi
	taskset -c 0 timeout 30 $TOOLS/vegeta attack -format=json -targets="$w/warm.targets" -rate=0 -workers=$c -max-workers=$c -duration=2s -timeout=10s -header "Authorization: Bearer $tok" >/dev/null
	if [ -n "${WINDOWS:-}" ]; then # BIN built with -tags roster_eventtoggle: the toggle measurement (bench/toggle.sh)
		toggle_run "$t" "$tok" $c $WINDOWS $dur "$w" "${db:-}" "$backend $op"
		kill $PID; wait $PID 2>/dev/null || true
		[ $backend = postgres ] && psql "$(pgurl test)" -qc "DROP DATABASE $db"
		rm -rf "$w"; exit 0
	fi
	c0=$(cpu $PID); t0=$(date +%s.%N)
	if [ -n "${PERF:-}" ]; then taskset -c 0 perf record -F 999 -g -p $PID -o "$PERF" -- sleep $dur >/dev/null 2>&1 & fi
	taskset -c 0 timeout $((dur+60)) $TOOLS/vegeta attack -format=json -targets="$t" -rate=0 -workers=$c -max-workers=$c -duration=${dur}s -timeout=10s -header "Authorization: Bearer $tok" > "$w/res.bin"
	c1=$(cpu $PID); t1=$(date +%s.%N)
	$TOOLS/vegeta report -type=json < "$w/res.bin" > "$w/rep.json"
	[ -z "${KEEP:-}" ] || cp "$w/res.bin" "$KEEP"
	python3 - "$w/rep.json" "$c0" "$c1" "$t0" "$t1" "$(getconf CLK_TCK)" "$op" "$backend" <<'PY'
import json,sys
r=json.load(open(sys.argv[1])); c0,c1=float(sys.argv[2]),float(sys.argv[3]); hz=float(sys.argv[6])
n=r["requests"]; lat=r["latencies"]
print(f'{sys.argv[8]} {sys.argv[7]}: {r["throughput"]:.0f} ok/s of {n} req, success {r["success"]*100:.1f}%, p50 {lat["50th"]/1e6:.1f} ms, p99 {lat["99th"]/1e6:.1f} ms, roster CPU {(c1-c0)/hz/n*1e6:.0f} µs/req, codes {r["status_codes"]}, errors {r["errors"][:2]}')
PY
	kill $PID; wait $PID 2>/dev/null || true
	[ $backend = postgres ] && psql "$(pgurl test)" -qc "DROP DATABASE $db"
	[ -z "${KEEPLOG:-}" ] || cp "$LOG" "$KEEPLOG"
	rm -rf "$w" ;;
esac
