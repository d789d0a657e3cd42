#!/usr/bin/env bash
# Roster load benchmark: one command (bench/README.md).
#
#   bash bench/run.sh [--quick] [--duration SECONDS] [--write-duration SECONDS] [--backends "sqlite postgres"] [--no-scale] [--profile]
#
# Installs vegeta and ghz into bench/.tools if missing, builds roster and the bench programs,
# and for each backend starts roster on 127.0.0.1, seeds it (100k users in 10k organizations;
# --quick: 2k in 200), and measures every operation over REST (vegeta) and gRPC
# (bench/cmd/grpcload) at 1 and 16 clients, with ghz beside three gRPC rows, next to the
# ceiling (bench/cmd/ceiling, a fixed answer) under the same tools. On
# SQLite it also measures lookup by email against get by id at 10k and 1M users, and runs a
# sustained write load (--write-duration, 300 s; --quick: 20 s) against the WAL target. On
# PostgreSQL it measures the bare pgx point-read rate (bench/cmd/pgxread). On both it measures
# the SCIM rows (issue 13) against a directory's SCIM endpoint seeded through SCIM itself
# (bench/cmd/seed --scim-users, benchkit scim). --profile adds
# a pass on SQLite that records a CPU profile of roster (perf) under each operation's load, into
# bench/results/<date>-profiles/. Writes bench/results/<date>.md and prints it. Loopback only; every step is bounded in time; all that
# it starts is stopped on exit.
set -euo pipefail
# The whole script is one brace group, so bash reads all of it before running any: editing the
# file during a run cannot change what that run does.
{

cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH=$ROOT/bench
TOOLS=$BENCH/.tools/bin
VEGETA_VERSION=v12.13.0
GHZ_VERSION=v0.121.0
COMMAND="bash bench/run.sh $*"

QUICK=0
DURATION=
WRITE_DURATION=
BACKENDS="sqlite postgres"
SCALE=1
PROFILE=0
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--duration) DURATION=$2; shift ;;
	--write-duration) WRITE_DURATION=$2; shift ;;
	--backends) BACKENDS=$2; shift ;;
	--no-scale) SCALE=0 ;;
	--profile) PROFILE=1 ;;
	-h | --help) sed -n '2,17p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

if [ "$QUICK" = 1 ]; then
	USERS=2000 ORGS=200 SCALE_SMALL=500 SCALE_BIG=6000 CREATE_TARGETS=30000 READ_KEYS=30000
	: "${BENCH_SEED_BUDGET:=60}" "${BENCH_SCALE_SEED_BUDGET:=30}" "${BENCH_SCIM_SEED_BUDGET:=40}"
	: "${DURATION:=1}" "${WRITE_DURATION:=20}"
	READ_WARM=${BENCH_READ_WARM:-2}
else
	USERS=100000 ORGS=10000 SCALE_SMALL=10000 SCALE_BIG=1000000 CREATE_TARGETS=150000 READ_KEYS=150000
	: "${BENCH_SCIM_SEED_BUDGET:=240}"
	: "${DURATION:=5}" "${WRITE_DURATION:=300}"
	READ_WARM=${BENCH_READ_WARM:-15} # seconds of unmeasured reads before a data set's read rows (read_warmup)
