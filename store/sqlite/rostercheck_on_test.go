//go:build rostercheck

package sqlite_test

// rostercheck: built with -tags rostercheck, the user cache keeps a deep copy of every user
// (store/sqlstore, checkShared), which doubles its heap.
const rostercheck = true
