# Sourced by bench/ab-events.sh and bench/ab-scim.sh: the "toggle" measurement. One roster
# built with -tags roster_eventtoggle serves one steady load while SIGUSR1 switches recording
# events off and on in alternating windows, so that both sides of the comparison share the
# process, its data and the minute of a shared machine (docs in bench/README.md).
# Needs: $PID (roster), $TOOLS, $ROOT, cpu().

# pgall: the CPU ticks of the whole PostgreSQL server: the postmaster, its children alive now,
# and (cutime, cstime) those that ended, which the postmaster has reaped.
pgall() { local pm t p; pm=$(pgrep -o -x postgres); t=$(awk '{print $14+$15+$16+$17}' /proc/$pm/stat)
	for p in $(pgrep -P $pm); do t=$((t + $(cpu $p 2>/dev/null || echo 0))); done; echo $t; }

# toggle_run TARGETS TOKEN CLIENTS WINDOWS SECONDS DIR DB LABEL: the load from TARGETS, the
# windows, then the report (bench/toggle-report.py). DB non-empty: PostgreSQL's CPU too.
toggle_run() {
	local targets=$1 tok=$2 c=$3 windows=$4 win=$5 dir=$6 db=$7 label=$8 vp i
	mark() { echo "$(date +%s.%N) $(cpu $PID) $([ -z "$db" ] && echo 0 || pgall)" >> "$dir/marks"; }
	taskset -c 0 timeout $((windows * win * 2 + 100)) $TOOLS/vegeta attack -format=json -targets="$targets" -rate=0 -workers=$c -max-workers=$c \
		-duration=$((windows * win * 2 + 10))s -timeout=10s -header "Authorization: Bearer $tok" > "$dir/res.bin" &
	vp=$!; sleep 1; : > "$dir/marks"
	for i in $(seq $windows); do mark; sleep $win; kill -USR1 $PID; done
	mark
	kill -INT $vp; wait $vp || true # vegeta writes its results on SIGINT
	[ $((windows % 2)) = 0 ] || kill -USR1 $PID
	$TOOLS/vegeta encode --to csv < "$dir/res.bin" > "$dir/res.csv"
	python3 "$ROOT/bench/toggle-report.py" "$dir/marks" "$dir/res.csv" "$(getconf CLK_TCK)" "$label"
}
