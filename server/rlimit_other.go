//go:build !unix

package server

// DefaultMaxConns is 0 (no total cap) where the open-file limit cannot be read.
func DefaultMaxConns() int { return 0 }
