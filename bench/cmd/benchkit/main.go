// Command benchkit is the load benchmark's glue (bench/run.sh calls it):
//
//	benchkit protoset OUT                 descriptor set of the Scalekit services, for ghz --protoset
//	                                      (Roster has no gRPC reflection)
//	benchkit inputs --seed DIR --out DIR  vegeta targets and ghz data files for every operation,
//	                                      from the seeder's orgs.tsv and users.tsv
//	benchkit creates --seed DIR --prefix P --n N --out FILE
//	                                      N vegeta targets, each creating a different user
//	benchkit reads --seed DIR --op OP --dist uniform|zipf --n N --draw SEED --out FILE
//	                                      N keys of one read row, drawn from every seeded user
//	benchkit scim --seed DIR --out DIR --prefix P [--n N] [--keys N]
//	                                      vegeta targets of the SCIM rows (scim.go), from the
//	                                      seeder's scim.env and scim_users.tsv
//	benchkit watch --pid PID --wal PATH --out FILE
//	                                      peak VmRSS and WAL size, sampled until SIGTERM
//	benchkit report MANIFEST              the results table (markdown) from run.sh's manifest
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchkit protoset|inputs|creates|reads|scim|watch|report ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "protoset":
		err = protoset(os.Args[2:])
	case "inputs":
		err = inputs(os.Args[2:])
	case "creates":
		err = creates(os.Args[2:])
	case "reads":
		err = reads(os.Args[2:])
	case "scim":
		err = scimInputs(os.Args[2:])
	case "watch":
		err = watch(os.Args[2:])
	case "report":
		err = report(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchkit:", err)
		os.Exit(1)
	}
}
