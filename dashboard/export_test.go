package dashboard

// StatusOf is statusOf, for the tests of package dashboard_test.
var StatusOf = statusOf

// SetSearchCountUpTo changes where h's user search stops counting (usersSearchCountUpTo).
func SetSearchCountUpTo(h *Handler, n int) { h.searchCountUpTo = n }
