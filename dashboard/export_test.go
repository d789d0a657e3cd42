package dashboard

// StatusOf is statusOf, for the tests of package dashboard_test.
var StatusOf = statusOf
