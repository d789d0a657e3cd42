package roster

import (
	"crypto/rand"
	"encoding/binary"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ID prefixes, as the Scalekit API validates them.
const (
	PrefixEnvironment  = "env_"
	PrefixOrganization = "org_"
	PrefixClient       = "skc_"
)

// idEpoch is the start of Roster's ID clock. With 22 bits below the millisecond, IDs keep 18
// decimal digits (like Scalekit's, e.g. org_59615193906282635 has 17) until about 2031.
var idEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

// IDGenerator makes time-ordered numeric IDs: milliseconds since idEpoch, 10 bits of node
// (random per process, so several nodes rarely collide; the database's primary key is the
// final guard) and a 12-bit sequence within the millisecond. See docs/ids.md.
type IDGenerator struct {
	mu     sync.Mutex
	node   int64
	lastMS int64
	seq    int64
	now    func() time.Time
}

// NewIDGenerator returns a generator with a random node number.
func NewIDGenerator() *IDGenerator {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return &IDGenerator{node: int64(binary.BigEndian.Uint16(b[:]) & 0x3ff), now: time.Now}
}

// Next returns the next number; it never goes backwards within one process.
func (g *IDGenerator) Next() int64 { return g.NextBlock(1) }

// NextBlock returns the first of n consecutive numbers (1 to 4,096) that no other call of
// this generator returns: one millisecond's sequence numbers, past those already taken.
func (g *IDGenerator) NextBlock(n int) int64 {
	if n < 1 || n > 0x1000 {
		panic("roster: IDGenerator.NextBlock of " + strconv.Itoa(n))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	ms := g.now().UnixMilli() - idEpoch
	if ms < g.lastMS { // clock stepped back: stay on the last millisecond
		ms = g.lastMS
	}
	first := int64(0)
	if ms == g.lastMS {
		first = g.seq + 1
	}
	if first+int64(n)-1 > 0xfff { // not enough left in this millisecond: borrow the next
		ms = max(ms, g.lastMS) + 1
		first = 0
	}
	g.lastMS, g.seq = ms, first+int64(n)-1
	return ms<<22 | g.node<<12 | first
}

// New returns prefix followed by the next number, e.g. "org_381234567890123456".
func (g *IDGenerator) New(prefix string) string {
	return prefix + strconv.FormatInt(g.Next(), 10)
}

// IDNumber returns the numeric part of an ID with the given prefix, and whether it is well-formed.
func IDNumber(id, prefix string) (int64, bool) {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok || rest == "" || len(rest) > 19 {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
