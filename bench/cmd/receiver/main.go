// Command receiver is the webhook receiver of the delivery benchmark (bench/ab-events.sh
// delivery): it answers every POST with 204 after reading its body, counts them, and writes
// the count to a file every 50 ms, so that the script can tell when a backlog has arrived.
// It checks nothing: signatures are verified by the e2e tests with the Scalekit Node SDK.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	report := flag.String("report", "received", "file that holds the number of requests received")
	flag.Parse()
	var n atomic.Int64
	go func() {
		last := int64(-1)
		for range time.Tick(50 * time.Millisecond) {
			if v := n.Load(); v != last {
				last = v
				if err := os.WriteFile(*report, []byte(strconv.FormatInt(v, 10)), 0o644); err != nil {
					log.Fatal(err)
				}
			}
		}
	}()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}