fi
# SCIM targets per row: enough unique creates for 5,000/s over a row (vegeta would wrap around
# past them and the creates would conflict); the other SCIM rows' files hold as many (their
# requests stay valid when vegeta wraps around, and a PUT's body is about 1 KB).
SCIM_TARGETS=$((DURATION * 5000 > 10000 ? DURATION * 5000 : 10000))
# The sustained write row (SQLite): creates and profile updates, one after the other, over REST
# at 16 clients for WRITE_DURATION seconds, against issue 12's WAL target (under 64 MB).
WRITE_BACKENDS=sqlite
SCALE_BACKENDS=sqlite      # the scaling check (10k → 1M users) runs on SQLite, where the target is
SEED_BUDGET=${BENCH_SEED_BUDGET:-300}             # seconds a backend may spend seeding users up to $USERS
SCALE_SEED_BUDGET=${BENCH_SCALE_SEED_BUDGET:-240} # seconds the 1M step may spend seeding
PROFILE_BACKENDS=sqlite
# The SCIM rows (issue 13): a directory of its own organization holding as many users as the
# main data set ($USERS), every one pushed through SCIM POST within SCIM_SEED_BUDGET seconds,
# and a group of SCIM_GROUP members built by PATCH adds of 500 members per request.
SCIM_USERS=$USERS
SCIM_GROUP=20000
SCIM_SEED_BUDGET=$BENCH_SCIM_SEED_BUDGET
SEED_WORKERS=32
PORT=${BENCH_PORT:-18480}
CEIL_PORT=${BENCH_CEILING_PORT:-18481}
METRICS_PORT=${BENCH_METRICS_PORT:-18482} # roster's /metrics (--metrics-listen), read for cache gauges
LOG_LEVEL=${BENCH_LOG_LEVEL:-warn}
CLIENT_ID=skc_bench_admin
CLIENT_SECRET=bench-secret-$RANDOM$RANDOM-0123456789
PGURL_ADMIN=${BENCH_POSTGRES_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
STAMP=$(date -u +%Y-%m-%d-%H%M)
[ "$QUICK" = 1 ] && STAMP=$STAMP-quick
RESULT=$BENCH/results/$STAMP.md
PROFILE_DIR=$BENCH/results/$STAMP-profiles
PROFILE_PID=
ROSTER_PID=
SERVER_PID= # the server measure() reads the CPU time of: the ceiling or roster
DB_FILE=    # SQLite: roster's database file (its WAL is $DB_FILE-wal); empty on PostgreSQL
READ_KEYS_FILE= # run_ops sets it for a read row: the draws' distinct-user counts (benchkit reads)
ROW_DETAIL=     # a note on the row's data set shown beside its target (the SCIM rows)
ROW_PAGE=       # list rows: the users the first page of a big organization holds (the flat table)
DRAW=0      # a new draw seed for every read row
PG_BENCH_URL=

WORK=$(mktemp -d /tmp/roster-bench.XXXXXX)
MANIFEST=$WORK/manifest.tsv
META=$WORK/meta.md
: >"$MANIFEST"
PIDS=()
PGDB=
TOKEN=none # the ceiling ignores it; run_backend sets the real one
USERS_OK=0
USERS_WHY=

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
	if [ -n "$PGDB" ]; then
		psql "$PGURL_ADMIN" -q -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null 2>&1 || log "could not drop database $PGDB"
	fi
	if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- tools ---------------------------------------------------------------------------------
mkdir -p "$TOOLS" "$BENCH/results"
if [ ! -x "$TOOLS/vegeta" ]; then
	log "installing vegeta $VEGETA_VERSION"
	(cd "$WORK" && GOFLAGS= GOBIN=$TOOLS timeout 600 go install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION")
fi
if [ ! -x "$TOOLS/ghz" ]; then
	log "installing ghz $GHZ_VERSION (about 2 minutes the first time)"
	(cd "$WORK" && GOFLAGS= GOBIN=$TOOLS timeout 900 go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION")
fi
if [ "$PROFILE" = 1 ] && ! command -v perf >/dev/null; then
	log "installing perf (linux-perf) for --profile"
	timeout 600 apt-get install -y -qq linux-perf >/dev/null
fi
for c in curl timeout; do
	command -v $c >/dev/null || { log "$c is missing"; exit 1; }
done

# Pin the server (and the ceiling) to one core and the load generator to the other.
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	SRV_PIN=(taskset -c 1)
	GEN_PIN=(taskset -c 0)
	PINNING="server and ceiling on CPU 1, load generator and seeder on CPU 0 (taskset); PostgreSQL's own processes are not pinned"
else
	SRV_PIN=()
	GEN_PIN=()
	PINNING="none (taskset missing or fewer than 2 CPUs)"
fi

# ---- build ---------------------------------------------------------------------------------
log "building roster and the bench programs"
mkdir -p "$WORK/bin"
# The commit is read now: others may commit while the run goes on.
ROSTER_REV="$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- . ':!bench' 2>/dev/null || echo ' with uncommitted changes outside bench/')"
timeout 600 go build -o "$WORK/bin/roster" ./cmd/roster
timeout 600 go build -o "$WORK/bin/" ./bench/cmd/seed ./bench/cmd/ceiling ./bench/cmd/benchkit ./bench/cmd/pgxread ./bench/cmd/grpcload
PROTOSET=$WORK/scalekit.protoset
"$WORK/bin/benchkit" protoset "$PROTOSET"

wait_ready() { # URL SECONDS PID
	local i
	for i in $(seq 1 $(($2 * 10))); do
		curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# cpu_seconds PID: the CPU time (user + system, all threads) the process has used so far.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# measure SET USERS OP PROTO BACKEND CLIENTS PORT TARGETS_OR_DATA [GRPC_CALL]
# Besides the tool's report it writes <report>.cpu: the server's (SERVER_PID) CPU seconds and
# the wall seconds over the run, so the report can tell server-bound rows from tool-bound ones.
measure() {
	local set=$1 users=$2 op=$3 proto=$4 backend=$5 c=$6 port=$7 input=$8 call=${9:-}
	local out=$WORK/out/$set-$users-$backend-$op-$proto-c$c.json tool perfpid= cpu0 wall0
	mkdir -p "$WORK/out"
	local watchpid= roster=0
	if [ -n "$ROSTER_PID" ] && [ "$SERVER_PID" = "$ROSTER_PID" ]; then
		roster=1
		# Reset the kernel's peak RSS (VmHWM) so that it is this row's peak: writing 5 to
		# clear_refs does that (Linux 4.0+); if refused, the row reports the peak since start.
		if echo 5 >"/proc/$ROSTER_PID/clear_refs" 2>/dev/null; then echo 1 >"$out.hwmreset"; else echo 0 >"$out.hwmreset"; fi
		"${GEN_PIN[@]}" "$WORK/bin/benchkit" watch --pid "$ROSTER_PID" ${DB_FILE:+--wal "$DB_FILE-wal"} --out "$out.watch" &
		watchpid=$!
		PIDS+=("$watchpid")
	fi
	if [ -n "$READ_KEYS_FILE" ]; then cp "$READ_KEYS_FILE" "$out.keys"; fi
	if [ -n "$ROW_DETAIL" ]; then echo "$ROW_DETAIL" >"$out.detail"; fi
	if [ -n "$ROW_PAGE" ]; then echo "$ROW_PAGE" >"$out.page"; fi
	cpu0=$(cpu_seconds "$SERVER_PID")
	wall0=$(date +%s.%N)
	if [ -n "$PROFILE_PID" ]; then
		"${GEN_PIN[@]}" perf record -F 499 -g -p "$PROFILE_PID" -o "$WORK/perf.data" -- sleep "$DURATION" >/dev/null 2>&1 &
		perfpid=$!
		PIDS+=("$perfpid")
	fi
	if [ "$proto" = rest ]; then
		tool=vegeta
		"${GEN_PIN[@]}" timeout $((DURATION + 60)) "$TOOLS/vegeta" attack -format=json -targets="$input" \
			-rate=0 -workers="$c" -max-workers="$c" -duration="${DURATION}s" -timeout=10s \
			-header "Authorization: Bearer $TOKEN" 2>>"$WORK/vegeta.log" |
			"${GEN_PIN[@]}" timeout $((DURATION + 120)) "$TOOLS/vegeta" report -type=json >"$out" 2>>"$WORK/vegeta.log" ||
			log "vegeta failed for $op (see $WORK/vegeta.log)"
	elif [ "$proto" = grpc ]; then
		tool=grpcload
		"${GEN_PIN[@]}" timeout $((DURATION + 60)) "$WORK/bin/grpcload" --call "$call" \
			--data-file "$input" --metadata "{\"authorization\":\"Bearer $TOKEN\"}" \
			-c "$c" -z "${DURATION}s" --timeout 10s -o "$out" "127.0.0.1:$port" 2>>"$WORK/grpcload.log" ||
			log "grpcload failed for $op (see $WORK/grpcload.log)"
	else # ghz: the comparison rows (see bench/README.md, "Which tool measured what")
		tool=ghz
		"${GEN_PIN[@]}" timeout $((DURATION + 60)) "$TOOLS/ghz" --insecure --protoset "$PROTOSET" --call "$call" \
			--data-file "$input" --metadata "{\"authorization\":\"Bearer $TOKEN\"}" \
			-c "$c" --connections 1 -z "${DURATION}s" --timeout 10s -O json -o "$out" "127.0.0.1:$port" 2>>"$WORK/ghz.log" ||
			log "ghz failed for $op (see $WORK/ghz.log)"
	fi
	echo "$(awk -v a="$cpu0" -v b="$(cpu_seconds "$SERVER_PID")" 'BEGIN {print b - a}') $(awk -v a="$wall0" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')" >"$out.cpu"
	if [ "$roster" = 1 ]; then
		stop_pid "$watchpid"
		mem_disk >"$out.mem"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$set" "$users" "$op" "$proto" "$backend" "$c" "$tool" "$out" >>"$MANIFEST"
	if [ -n "$perfpid" ]; then
		wait "$perfpid" || true
		mkdir -p "$PROFILE_DIR"
		{
			echo "# roster CPU profile (perf, cumulative %, frames >= 2%) under $op over $proto, $backend, $c clients, $users users: $(summary "$tool" "$out")"
			perf report -i "$WORK/perf.data" --stdio --children --sort symbol -g none --percent-limit 2 2>/dev/null |
				grep -v '^#' | grep -v '^$' | sed -E 's/ +- +- *$//; s/\[go\.shape.*\]\.func/[…].func/; s/^ +//' | cut -c1-180 | head -90 || true
			echo
			echo "# self time (frames >= 1%)"
			perf report -i "$WORK/perf.data" --stdio --no-children --sort symbol -g none --percent-limit 1 2>/dev/null |
				grep -v '^#' | grep -v '^$' | sed -E 's/ +- +- *$//; s/\[go\.shape.*\]\.func/[…].func/; s/^ +//' | cut -c1-180 | head -30 || true
		} >"$PROFILE_DIR/$backend-$op-$proto.txt"
	fi
	log "$(printf '%-5s %-8s %-15s %-4s c=%-2s' "$set" "$backend" "$op" "$proto" "$c") $(summary "$tool" "$out")"
}

# mem_disk: one line after a roster row, read by benchkit report: VmHWM kB, VmRSS kB (from
# /proc/PID/status), database bytes, WAL bytes (-1: not applicable), and the user cache's bytes
# and entries from /metrics if roster exports such gauges (-1: it does not).
mem_disk() {
	local hwm rss db=-1 wal=-1 cb=-1 ce=-1 m
	hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$ROSTER_PID/status" 2>/dev/null || echo -1)
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$ROSTER_PID/status" 2>/dev/null || echo -1)
	if [ -n "$DB_FILE" ]; then
		db=$(stat -c %s "$DB_FILE" 2>/dev/null || echo -1)
		wal=$(stat -c %s "$DB_FILE-wal" 2>/dev/null || echo 0)
	elif [ -n "$PG_BENCH_URL" ]; then
		db=$(psql "$PG_BENCH_URL" -Atc 'SELECT pg_database_size(current_database())' 2>/dev/null || echo -1)
	fi
	# A gauge whose name holds "user_cache" (or "users_cache") and ends in _bytes, and one
	# ending in _entries (or _users, _size): bytes per cached user is their quotient.
	if m=$(curl -fsS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" 2>/dev/null); then
		cb=$(printf '%s\n' "$m" | awk '$1 ~ /^[a-z_]*users?_cache[a-z_]*_bytes(\{.*\})?$/ && $1 !~ /max|limit|capacity/ {s += $2; f = 1} END {if (f) printf "%.0f", s; else print -1}')
		ce=$(printf '%s\n' "$m" | awk '$1 ~ /^[a-z_]*users?_cache[a-z_]*_(entries|users|size)(\{.*\})?$/ && $1 !~ /max|limit|capacity/ {s += $2; f = 1} END {if (f) printf "%.0f", s; else print -1}')
	fi
	echo "${hwm:--1} ${rss:--1} ${db:--1} ${wal:--1} $cb $ce"
}

summary() { # a one-line progress summary of a result file
	[ -s "$2" ] || { echo "no result"; return; }
	if [ "$1" = vegeta ]; then
		sed -n 's/.*"throughput":\([0-9.]*\).*"success":\([0-9.]*\).*/\1 req\/s, success \2/p' "$2" | head -1
	else
		sed -n 's/.*"rps":\([0-9.]*\).*/\1 req\/s/p' "$2" | head -1
	fi
}

skip() { # SET USERS OP PROTO BACKEND CLIENTS REASON
	printf '%s\t%s\t%s\t%s\t%s\t%s\tskip\t%s\n' "$@" >>"$MANIFEST"
}

# ---- ceiling ---------------------------------------------------------------------------------
# Measured before and after each backend's operations; ratios use the mean of the two.
run_ceiling() { # BACKEND OP(ceiling|ceiling_after)
	local pid c
	"${SRV_PIN[@]}" "$WORK/bin/ceiling" --listen "127.0.0.1:$CEIL_PORT" >"$WORK/ceiling.log" 2>&1 &
	pid=$!
	SERVER_PID=$pid
	PIDS+=("$pid")
	wait_ready "http://127.0.0.1:$CEIL_PORT/readyz" 20 "$pid" || { log "ceiling did not start"; cat "$WORK/ceiling.log" >&2; exit 1; }
	echo '{"method":"GET","url":"http://127.0.0.1:'"$CEIL_PORT"'/api/v1/users/usr_1"}' >"$WORK/ceiling.targets"
	echo '[{"id":"usr_1"}]' >"$WORK/ceiling.grpc.json"
	for c in 1 16; do
		measure main 0 "$2" rest "$1" "$c" "$CEIL_PORT" "$WORK/ceiling.targets"
		measure main 0 "$2" grpc "$1" "$c" "$CEIL_PORT" "$WORK/ceiling.grpc.json" scalekit.v1.users.UserService/GetUser
	done
	measure main 0 "$2" ghz "$1" 16 "$CEIL_PORT" "$WORK/ceiling.grpc.json" scalekit.v1.users.UserService/GetUser
	if [ "$2" = ceiling ]; then
		# How many fixed pages of 100 users the tools take in (the list target's yardstick).
		echo '{"method":"GET","url":"http://127.0.0.1:'"$CEIL_PORT"'/api/v1/organizations/org_1/users?page_size=100"}' >"$WORK/ceiling.list.targets"
		echo '[{"organization_id":"org_1","page_size":100}]' >"$WORK/ceiling.list.grpc.json"
		measure main 0 ceiling_list rest "$1" 16 "$CEIL_PORT" "$WORK/ceiling.list.targets"
		measure main 0 ceiling_list grpc "$1" 16 "$CEIL_PORT" "$WORK/ceiling.list.grpc.json" scalekit.v1.users.UserService/ListOrganizationUsers
		measure main 0 ceiling_list ghz "$1" 16 "$CEIL_PORT" "$WORK/ceiling.list.grpc.json" scalekit.v1.users.UserService/ListOrganizationUsers
	fi
	stop_pid "$pid"
	# Rows after the second ceiling (the scaling step, the profiles) measure roster again.
	SERVER_PID=$ROSTER_PID
}

# Seeding is not measured: roster may use both cores meanwhile (taskset -a: every thread), and
# goes back to its own core before the next measurement.
seed() { # SEEDDIR FROM TO [extra flags]
	local dir=$1 from=$2 to=$3 ok=1
	shift 3
	# (Go notices an affinity change within a second and resizes GOMAXPROCS.)
	[ ${#SRV_PIN[@]} = 0 ] || { taskset -a -p -c 0,1 "$ROSTER_PID" >/dev/null && sleep 1.5; }
	# The import's own peak RSS (issue 12: memory flat in the file's size): VmHWM reset first.
	SEED_HWM_RESET=0
	if echo 5 >"/proc/$ROSTER_PID/clear_refs" 2>/dev/null; then SEED_HWM_RESET=1; fi
	BENCH_TOKEN=$TOKEN "${GEN_PIN[@]}" "$WORK/bin/seed" --url "http://127.0.0.1:$PORT" --dir "$dir" \
		--orgs "$ORGS" --from "$from" --users "$to" --workers "$SEED_WORKERS" --timeout 20m --bulk "$@" >>"$WORK/seed.log" 2>&1 || ok=0
	SEED_HWM_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$ROSTER_PID/status" 2>/dev/null || echo)
	[ ${#SRV_PIN[@]} = 0 ] || { taskset -a -p -c 1 "$ROSTER_PID" >/dev/null && sleep 1.5; }
	if [ $ok = 0 ]; then
		log "seeding failed:"
		tail -5 "$WORK/seed.log" >&2
		exit 1
	fi
	# autovacuum is off on the test machines' PostgreSQL: without statistics the planner picks
	# sequential scans for the membership joins. Analyze once, as autovacuum would after a load.
	if [ -n "$PG_BENCH_URL" ]; then psql "$PG_BENCH_URL" -q -c ANALYZE >/dev/null; fi
	grep -v "/.* (" "$WORK/seed.log" | tail -1 >&2
}

count_users() { if [ -f "$1/users.tsv" ]; then wc -l <"$1/users.tsv" | tr -d ' '; else echo 0; fi; }

note_seed() { # BACKEND FROM_COUNT TO_COUNT: the last seeding call's rate, and whether its budget ran out
	local cut rate target met rss
	cut=$(tail -3 "$WORK/seed.log" | sed -n 's/^seed: \(budget .*\)$/\1/p')
	rate=$(last_seed_rate)
	SEED_NOTES+="- $1: users $2 → $3 at ${rate}/s${cut:+ (**$cut**)}"$'\n'
	# Issue 12's import targets: 50,000 users/s on SQLite, 20,000 on PostgreSQL.
	case $1 in sqlite) target=50000 ;; *) target=20000 ;; esac
	if [ -n "$rate" ] && [ "$rate" -ge "$target" ]; then met=yes; else met="**no**"; fi
	rss=–
	if [ -n "$SEED_HWM_KB" ]; then rss=$(awk -v k="$SEED_HWM_KB" 'BEGIN {printf "%.1f", k / 1024}'); fi
	[ "$SEED_HWM_RESET" = 1 ] || rss="$rss (since start)"
	IMPORT_ROWS+="| $1 | $2 → $3 | $((($3 - $2))) | ${rate:-?} | $rss | ≥ $target/s | $met |"$'\n'
}

last_seed_rate() { sed -n 's/^seed: [0-9]* users in .* (\([0-9]*\)\/s)$/\1/p' "$WORK/seed.log" | tail -1; }

run_ops() { # SET USERS BACKEND SEEDDIR OPS_FILTER(regex) CLIENTS...
	local set=$1 users=$2 backend=$3 dir=$4 filter=$5
	shift 5
	local in=$WORK/in-$backend-$set-$users op needs call proto c input
	"$WORK/bin/benchkit" inputs --seed "$dir" --out "$in" --base "http://127.0.0.1:$PORT"
	if [[ get_user =~ ^($filter)$ ]] && [ "$USERS_OK" = 1 ] && [ "$READ_WARM" -gt 0 ]; then
		read_warmup "$dir" "$in"
	fi
	for op in get_org get_user get_user_ext lookup_email get_user_zipf get_user_ext_zipf lookup_email_zipf create_user update_user list_org_users; do
		[[ $op =~ ^($filter)$ ]] || continue
		for proto in rest grpc ghz; do
			for c in "$@"; do
				# ghz (grpc-go's client) only beside the main 16-client rows of three operations.
				if [ "$proto" = ghz ] && { [ "$set" != main ] || [ "$c" != 16 ] || ! [[ $op =~ ^(get_user|create_user|list_org_users)$ ]]; }; then
					continue
				fi
				if [ "$op" != get_org ] && [ "$USERS_OK" != 1 ]; then
					skip "$set" "$users" "$op" "$proto" "$backend" "$c" "not run: $USERS_WHY"
					continue
				fi
				READ_KEYS_FILE=
				if [[ $op =~ ^(get_user|get_user_ext|lookup_email)(_zipf)?$ ]]; then
					# Keys from every seeded user, drawn anew for each row (benchkit reads).
					local base=${op%_zipf} dist=uniform
					[ "$op" = "$base" ] || dist=zipf
					DRAW=$((DRAW + 1))
					"$WORK/bin/benchkit" reads --seed "$dir" --op "$base" --dist "$dist" --n "$READ_KEYS" --draw "$DRAW" \
						--base "http://127.0.0.1:$PORT" --out "$in/$op-$proto-$c"
					[ "$proto" = rest ] && input=$in/$op-$proto-$c.rest.targets || input=$in/$op-$proto-$c.grpc.json
					call=$(awk -F'\t' -v o="$base" '$1==o {print $3}' "$in/ops.tsv")
					READ_KEYS_FILE=$in/$op-$proto-$c.keys
				elif [ "$op" = create_user ]; then
					local prefix=c-$backend-$set-$proto-$c-$RANDOM
					"$WORK/bin/benchkit" creates --seed "$dir" --prefix "$prefix" --n "$CREATE_TARGETS" \
						--base "http://127.0.0.1:$PORT" --out "$in/create-$proto-$c"
					[ "$proto" = rest ] && input=$in/create-$proto-$c.rest.targets || input=$in/create-$proto-$c.grpc.json
					call=scalekit.v1.users.UserService/CreateUserAndMembership
				else
					[ "$proto" = rest ] && input=$in/$op.rest.targets || input=$in/$op.grpc.json
					call=$(awk -F'\t' -v o="$op" '$1==o {print $3}' "$in/ops.tsv")
					if [ "$op" = list_org_users ]; then ROW_PAGE=$(page_fill "$dir"); fi
				fi
				measure "$set" "$users" "$op" "$proto" "$backend" "$c" "$PORT" "$input" "$call"
				READ_KEYS_FILE= ROW_PAGE=
				rm -f "$in/$op-$proto-$c".rest.targets "$in/$op-$proto-$c".grpc.json
			done
		done
	done
}

# read_warmup SEEDDIR INDIR: uniform gets by id over REST at 16 clients for READ_WARM seconds,
# with keys of a draw of their own, not measured, before a data set's read rows. A data set's
# first read row otherwise starts on the cache its seeding left (an import empties it) and pays
# for filling it, while the rows after it find it full: without it the order of the rows, not
# the operation, decided their rates (the eighth session's first run: get by id 23% of the
# ceiling, then lookup by email 58%).
read_warmup() {
	local dir=$1 in=$2
	"$WORK/bin/benchkit" reads --seed "$dir" --op get_user --dist uniform --n "$READ_KEYS" --draw $((900000 + RANDOM)) \
		--base "http://127.0.0.1:$PORT" --out "$in/warm" >/dev/null
	log "warming up: ${READ_WARM}s of uniform gets by id (another draw, not measured)"
	"${GEN_PIN[@]}" timeout $((READ_WARM + 60)) "$TOOLS/vegeta" attack -format=json -targets="$in/warm.rest.targets" \
		-rate=0 -workers=16 -max-workers=16 -duration="${READ_WARM}s" -timeout=10s \
		-header "Authorization: Bearer $TOKEN" 2>>"$WORK/vegeta.log" >/dev/null || true
	rm -f "$in"/warm.*
}

# sustained_writes: creates and profile updates, alternating, over REST at 16 clients for
# WRITE_DURATION seconds; the memory and WAL samplers run as for every roster row. Enough
# creates for 6,000 writes/s; past them vegeta would wrap around and creates would conflict
# (run 2026-12-06-1446 wrote 3,645/s against the 3,000/s it had room for: 15% 409s).
sustained_writes() { # USERS BACKEND SEEDDIR
	local in=$WORK/in-$2-main-$1 n=$((WRITE_DURATION * 3000))
	[ "$USERS_OK" = 1 ] || { skip main "$1" sustained_writes rest "$2" 16 "not run: $USERS_WHY"; return; }
	"$WORK/bin/benchkit" creates --seed "$3" --prefix "w-$2-$RANDOM" --n "$n" --base "http://127.0.0.1:$PORT" --out "$in/sustained-create"
	# One create, then one update, and so on (the update targets repeat as needed).
	awk 'NR == FNR {u[n++] = $0; next} {print; print u[(FNR - 1) % n]}' "$in/update_user.rest.targets" "$in/sustained-create.rest.targets" >"$in/sustained.rest.targets"
	rm -f "$in/sustained-create".*
	DURATION=$WRITE_DURATION measure main "$1" sustained_writes rest "$2" 16 "$PORT" "$in/sustained.rest.targets"
	rm -f "$in/sustained.rest.targets"
}

# scim_rows: issue 13's SCIM rows over REST (vegeta) at 16 clients, against the SCIM endpoint of
# a directory seeded for them (bench/cmd/seed --scim-users: its own organization, users pushed
# through SCIM POST, a big group built by PATCH adds), with the directory's own bearer token.
# Rows: a page of 100 users by startIndex, POST, PATCH (Entra's Replace forms), PUT (Okta's
# whole user), one member added to / removed from the big group (Okta's form).
scim_rows() { # USERS BACKEND
	local users=$1 backend=$2 dir=$WORK/seed-$2/scim in=$WORK/in-$2-scim ok=1 n group op
	local ops=(scim_list scim_create scim_patch scim_put scim_member)
	if [ "$USERS_OK" != 1 ]; then
		for op in "${ops[@]}"; do skip main "$users" "$op" rest "$backend" 16 "not run: $USERS_WHY"; done
		return
	fi
	mkdir -p "$dir"
	log "seeding a SCIM directory: up to $SCIM_USERS users through SCIM POST (budget ${SCIM_SEED_BUDGET}s), a group of up to $SCIM_GROUP"
	[ ${#SRV_PIN[@]} = 0 ] || { taskset -a -p -c 0,1 "$ROSTER_PID" >/dev/null && sleep 1.5; }
	BENCH_TOKEN=$TOKEN "${GEN_PIN[@]}" "$WORK/bin/seed" --url "http://127.0.0.1:$PORT" --dir "$dir" --scim-users "$SCIM_USERS" \
		--scim-group "$SCIM_GROUP" --workers "$SEED_WORKERS" --budget "${SCIM_SEED_BUDGET}s" --timeout 20m >"$WORK/seed-scim-$backend.log" 2>&1 || ok=0
	SEED_HWM_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$ROSTER_PID/status" 2>/dev/null || echo)
	[ ${#SRV_PIN[@]} = 0 ] || { taskset -a -p -c 1 "$ROSTER_PID" >/dev/null && sleep 1.5; }
	if [ $ok = 0 ]; then
		log "SCIM seeding failed:"
		tail -5 "$WORK/seed-scim-$backend.log" >&2
		for op in "${ops[@]}"; do skip main "$users" "$op" rest "$backend" 16 "not run: SCIM seeding failed: $(tail -1 "$WORK/seed-scim-$backend.log" | cut -c1-200 | tr '|' '/')"; done
		return
	fi
	if [ -n "$PG_BENCH_URL" ]; then psql "$PG_BENCH_URL" -q -c ANALYZE >/dev/null; fi
	n=$(sed -n 's/^users=//p' "$dir/scim.env")
	group=$(sed -n 's/^group_size=//p' "$dir/scim.env")
	local rate cut
	rate=$(sed -n 's/^seed: [0-9]* SCIM users in .* (\([0-9]*\)\/s)$/\1/p' "$WORK/seed-scim-$backend.log" | tail -1)
	cut=$(sed -n 's/^seed: \(budget .*\)$/\1/p' "$WORK/seed-scim-$backend.log" | tail -1)
	SCIM_NOTES+="- $backend: a directory of $n users pushed through SCIM POST at ${rate:-?}/s (32 clients, roster on both cores)${cut:+ (**$cut**)}; $(grep '^seed: SCIM group' "$WORK/seed-scim-$backend.log" | sed 's/^seed: SCIM //' || true)"$'\n'
	# One page, as the list row asks for it: it must hold 100 users (or all, if fewer).
	local page
	page=$(curl -sS --max-time 30 "$(sed -n 's/^endpoint=//p' "$dir/scim.env")/Users?startIndex=1&count=100" \
		-H "Authorization: Bearer $(sed -n 's/^token=//p' "$dir/scim.env")" || true)
	SCIM_NOTES+="- $backend: a SCIM page (startIndex=1, count=100) holds $(printf '%s' "$page" | grep -o '"userName":' | wc -l) users, totalResults $(printf '%s' "$page" | sed -n 's/.*"totalResults":\([0-9]*\).*/\1/p')"$'\n'
	"$WORK/bin/benchkit" scim --seed "$dir" --out "$in" --prefix "x$RANDOM-$backend" --n "$SCIM_TARGETS" --keys "$SCIM_TARGETS"
	local token=$TOKEN sent
	TOKEN=$(sed -n 's/^token=//p' "$dir/scim.env")
	for op in "${ops[@]}"; do
		case $op in
		scim_list) ROW_DETAIL="a directory of $n users" ;;
		scim_member) ROW_DETAIL="a group of $group members" ;;
		*) ROW_DETAIL= ;;
		esac
		# 2 s of the row's own requests first, not measured (as bench/ab-scim.sh does): the row
		# measures its operation, not the tail of the write row before it (PostgreSQL's
		# checkpoint and vacuum of it) nor the pool growing to 16 connections. Creates are
		# not warmed up (a repeated create is a 409).
		if [ "$op" != scim_create ]; then
			"${GEN_PIN[@]}" timeout 30 "$TOOLS/vegeta" attack -format=json -targets="$in/$op.rest.targets" -rate=0 -workers=16 -max-workers=16 \
				-duration=2s -timeout=10s -header "Authorization: Bearer $TOKEN" >/dev/null 2>>"$WORK/vegeta.log" || true
		fi
		measure main "$((users + n))" "$op" rest "$backend" 16 "$PORT" "$in/$op.rest.targets"
		ROW_DETAIL=
		if [ "$op" = scim_create ]; then # the directory grows by the creates sent
			sent=$(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' "$WORK/out/main-$((users + n))-$backend-scim_create-rest-c16.json" 2>/dev/null | head -1 || true)
			n=$((n + ${sent:-0}))
		fi
	done
	TOKEN=$token
	rm -rf "$in"
}

# bare_pgx: the machine's bare pgx point-read rate beside the PostgreSQL rows (issue 12: reads
# at least half of it), with roster idle: 16 goroutines read one users row by primary key,
# keys uniform over every seeded user, pinned like the server (bench/cmd/pgxread).
bare_pgx() { # USERS SEEDDIR
	local out=$WORK/out/main-$1-postgres-pgx_bare-sql-c16.json
	mkdir -p "$WORK/out"
	if "${SRV_PIN[@]}" timeout $((DURATION + 60)) "$WORK/bin/pgxread" --url "$PG_BENCH_URL" --seed "$2" --duration "${DURATION}s" --workers 16 >"$out" 2>>"$WORK/pgxread.log"; then
		printf 'main\t%s\tpgx_bare\tsql\tpostgres\t16\tvegeta\t%s\n' "$1" "$out" >>"$MANIFEST"
		log "$(printf '%-5s %-8s %-15s %-4s c=%-2s' main postgres pgx_bare sql 16) $(summary vegeta "$out")"
	else
		skip main "$1" pgx_bare sql postgres 16 "pgxread failed: $(tail -1 "$WORK/pgxread.log" | tr '|' '/')"
	fi
}

# One request of the list and of the email lookup, to show that they answer what the benchmark
# assumes (a full page of 100; exactly one user).
# page_fill SEEDDIR: how many users the first page of 100 of the first big organization holds
# (the list rows read big organizations' first pages; at 10k users they hold about 50 members).
page_fill() {
	local org
	org=$(awk -F'\t' '$3=="big" {print $1; exit}' "$1/orgs.tsv")
	curl -sS --max-time 30 "http://127.0.0.1:$PORT/api/v1/organizations/$org/users?page_size=100" -H "Authorization: Bearer $TOKEN" | grep -o '"email":' | wc -l
}

sanity_check() { # BACKEND SEEDDIR
	local email list search
	email=$(head -1 "$2/users.tsv" | cut -f3)
	list=$(page_fill "$2")
	search=$(curl -sS --max-time 30 "http://127.0.0.1:$PORT/api/v1/users:search?query=${email/@/%40}" -H "Authorization: Bearer $TOKEN" | grep -o '"email":' | wc -l)
	PROBE_NOTES+="- $backend: a page of a big organization's users holds $list users; searching one seeded email finds $search"$'\n'
}

# ---- per backend -----------------------------------------------------------------------------
SEED_NOTES=""
IMPORT_ROWS=""
SEED_HWM_KB= SEED_HWM_RESET=0
SCIM_NOTES=""
MAIN_USERS=""
PROBE_NOTES=""
run_backend() { # BACKEND
	local backend=$1 dbflags pid dir=$WORK/seed-$1 org code rate big
	mkdir -p "$dir"
	case "$backend" in
	sqlite)
		# roster refuses a data directory that others can read
		mkdir -m 700 "$WORK/data-sqlite"
		dbflags=(--data-dir "$WORK/data-sqlite")
		DB_FILE=$WORK/data-sqlite/roster.db
		;;
	postgres)
		if ! psql "$PGURL_ADMIN" -q -c 'select 1' >/dev/null 2>&1; then
			log "PostgreSQL is not reachable at $PGURL_ADMIN: skipping postgres"
			PROBE_NOTES+="- postgres: not run, PostgreSQL not reachable at 127.0.0.1:5432"$'\n'
			return 0
		fi
		PGDB=roster_bench_$$
		psql "$PGURL_ADMIN" -q -c "CREATE DATABASE $PGDB" >/dev/null
		PG_BENCH_URL="postgres://postgres@127.0.0.1:5432/$PGDB?sslmode=disable"
		dbflags=(--database-url "$PG_BENCH_URL")
		PROBE_NOTES+="- postgres: autovacuum is $(psql "$PGURL_ADMIN" -Atc 'SHOW autovacuum'); the script runs ANALYZE after each seeding step"$'\n'
		;;
	*) log "unknown backend $backend"; exit 2 ;;
	esac

	run_ceiling "$backend" ceiling

	log "starting roster on $backend"
	ROSTER_BOOTSTRAP_CLIENT_ID=$CLIENT_ID ROSTER_BOOTSTRAP_CLIENT_SECRET=$CLIENT_SECRET \
		"${SRV_PIN[@]}" "$WORK/bin/roster" serve --listen "127.0.0.1:$PORT" "${dbflags[@]}" \
		--log-level "$LOG_LEVEL" --access-token-ttl 3h --metrics-listen "127.0.0.1:$METRICS_PORT" >"$WORK/roster-$backend.log" 2>&1 &
	pid=$!
	ROSTER_PID=$pid
	SERVER_PID=$pid
	PIDS+=("$pid")
	if ! wait_ready "http://127.0.0.1:$PORT/readyz" 60 "$pid"; then
		log "roster did not become ready (process $(kill -0 "$pid" 2>/dev/null && echo alive || echo gone)); its log:"
		tail -20 "$WORK/roster-$backend.log" >&2
		exit 1
	fi
	TOKEN=$(curl -fsS --max-time 10 "http://127.0.0.1:$PORT/oauth/token" -d grant_type=client_credentials \
		-d client_id="$CLIENT_ID" -d client_secret="$CLIENT_SECRET" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
	[ -n "$TOKEN" ] || { log "no access token"; exit 1; }

	# Does this build serve users yet? One create through REST tells.
	org=$(curl -fsS --max-time 10 "http://127.0.0.1:$PORT/api/v1/organizations" -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/json' --data '{"display_name":"bench probe"}' | sed -n 's/.*"id":"\(org_[^"]*\)".*/\1/p')
	code=$(curl -sS --max-time 10 -o "$WORK/probe-$backend.json" -w '%{http_code}' "http://127.0.0.1:$PORT/api/v1/organizations/$org/users" \
		-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' --data '{"email":"probe@bench.example.com","external_id":"bench-probe"}' || true)
	if [[ $code == 2* ]]; then
		USERS_OK=1 USERS_WHY=
	else
		USERS_OK=0
		USERS_WHY="this build does not serve users (POST /api/v1/organizations/{id}/users: HTTP $code)"
	fi
	PROBE_NOTES+="- $backend: POST /api/v1/organizations/{id}/users answered HTTP $code: $(head -c 200 "$WORK/probe-$backend.json" | tr '\n|' '  ')"$'\n'
	log "users supported on $backend: $USERS_OK ${USERS_WHY}"

	# Seeding goes through the API, so its time depends on the server's create rate; a budget
	# keeps the run bounded, and the report says when it cut a data set short.
	local skipflag=() t0 n from
	[ "$USERS_OK" = 1 ] || skipflag=(--skip-users)
	t0=$(date +%s)
	if [ "$SCALE" = 1 ] && [ "$USERS_OK" = 1 ] && [[ " $SCALE_BACKENDS " == *" $backend "* ]]; then
		log "seeding $ORGS organizations, $SCALE_SMALL users"
		seed "$dir" 0 "$SCALE_SMALL" --budget "${SEED_BUDGET}s"
		n=$(count_users "$dir")
		note_seed "$backend" 0 "$n"
		run_ops scale "$n" "$backend" "$dir" 'get_user|lookup_email|list_org_users' 16
		from=$SCALE_SMALL
	else
		from=0
	fi
	log "seeding $([ "$from" = 0 ] && echo "$ORGS organizations and ")users up to $USERS"
	seed "$dir" "$from" "$USERS" --budget "$((SEED_BUDGET - ($(date +%s) - t0) > 10 ? SEED_BUDGET - ($(date +%s) - t0) : 10))s" "${skipflag[@]}"
	SEED_NOTES+="- $backend: $ORGS organizations at $(sed -n 's/^seed: [0-9]* organizations in .* (\([0-9]*\)\/s)$/\1/p' "$WORK/seed.log" | tail -1)/s"$'\n'
	n=$(count_users "$dir")
	if [ "$USERS_OK" = 1 ]; then note_seed "$backend" "$from" "$n"; fi
	MAIN_USERS+="$backend: $n users in $ORGS organizations; "

	if [ "$USERS_OK" = 1 ]; then sanity_check "$backend" "$dir"; fi
	if [ "$backend" = postgres ] && [ "$USERS_OK" = 1 ]; then
		bare_pgx "$n" "$dir"
		PROBE_NOTES+="- postgres: several roster nodes on one database reading each other's writes at once (issue 12) is not measured here; it is shown by \`TestWritesOnOneNodeAreReadOnTheOther\` (api/nodes_test.go, in the README's test command): a write through one node is seen by the next read through the other, by ID, by external ID and in a page"$'\n'
	fi
	run_ops main "$n" "$backend" "$dir" '.*' 1 16
	if [[ " $WRITE_BACKENDS " == *" $backend "* ]]; then sustained_writes "$n" "$backend" "$dir"; fi
	scim_rows "$n" "$backend"
	# The second ceiling shares CPU 1 with roster, which is idle meanwhile.
	run_ceiling "$backend" ceiling_after

	if [ "$SCALE" = 1 ] && [ "$USERS_OK" = 1 ] && [[ " $SCALE_BACKENDS " == *" $backend "* ]]; then
		log "growing to $SCALE_BIG users (budget ${SCALE_SEED_BUDGET}s)"
		seed "$dir" "$USERS" "$SCALE_BIG" --budget "${SCALE_SEED_BUDGET}s"
		local n2
		n2=$(count_users "$dir")
		note_seed "$backend" "$n" "$n2"
		run_ops scale "$n2" "$backend" "$dir" 'get_user|lookup_email|list_org_users' 16
	fi

	if [ "$PROFILE" = 1 ] && [[ " $PROFILE_BACKENDS " == *" $backend "* ]]; then
		log "profiling roster under each operation (perf)"
		PROFILE_PID=$pid
		run_ops profile "$(wc -l <"$dir/users.tsv" 2>/dev/null || echo 0)" "$backend" "$dir" '.*' 16
		PROFILE_PID=
	fi

	stop_pid "$pid"
	ROSTER_PID= DB_FILE=
	local nerr
	nerr=$(grep -c '"level":"ERROR"' "$WORK/roster-$backend.log" || true)
	if [ "${nerr:-0}" != 0 ]; then
		PROBE_NOTES+="- $backend: roster logged $nerr errors; the first: \`$(grep -m1 '"level":"ERROR"' "$WORK/roster-$backend.log" | cut -c1-300 | tr '|`' '/ ')\`"$'\n'
	fi
	if [ "$backend" = postgres ]; then
		psql "$PGURL_ADMIN" -q -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null 2>&1 || true
		PGDB= PG_BENCH_URL=
	fi
}

START=$(date +%s)
for b in $BACKENDS; do run_backend "$b"; done
ELAPSED=$(($(date +%s) - START))

# ---- report ----------------------------------------------------------------------------------
{
	echo "# Roster load benchmark, $STAMP"
	echo
	echo "- command: \`$COMMAND\` ($([ "$QUICK" = 1 ] && echo quick || echo full) run, ${ELAPSED}s)"
	echo "- roster: $ROSTER_REV (when built), log level $LOG_LEVEL"
	echo "- machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- pinning: $PINNING"
	echo "- tools: vegeta $VEGETA_VERSION (REST, -rate=0 with N workers: closed loop, N requests in flight), bench/cmd/grpcload (gRPC: connect-go's client with the generated types, N calls in flight over one HTTP/2 connection), ghz $GHZ_VERSION (the rows marked ghz: grpc-go's client with dynamic messages, -c N over one HTTP/2 connection), $(go version | cut -d' ' -f3)"
	echo "- each measurement: ${DURATION}s (the sustained write row on $WRITE_BACKENDS: ${WRITE_DURATION}s); data set (target $USERS users in $ORGS organizations, 1% of them \"big\" holding half the users): $MAIN_USERS"
	echo "- read rows: before each data set's read rows, ${READ_WARM}s of uniform gets by id over REST at 16 clients with keys of another draw, not measured (read_warmup: the rows measure a server that has been serving reads, not the cache filling after the import); every read row then draws its own keys"
	echo "- ceiling: bench/cmd/ceiling (fixed JSON body for REST, fixed GetUser answer for gRPC), same tool, core and client count, measured before and after each backend; ratio = req/s ÷ mean of the two"
	echo "- server notes:"
	printf '%s' "$PROBE_NOTES" | sed 's/^/  /'
	echo "- seeding (organizations: CreateOrganization over gRPC, $SEED_WORKERS concurrent; users: one streaming bulk import, POST /api/v1/users:import, then their IDs read back through the export; roster on both cores; budget ${SEED_BUDGET}s per backend, ${SCALE_SEED_BUDGET}s for the 1M step; the rate is the import's):"
	printf '%s' "$SEED_NOTES" | sed 's/^/  /'
	if [ -n "$IMPORT_ROWS" ]; then
		echo
		echo "Bulk import (the seeding above: one NDJSON stream a step, 1,000 lines a batch, new users each with an email, an external ID and one membership; the load tool generates the file on CPU 0 while roster has both cores). RSS peak is roster's VmHWM over the step (reset before it); issue 12 wants memory flat in the file's size."
		echo
		echo "| backend | users | lines | users/s | RSS peak MB | target | met? |"
		echo "| --- | --- | ---: | ---: | ---: | --- | --- |"
		printf '%s' "$IMPORT_ROWS"
		echo
	fi
	echo "- SCIM rows (REST, 16 clients, the directory's own bearer token; targets from issue 13): a directory in an organization of its own, its users pushed through its SCIM endpoint (POST /Users, Entra's body), budget ${SCIM_SEED_BUDGET}s per backend, and a group built by PATCH adds of 500 members per request; the rows' users count is the main data set plus the directory's users:"
	printf '%s' "$SCIM_NOTES" | sed 's/^/  /'
	echo
} >"$META"
"$WORK/bin/benchkit" report --meta "$META" "$MANIFEST" >"$RESULT"
cat "$RESULT"
log "wrote ${RESULT#"$ROOT"/}"
exit 0
}
