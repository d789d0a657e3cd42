package directory

import (
	"context"
	"time"
)

// Event retention (docs/events.md, "Retention"): the operator's --event-retention. Events
// older than it are deleted from the head of the feed in bounded batches, so that no
// statement holds the events table for long.
const (
	eventPruneBatch = 1000
	// EventPruneEvery is how often RunEventRetention prunes.
	EventPruneEvery = 10 * time.Minute
)

// PruneEvents deletes the events older than retention (none when retention is 0: keep
// forever), a batch at a time, and returns how many it deleted.
func (s *Service) PruneEvents(ctx context.Context, retention time.Duration) (int, error) {
	if retention <= 0 {
		return 0, nil
	}
	before := s.now().Add(-retention)
	total := 0
	for {
		n, err := s.store.PruneEvents(ctx, before, eventPruneBatch)
		total += n
		if err != nil || n < eventPruneBatch {
			return total, err
		}
		select { // let writes in between batches
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// RunEventRetention prunes at once and then every interval until ctx ends. Several nodes
// on one database may all run it: a batch deletes only what is still there.
func (s *Service) RunEventRetention(ctx context.Context, retention, every time.Duration) {
	if retention <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := s.PruneEvents(ctx, retention)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.ErrorContext(ctx, "event retention: prune", "err", err)
		case n > 0:
			s.log.InfoContext(ctx, "event retention: pruned events", "events", n, "retention", retention.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
