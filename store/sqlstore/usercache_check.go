//go:build rostercheck

package sqlstore

// Built with -tags rostercheck (tests), the user cache keeps a deep copy of every user it
// holds and panics when a caller changed the shared user (usercache.go, checkShared).
func init() { checkShared = true }
