package directory

import "time"

// SetClock makes s read the time from now (tests of time-dependent rules).
func SetClock(s *Service, now func() time.Time) { s.now = now }
