package roster

import (
	"testing"
	"time"
)

// A block's numbers are consecutive, share the generator's node, never overlap another
// block's or a single number, and move to the next millisecond when this one has too few left.
func TestIDGeneratorNextBlock(t *testing.T) {
	at := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	g := &IDGenerator{node: 5, now: func() time.Time { return at }}
	taken := map[int64]bool{}
	take := func(first int64, n int) {
		t.Helper()
		for i := int64(0); i < int64(n); i++ {
			id := first + i
			if taken[id] {
				t.Fatalf("number %d given twice", id)
			}
			if (id>>12)&0x3ff != 5 {
				t.Fatalf("number %d is not of node 5", id)
			}
			taken[id] = true
		}
	}
	take(g.Next(), 1)
	b := g.NextBlock(3)
	take(b, 3)
	take(g.Next(), 1)
	ms := b >> 22
	// 4,093 more do not fit in this millisecond (5 taken): the block takes the next one, from 0.
	big := g.NextBlock(4093)
	if big>>22 != ms+1 || big&0xfff != 0 {
		t.Fatalf("a block that does not fit starts at %d (ms %d, seq %d), want the next millisecond's 0", big, big>>22, big&0xfff)
	}
	take(big, 4093)
	take(g.NextBlock(3), 3)
	if next := g.NextBlock(1); next>>22 != ms+2 {
		t.Fatalf("past 4,096 numbers: %d not in the next millisecond", next)
	} else {
		take(next, 1)
	}
	take(g.Next(), 1)
	for _, n := range []int{0, -1, 4097} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NextBlock(%d) did not panic", n)
				}
			}()
			g.NextBlock(n)
		}()
	}
}
