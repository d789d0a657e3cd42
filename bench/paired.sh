#!/usr/bin/env bash
# Paired runs of two builds (issue 12): the same operation on fresh copies of one seeded data
# set, A and B one after the other, ROUNDS times, the server on core 1 and the load tool on
# core 0; each run reports req/s, p50/p99, the server's CPU per request, its RSS and (with
# METRICS=1) the user cache's size. Only paired runs compare builds on a shared machine.
#   bench/paired.sh BIN_A BIN_B OP [ROUNDS] [SECONDS] [CLIENTS] [rest|grpc]
#   bench/paired.sh one BIN OP [SECONDS] [CLIENTS] [rest|grpc]     a single run
# OP: get_user, get_user_ext, lookup_email (uniform over every seeded user), create_user,
# update_user, get_org, list_org_users.
# Seed first with bench/ab-events.sh (AB_DIR, USERS, ORGS; `build` then `seed sqlite|postgres`).
# Env: AB_DIR (/tmp/roster-ab-events), BACKEND (sqlite|postgres), WARM (seconds of warm-up, 2),
# PERF=file (perf record of the server while measured), METRICS=1, EXTRA (more serve flags).
#
# The warm-up never sends what is then measured: reads warm up with keys of another draw (the
# same keys would find the warm-up's users cached and flatter a larger cache: 18.4k/s against
# ~16.5k in the seventh session's first measurement), creates with users of their own (a repeat
# is a 409); gRPC creates are not warmed up (grpcload numbers its messages from 0 each run).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=$ROOT/bench/.tools/bin
AB_DIR=${AB_DIR:-/tmp/roster-ab-events}
PGADMIN=${PGADMIN:-postgres://postgres@127.0.0.1:5432}
CID=skc_ab_admin; CSEC=ab-secret-0123456789abcdef
source "$ROOT/bench/abkit.sh"

one() { # BIN OP [SECONDS] [CLIENTS] [PROTO]
	local bin=$1 op=$2 dur=${3:-6} c=${4:-16} proto=${5:-rest}
	local backend=${BACKEND:-sqlite} w tok in call
	local seed=$AB_DIR/seed-$backend/seed rt gj wrt= wgj=
	[ -x "$AB_DIR/bin/grpcload" ] || (cd "$ROOT" && go build -o "$AB_DIR/bin/" ./bench/cmd/grpcload)
	PORT=$((21000 + RANDOM % 3000))
	w=$(mktemp -d "$AB_DIR/run.XXXX"); LOG=$w/roster.log; PID= db=
	# The server and the data go whatever ends the run (a closed pipe included).
	trap "[ -z \"\$PID\" ] || { kill \$PID 2>/dev/null; wait \$PID 2>/dev/null; }; dropdata; rm -rf '$w'" EXIT
	copydata "$backend" "$w"
	# shellcheck disable=SC2086 # EXTRA is a list of flags
	start "$bin" "${flags[@]}" ${METRICS:+--metrics-listen api} ${EXTRA:-}
	tok=$(token)
	in=$w/in; mkdir -p "$in"
	case $op in
	get_user | get_user_ext | lookup_email)
		"$AB_DIR/bin/benchkit" reads --seed "$seed" --op "$op" --dist uniform --n 200000 --draw $((RANDOM + 1)) --base "http://127.0.0.1:$PORT" --out "$in/run" >/dev/null
		"$AB_DIR/bin/benchkit" reads --seed "$seed" --op "$op" --dist uniform --n 200000 --draw $((RANDOM + 40000)) --base "http://127.0.0.1:$PORT" --out "$in/warm" >/dev/null
		rt=$in/run.rest.targets gj=$in/run.grpc.json wrt=$in/warm.rest.targets wgj=$in/warm.grpc.json
		case $op in lookup_email) call=scalekit.v1.users.UserService/SearchUsers ;; *) call=scalekit.v1.users.UserService/GetUser ;; esac ;;
	create_user)
		"$AB_DIR/bin/benchkit" creates --seed "$seed" --prefix "p$RANDOM" --n 150000 --base "http://127.0.0.1:$PORT" --out "$in/c" >/dev/null
		head -n 30000 "$in/c.rest.targets" >"$in/warm.rest.targets"; tail -n +30001 "$in/c.rest.targets" >"$in/run.rest.targets"
		rt=$in/run.rest.targets wrt=$in/warm.rest.targets gj=$in/c.grpc.json
		call=scalekit.v1.users.UserService/CreateUserAndMembership ;;
	*)
		"$AB_DIR/bin/benchkit" inputs --seed "$seed" --out "$in" --base "http://127.0.0.1:$PORT" >/dev/null
		rt=$in/$op.rest.targets gj=$in/$op.grpc.json
		call=$(awk -F'\t' -v o="$op" '$1==o {print $3}' "$in/ops.tsv") ;;
	esac
	load() { # SECONDS REST_TARGETS GRPC_DATA
		if [ "$proto" = rest ]; then
			taskset -c 0 "$TOOLS/vegeta" attack -format=json -targets="$2" -rate=0 -workers="$c" -max-workers="$c" -duration="${1}s" -timeout=10s \
				-header "Authorization: Bearer $tok" | "$TOOLS/vegeta" report -type=json >"$w/rep.json"
		else
			taskset -c 0 "$AB_DIR/bin/grpcload" -c "$c" -z "${1}s" --call "$call" --data-file "$3" \
				--metadata "{\"authorization\":\"Bearer $tok\"}" -o "$w/rep.json" "127.0.0.1:$PORT" >/dev/null
		fi
	}
	if [ "$op" != create_user ] || [ "$proto" = rest ]; then load "${WARM:-2}" "${wrt:-$rt}" "${wgj:-$gj}"; fi
	local c0 c1
	c0=$(cpu $PID)
	if [ -n "${PERF:-}" ]; then taskset -c 0 perf record -F 1999 -g -p $PID -o "$PERF" -- sleep "$dur" >/dev/null 2>&1 & fi
	load "$dur" "$rt" "$gj"
	c1=$(cpu $PID)
	python3 - "$w/rep.json" "$c0" "$c1" "$(getconf CLK_TCK)" "$backend $op $proto $bin" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); c0, c1, hz = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
if "throughput" in r:  # vegeta
    n, rate, ok, codes = r["requests"], r["throughput"], r["success"], r["status_codes"]
    p50, p99 = r["latencies"]["50th"] / 1e6, r["latencies"]["99th"] / 1e6
else:  # grpcload (ghz's fields)
    n, rate, ok, codes = r["count"], r["rps"], None, r.get("statusCodeDistribution")
    d = {x["percentage"]: x["latency"] for x in r["latencyDistribution"]}
    p50, p99 = d[50] / 1e6, d[99] / 1e6
print(f'{sys.argv[5]}: {rate:.0f}/s p50 {p50:.2f} p99 {p99:.2f} ms, server CPU {(c1 - c0) / hz / n * 1e6:.0f} µs/req, codes {codes}')
PY
	echo "  $(grep -E 'VmHWM' /proc/$PID/status | tr -s '\t ' ' ')${METRICS:+ $(curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^roster_user_cache_(users|bytes)' | tr '\n' ' ')}"
}

if [ "${1:-}" = one ]; then
	shift
	one "$@"
	exit
fi
a=${1:?usage: see the head of this file} b=${2:?} op=${3:?} rounds=${4:-3} dur=${5:-6} c=${6:-16} proto=${7:-rest}
for _ in $(seq "$rounds"); do
	for bin in "$a" "$b"; do "$0" one "$bin" "$op" "$dur" "$c" "$proto"; done
done
