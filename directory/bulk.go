package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// ImportBatchMax bounds the lines of one ImportUsers call (one write transaction); the
// caller splits a file into batches. ExportBatchSize is how many users ExportUsers hands fn
// at a time.
const (
	ImportBatchMax  = 5000
	ExportBatchSize = 1000
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
	if len(lines) > ImportBatchMax {
		return nil, roster.Errorf(roster.EInvalid, "an import batch holds at most %d lines, got %d", ImportBatchMax, len(lines))
	}
	out := make([]ImportOutcome, len(lines))
	for i, l := range lines {
		out[i] = ImportOutcome{Line: l.Number}
		err := l.Err
		if err == nil {
			err = l.User.Validate()
		}
		if err != nil {
			out[i].Result, out[i].Err = roster.ImportFailed, err
		}
	}
	roles, err := s.importRoles(ctx, env, lines, out)
	if err != nil {
		return nil, err
	}
	var batch []store.ImportLine
	var at []int // the index in lines of each line of batch
	for i, l := range lines {
		if out[i].Err != nil {
			continue
		}
		sl := store.ImportLine{User: l.User, NewID: s.ids.New(roster.PrefixUser), Memberships: make([]store.ImportMembership, len(l.User.Memberships))}
		for j, m := range l.User.Memberships {
			res := &sl.Memberships[j]
			field := fmt.Sprintf("memberships[%d].roles", j)
			if m.Roles != nil {
				res.Roles = []roster.RoleRef{}
				var missing []string
				for _, name := range m.Roles {
					if r, ok := roles.named[orgRole{m.OrganizationID, name}]; ok {
						res.Roles = append(res.Roles, r)
					} else {
						missing = append(missing, name)
					}
				}
				if err := missingRoles(field, missing); err != nil {
					out[i].Result, out[i].Err = roster.ImportFailed, err
					break
				}
			}
			if len(m.Roles) == 0 {
				if r, ok := roles.defaults[m.OrganizationID]; ok {
					res.DefaultRoles = []roster.RoleRef{r}
				} else {
					res.DefaultErr = missingRoles(field, []string{roles.defaultName})
				}
			}
		}
		if out[i].Err != nil {
			continue
		}
		batch = append(batch, sl)
		at = append(at, i)
	}
	if len(batch) > 0 {
		done, err := s.store.ImportUsers(ctx, env.ID, s.now(), batch)
		if err != nil {
			return nil, err
		}
		for k, o := range done {
			i := at[k]
			out[i].UserID, out[i].Result, out[i].Err = o.UserID, o.Result, lineFields(o.Err)
		}
	}
	return out, nil
}

type orgRole struct{ organizationID, name string }

// importRoles is the role names of a batch resolved once per organization, and the default
// member role of each organization whose new memberships may need it.
type importRoles struct {
	named       map[orgRole]roster.RoleRef
	defaults    map[string]roster.RoleRef
	defaultName string
}

func (s *Service) importRoles(ctx context.Context, env roster.Environment, lines []ImportLine, out []ImportOutcome) (importRoles, error) {
	r := importRoles{named: map[orgRole]roster.RoleRef{}, defaults: map[string]roster.RoleRef{}}
	names := map[string][]string{} // by organization, each name once
	listed := map[orgRole]bool{}
	needDefault := map[string]bool{}
	var orgs []string
	for i, l := range lines {
		if out[i].Err != nil {
			continue
		}
		for _, m := range l.User.Memberships {
			if _, ok := names[m.OrganizationID]; !ok {
				names[m.OrganizationID] = nil
				orgs = append(orgs, m.OrganizationID)
			}
			for _, n := range m.Roles {
				if k := (orgRole{m.OrganizationID, n}); !listed[k] {
					listed[k] = true
					names[m.OrganizationID] = append(names[m.OrganizationID], n)
				}
			}
			if len(m.Roles) == 0 {
				needDefault[m.OrganizationID] = true
			}
		}
	}
	for _, org := range orgs {
		if len(names[org]) > 0 {
			found, _, err := s.store.ResolveRoles(ctx, env.ID, org, names[org])
			if err != nil {
				return r, err
			}
			for _, role := range found {
				r.named[orgRole{org, role.Name}] = role
			}
		}
		if needDefault[org] {
			role, name, ok, err := s.store.ResolveDefaultMemberRole(ctx, env.ID, org)
			if err != nil {
				return r, err
			}
			r.defaultName = name
			if ok {
				r.defaults[org] = role
			}
		}
	}
	return r, nil
}

// lineFields renames the fields of an error that the store's shared code names as the API's
// requests do ("user.email") to the line's own ("email").
func lineFields(err error) error {
	var e *roster.Error
	if err == nil || !errors.As(err, &e) || len(e.Violations) == 0 {
		return err
	}
	v := make(roster.Violations, len(e.Violations))
	for i, fv := range e.Violations {
		fv.Field = strings.TrimPrefix(fv.Field, "user.")
		v[i] = fv
	}
	if e.Code == roster.EInvalid {
		return v.Err()
	}
	return &roster.Error{Code: e.Code, Message: e.Message, Violations: v}
}

// ExportUsers calls fn with the users of the environment, or of one organization when
// organizationID is set, in ID order and a batch at a time, all read as of one point in time
// (one read transaction). An error from fn stops the export and is returned.
func (s *Service) ExportUsers(ctx context.Context, env roster.Environment, organizationID string, fn func([]roster.User) error) error {
	return s.store.ExportUsers(ctx, env.ID, organizationID, ExportBatchSize, fn)
}
