package webhooks

import "github.com/prometheus/client_golang/prometheus"

// metrics count a worker's attempts (docs/webhooks.md "Metrics"). Labels stay bounded: no
// endpoint or environment.
type metrics struct {
	attempts *prometheus.CounterVec
	latency  prometheus.Histogram
	disabled prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roster_webhook_attempts_total", Help: "Webhook delivery attempts by result (success, failure) and kind (feed, manual).",
		}, []string{"result", "kind"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "roster_webhook_attempt_duration_seconds", Help: "Time from sending a webhook to its answer (or failure).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		disabled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roster_webhook_endpoints_disabled_total", Help: "Webhook endpoints disabled for failing through the failure window.",
		}),
	}
}

// Register adds the worker's metrics to reg (roster serve's registry).
func (w *Worker) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{w.m.attempts, w.m.latency, w.m.disabled} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *metrics) attempt(success, manual bool, seconds float64) {
	result, kind := "failure", "feed"
	if success {
		result = "success"
	}
	if manual {
		kind = "manual"
	}
	m.attempts.WithLabelValues(result, kind).Inc()
	m.latency.Observe(seconds)
}
