//go:build rostercheck

package sqlstore

// Built with -tags rostercheck (tests), the user cache decodes every user it keeps right away
// and panics unless it comes back exactly as it was read (usercache.go, checkShared).
func init() { checkShared = true }
