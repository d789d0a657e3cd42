//go:build unix

package server

import "syscall"

// DefaultMaxConns is three quarters of the process's open-file limit (Go raises the soft limit
// to the hard one at start), at least 64; 0 (no cap) when the limit is unlimited or unreadable.
func DefaultMaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 0
	}
	return max(64, int(rl.Cur/4*3))
}
