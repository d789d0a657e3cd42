# Shared by the A/B scripts (ab-events.sh, ab-scim.sh, paired.sh), sourced: starting a roster
# build on copied seeded data, its token, its CPU time. They set CID, CSEC, PORT, PGADMIN,
# AB_DIR and LOG before calling these.
pgurl() { echo "$PGADMIN/$1?sslmode=disable"; }
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
start() { # BIN FLAGS... -> PID, serving on PORT, pinned to PIN (1), its output in LOG
	local bin=$1; shift
	ROSTER_BOOTSTRAP_CLIENT_ID=$CID ROSTER_BOOTSTRAP_CLIENT_SECRET=$CSEC GODEBUG=${RGODEBUG:-} taskset -c ${PIN:-1} "$bin" serve --listen 127.0.0.1:$PORT "$@" \
		--log-level error --access-token-ttl 3h >"$LOG" 2>&1 &
	PID=$!
	for i in $(seq 200); do curl -fsS -o /dev/null http://127.0.0.1:$PORT/readyz 2>/dev/null && return; sleep 0.2; done
	echo "roster did not start"; tail "$LOG"; exit 1
}
token() { curl -fsS http://127.0.0.1:$PORT/oauth/token -d grant_type=client_credentials -d client_id=$CID -d client_secret=$CSEC | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'; }
copydata() { # BACKEND DIR -> sets flags, db: a copy of ab-events.sh's seeded data set
	if [ "$1" = sqlite ]; then cp -a "$AB_DIR/seed-sqlite/data" "$2/data"; flags=(--data-dir "$2/data"); db=
	else db=abev_run_$$_$RANDOM; psql "$(pgurl test)" -qc "CREATE DATABASE $db TEMPLATE abev_tpl"; cp -a "$AB_DIR/seed-postgres/keys" "$2/keys"; flags=(--database-url "$(pgurl $db)" --data-dir "$2/keys"); fi
}
dropdata() { [ -z "$db" ] || psql "$(pgurl test)" -qc "DROP DATABASE $db"; }
