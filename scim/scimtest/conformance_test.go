package scimtest

import (
	"context"
	"testing"

	"github.com/rosterhq/roster/scim"
)

func TestMemoryConformance(t *testing.T) {
	Conformance(t, func(t *testing.T) scim.Directory {
		b := New()
		b.AddDirectory("tok")
		d, err := b.Open(context.Background(), "tok")
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}
