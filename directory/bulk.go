package directory

import (
	"context"

	"github.com/rosterhq/roster"
)

// ImportLine is one numbered line of a bulk import. Err is set when the line could not be
// read (bad JSON, a field of the wrong type): it is reported as it is and nothing is written.
type ImportLine struct {
	Number int
	User   roster.ImportUser
	Err    error
}

// ImportOutcome reports one line: what it did to which user, or why it was refused (a
// *roster.Error naming the field).
type ImportOutcome struct {
	Line   int
	UserID string
	Result roster.ImportResult
	Err    error
}

// ImportUsers applies a batch of lines in order, each line in full or not at all, and reports
// every line. It upserts by external ID, then by email, with the rules of the API (the
// directory's validation, attribute definitions, role names, limits). The error is for the
// whole batch (the database went away): then no line of the batch was applied.
func (s *Service) ImportUsers(ctx context.Context, env roster.Environment, lines []ImportLine) ([]ImportOutcome, error) {
	panic("not implemented yet")
}

// ExportUsers calls fn with the users of the environment, or of one organization when
// organizationID is set, in ID order and a batch at a time, all read as of one point in time
// (one read transaction). An error from fn stops the export and is returned.
func (s *Service) ExportUsers(ctx context.Context, env roster.Environment, organizationID string, fn func([]roster.User) error) error {
	panic("not implemented yet")
}
