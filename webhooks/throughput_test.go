package webhooks

import (
	"sync"
	"testing"
	"time"
)

// TestDeliveryThroughputSQLite measures one endpoint to a local receiver on SQLite: the
// target is 2,000 events/s (issue 15). It fails below half of that, so that a loaded CI
// machine does not make it flaky; the rate is logged (go test -v -run Throughput).
func TestDeliveryThroughputSQLite(t *testing.T) {
	if testing.Short() || raceDetector {
		t.Skip("a throughput run (not under -short or -race)")
	}
	const n = 5000
	f := newFixture(t, newSQLite(t))
	r := newReceiver(t)
	f.endpoint(r)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); f.changes(n / 8) }()
	}
	wg.Wait()
	start := time.Now()
	f.worker(fast, nil)
	waitFor(t, "every delivery", func() bool { return len(r.deliveries()) >= n })
	elapsed := time.Since(start)
	rate := float64(n) / elapsed.Seconds()
	t.Logf("%d events delivered in %v: %.0f events/s", n, elapsed.Round(time.Millisecond), rate)
	for _, d := range r.deliveries() {
		if !d.verified {
			t.Fatal("a delivery does not verify")
		}
	}
	if rate < 1000 {
		t.Fatalf("%.0f events/s, want at least 2,000 (1,000 on a loaded machine)", rate)
	}
}
