//go:build !rostercheck

package sqlite_test

const rostercheck = false
