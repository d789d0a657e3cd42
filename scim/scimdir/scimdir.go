// Package scimdir joins the SCIM protocol package to the directory: it implements
// scim.Backend and scim.Directory on top of directory.Service, which applies Roster's rules
// (linking, memberships, roles from groups) and leaves the transactional work to the store.
// See docs/scim.md "What provisioning does to the directory".
package scimdir

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/scim"
	"github.com/rosterhq/roster/store"
)

// Backend opens the one directory named in the URL, by its token.
type Backend struct {
	Service     *directory.Service
	DirectoryID string
}

// Open checks the token against the directory of the URL: another directory's token, a
// disabled or deleted directory and a deleted organization are all ErrUnauthorized.
func (b Backend) Open(ctx context.Context, token string) (scim.Directory, error) {
	a, err := b.Service.AuthenticateDirectory(ctx, b.DirectoryID, token)
	if roster.ErrorCode(err) == roster.EUnauthenticated {
		return nil, scim.ErrUnauthorized
	}
	if err != nil {
		return nil, err
	}
	return &Directory{svc: b.Service, dir: a.Directory}, nil
}

// Directory is one opened directory.
type Directory struct {
	svc *directory.Service
	dir roster.Directory
}

// New returns the scim.Directory of d (for tests and tools that already hold the directory).
func New(svc *directory.Service, d roster.Directory) *Directory { return &Directory{svc: svc, dir: d} }

// scimError maps the directory's errors onto SCIM's.
func scimError(err error) error {
	if err == nil {
		return nil
	}
	var se *scim.Error
	if errors.As(err, &se) || errors.Is(err, scim.ErrPreconditionFailed) || errors.Is(err, scim.ErrNotFound) || errors.Is(err, scim.ErrUniqueness) {
		return err
	}
	switch roster.ErrorCode(err) {
	case roster.ENotFound:
		return scim.ErrNotFound
	case roster.EConflict, roster.EPermissionDenied:
		// a userName or email taken, or the linking rule refused (DESIGN: a SCIM write refused
		// by it is 409 uniqueness)
		return conflict{&scim.Error{Status: http.StatusConflict, ScimType: scim.TypeUniqueness, Detail: roster.ErrorMessage(err)}}
	case roster.EInvalid, roster.EFailedPrecondition:
		return &scim.Error{Status: http.StatusBadRequest, ScimType: scim.TypeInvalidValue, Detail: roster.ErrorMessage(err)}
	case roster.EUnavailable:
		// the database gave no lock in time, or kept aborting the write: nothing was written,
		// and the IdP's retry of a 503 may succeed (a 500 says the request itself broke us)
		return &scim.Error{Status: http.StatusServiceUnavailable, Detail: roster.ErrorMessage(err)}
	}
	return err
}

// conflict is a 409 uniqueness with its detail that is also scim.ErrUniqueness.
type conflict struct{ e *scim.Error }

func (c conflict) Error() string        { return c.e.Error() }
func (c conflict) Is(target error) bool { return target == scim.ErrUniqueness }
func (c conflict) As(target any) bool {
	if p, ok := target.(**scim.Error); ok {
		*p = c.e
		return true
	}
	return false
}

func version(u interface{ UnixMicro() int64 }) string { return strconv.FormatInt(u.UnixMicro(), 36) }

func userResource(u roster.DirectoryUser) (*scim.Resource, error) {
	attrs := map[string]any{}
	if len(u.Raw) > 0 {
		if err := json.Unmarshal(u.Raw, &attrs); err != nil {
			return nil, err
		}
	}
	return &scim.Resource{ID: u.ID, Attributes: attrs, Created: u.CreateTime, LastModified: u.UpdateTime, Version: version(u.UpdateTime)}, nil
}

func groupResource(g roster.DirectoryGroup) (*scim.Resource, error) {
	attrs := map[string]any{}
	if len(g.Raw) > 0 {
		if err := json.Unmarshal(g.Raw, &attrs); err != nil {
			return nil, err
		}
	}
	return &scim.Resource{ID: g.ID, Attributes: attrs, Created: g.CreateTime, LastModified: g.UpdateTime, Version: version(g.UpdateTime)}, nil
}

// rawPage is a list page of rows: each resource its stored raw JSON only, which the handler
// writes into the answer as it is unless a projection or a filter needs the attributes (then
// it decodes them). See scim.Resource.Raw and docs/scim.md "What a list page costs (writing
// the answer)". The page's resources are allocated together.
func rawPage(rows []store.DirectoryResource, total int) scim.Page {
	page := scim.Page{TotalResults: total, Resources: make([]*scim.Resource, len(rows))}
	res := make([]scim.Resource, len(rows))
	for i, r := range rows {
		raw := r.Raw
		if len(raw) == 0 {
			raw = []byte("{}")
		}
		res[i] = scim.Resource{ID: r.ID, Raw: raw, Created: r.CreateTime, LastModified: r.UpdateTime, Version: version(r.UpdateTime)}
		page.Resources[i] = &res[i]
	}
	return page
}

// withRaw is a resource read alone (GET /Users/{id}): its attributes, for the Backend's
// contract, and its raw JSON, which the handler writes as it is.
func withRaw(r *scim.Resource, raw []byte) *scim.Resource {
	if len(raw) > 0 {
		r.Raw = raw
	}
	return r
}

// fillUser sets a row's indexed and normalized fields and its raw resource from r, and
// remembers in known (when given) the attributes it encoded, for the profile function.
func fillUser(row *roster.DirectoryUser, r *scim.Resource, known *encoded) error {
	raw, err := json.Marshal(r.Attributes)
	if err != nil {
		return err
	}
	row.Raw = raw
	row.UserName, row.ExternalID, row.DisplayName, row.Active = r.UserName(), r.ExternalID(), r.DisplayName(), r.Active()
	row.Emails = r.Emails()
	row.Email = rowEmail(r)
	row.PreferredUsername = r.UserName()
	row.GivenName, _ = lookup(r.Attributes, "name.givenName")
	row.FamilyName, _ = lookup(r.Attributes, "name.familyName")
	if known != nil {
		known.raw, known.attrs = raw, r.Attributes
	}
	return nil
}

// encoded is a write's attributes and the raw JSON they were encoded to: the profile function
// reads them instead of decoding the row's raw JSON again, when the row holds that very JSON
// (Normalize only reads them).
type encoded struct {
	raw   []byte
	attrs map[string]any
}

func (e *encoded) of(raw []byte) map[string]any {
	if e == nil || e.attrs == nil || !bytes.Equal(e.raw, raw) {
		return nil
	}
	return e.attrs
}

// rowEmail is the Roster email of a SCIM user: its primary (else first) email, else its
// userName when that is an email address.
func rowEmail(r *scim.Resource) string {
	if es := r.Emails(); len(es) > 0 {
		return es[0]
	}
	if roster.IsEmailAddress(r.UserName()) {
		return r.UserName()
	}
	return ""
}

func fillGroup(g *roster.DirectoryGroup, r *scim.Resource) error {
	raw, err := json.Marshal(r.Attributes)
	if err != nil {
		return err
	}
	g.Raw, g.DisplayName, g.ExternalID = raw, r.DisplayName(), r.ExternalID()
	return nil
}

// ProfileFunc writes a SCIM user of dir onto its Roster user's profile: the standard
// attributes with no mapping, then the directory's mapping (which may also override a standard
// field). A SCIM write (with the directory as read in its transaction) and the re-application
// of a changed mapping (directory.Service.ReapplyDirectoryMapping) both run it.
func ProfileFunc(dir roster.Directory) func(u *roster.User, row roster.DirectoryUser, st store.SignInState, defs store.AttributeDefs) error {
	return profileFunc(dir, nil)
}

// profileFunc is ProfileFunc, given what the write encoded (known may be nil).
func profileFunc(dir roster.Directory, known *encoded) func(u *roster.User, row roster.DirectoryUser, st store.SignInState, defs store.AttributeDefs) error {
	return func(u *roster.User, row roster.DirectoryUser, st store.SignInState, defs store.AttributeDefs) error {
		attrs := known.of(row.Raw)
		if attrs == nil {
			if err := json.Unmarshal(row.Raw, &attrs); err != nil {
				return err
			}
		}
		pp := Normalize(attrs, dir.Mappings)
		var defMap map[string]roster.AttributeDefinition
		if len(pp.Custom) > 0 {
			var err error
			if defMap, err = defs(); err != nil {
				return err
			}
		}
		roster.ApplyLogin(&u.Profile, pp, defMap)
		return nil
	}
}

// profileOf gives the store the profile function of a write that encoded known.
func profileOf(known *encoded) func(roster.Directory) func(u *roster.User, row roster.DirectoryUser, st store.SignInState, defs store.AttributeDefs) error {
	return func(dir roster.Directory) func(u *roster.User, row roster.DirectoryUser, st store.SignInState, defs store.AttributeDefs) error {
		return profileFunc(dir, known)
	}
}

// Normalize reads a SCIM User's standard attributes and the mapped ones (docs/scim.md "Profile
// fields").
func Normalize(attrs map[string]any, mappings []roster.DirectoryMapping) roster.ProviderProfile {
	pp := roster.ProviderProfile{Standard: map[string]string{}, Custom: map[string]string{}}
	std := []struct{ field, path string }{
		{roster.FieldPreferredUsername, "userName"},
		{roster.FieldGivenName, "name.givenName"},
		{roster.FieldFamilyName, "name.familyName"},
		{roster.FieldName, "name.formatted"},
		{roster.FieldName, "displayName"},
		{roster.FieldPhoneNumber, "phoneNumbers"},
		{roster.FieldLocale, "locale"},
		{roster.FieldLocale, "preferredLanguage"},
		{roster.FieldPicture, "photos"},
	}
	for _, s := range std {
		if _, done := pp.Standard[s.field]; done {
			continue
		}
		if v, ok := lookup(attrs, s.path); ok && v != "" {
			pp.Standard[s.field] = v
		}
	}
	if l, ok := pp.Standard[roster.FieldLocale]; ok {
		pp.Standard[roster.FieldLocale] = strings.ReplaceAll(l, "_", "-") // en_US → en-US
	}
	for _, m := range mappings {
		v, ok := lookup(attrs, m.MapTo)
		if !ok || v == "" {
			continue
		}
		key := strings.TrimPrefix(m.Key, roster.CustomAttributePrefix)
		if isStandard(key) {
			pp.Standard[key] = v
		} else {
			pp.Custom[key] = v
		}
	}
	return pp
}

func isStandard(k string) bool {
	for _, f := range roster.StandardFields {
		if f == k {
			return true
		}
	}
	return false
}

// lookup reads a SCIM attribute path as a string: "title", "name.givenName", or an
// extension's "urn:…:User:costCenter" (also "urn:…:User:manager.value"). Names match
// case-insensitively; a multi-valued attribute gives its primary (else first) element's
// value; a complex one its "value"; numbers and booleans their JSON text.
func lookup(attrs map[string]any, path string) (string, bool) {
	var cur any = attrs
	if strings.HasPrefix(strings.ToLower(path), "urn:") {
		i := strings.LastIndex(path, ":")
		urn, rest := path[:i], path[i+1:]
		v, ok := getFold(attrs, urn)
		if !ok {
			return "", false
		}
		cur, path = v, rest
	}
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			if el, ok := element(cur); ok {
				m = el
			} else {
				return "", false
			}
		}
		if cur, ok = getFold(m, part); !ok {
			return "", false
		}
	}
	if el, ok := element(cur); ok {
		cur = el
	}
	if m, ok := cur.(map[string]any); ok {
		cur = m["value"]
	}
	switch v := cur.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case json.Number:
		return v.String(), true
	}
	return "", false
}

// element picks the primary (else first) element of a multi-valued attribute.
func element(v any) (map[string]any, bool) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, false
	}
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			if p, _ := m["primary"].(bool); p {
				return m, true
			}
		}
	}
	m, ok := list[0].(map[string]any)
	return m, ok
}

func getFold(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// CreateUser provisions a user (docs/scim.md): linked by email as the linking rule allows, or
// created, with an active (or suspended) membership of the organization.
func (d *Directory) CreateUser(ctx context.Context, attrs map[string]any) (*scim.Resource, error) {
	var row roster.DirectoryUser
	known := &encoded{}
	if err := fillUser(&row, &scim.Resource{Attributes: attrs}, known); err != nil {
		return nil, err
	}
	out, err := d.svc.WriteSCIMUser(ctx, d.dir, directory.SCIMUser{Create: &row, Email: email, ProfileOf: profileOf(known)})
	if err != nil {
		return nil, scimError(err)
	}
	return writtenUser(out, known)
}

// writtenUser is the answer of a write: its attributes as the write encoded them (no decode
// of the stored JSON) and that JSON, which the handler writes as it is.
func writtenUser(u roster.DirectoryUser, known *encoded) (*scim.Resource, error) {
	attrs := known.of(u.Raw)
	if attrs == nil {
		return userResource(u)
	}
	return &scim.Resource{ID: u.ID, Attributes: attrs, Raw: u.Raw, Created: u.CreateTime, LastModified: u.UpdateTime, Version: version(u.UpdateTime)}, nil
}

func email(row roster.DirectoryUser) string {
	if row.Email != "" && roster.IsEmailAddress(row.Email) {
		return row.Email
	}
	return ""
}

// GetUser reads a user.
func (d *Directory) GetUser(ctx context.Context, id string) (*scim.Resource, error) {
	u, err := d.svc.SCIMUser(ctx, d.dir, id)
	if err != nil {
		return nil, scimError(err)
	}
	r, err := userResource(u)
	if err != nil {
		return nil, err
	}
	return withRaw(r, u.Raw), nil
}

// UpdateUser applies update in the store's transaction and writes the user through again.
func (d *Directory) UpdateUser(ctx context.Context, id string, update func(*scim.Resource) (*scim.Resource, error)) (*scim.Resource, error) {
	known := &encoded{}
	out, err := d.svc.WriteSCIMUser(ctx, d.dir, directory.SCIMUser{ID: id, Email: email, ProfileOf: profileOf(known),
		Update: func(row *roster.DirectoryUser) error {
			cur, err := userResource(*row)
			if err != nil {
				return err
			}
			next, err := update(cur)
			if err != nil {
				return err
			}
			return fillUser(row, next, known)
		}})
	if err != nil {
		return nil, scimError(err)
	}
	return writtenUser(out, known)
}

// DeleteUser deprovisions a user.
func (d *Directory) DeleteUser(ctx context.Context, id string) error {
	return scimError(d.svc.DeleteSCIMUser(ctx, d.dir, id))
}

func storeCond(c *scim.Cond) *store.DirectoryCond {
	if c == nil {
		return nil
	}
	out := &store.DirectoryCond{Op: c.Op, Attr: c.Attr, Value: c.Value, CaseExact: c.CaseExact}
	for i := range c.Args {
		out.Args = append(out.Args, *storeCond(&c.Args[i]))
	}
	return out
}

// ListUsers runs a filter page.
func (d *Directory) ListUsers(ctx context.Context, q scim.ListQuery) (scim.Page, error) {
	rows, total, err := d.svc.QuerySCIMUsers(ctx, d.dir, storeCond(q.Filter), max(q.StartIndex, 1)-1, q.Count)
	if err != nil {
		return scim.Page{}, scimError(err)
	}
	return rawPage(rows, total), nil
}

func memberChange(c scim.MemberChange) store.DirectoryMemberChange {
	return store.DirectoryMemberChange{Add: c.Add, Remove: c.Remove, Replace: c.Replace}
}

// CreateGroup creates a group with its members.
func (d *Directory) CreateGroup(ctx context.Context, attrs map[string]any, members []string) (*scim.Resource, error) {
	var g roster.DirectoryGroup
	if err := fillGroup(&g, &scim.Resource{Attributes: attrs}); err != nil {
		return nil, err
	}
	out, err := d.svc.WriteSCIMGroup(ctx, d.dir, directory.SCIMGroup{Create: &g, Members: store.DirectoryMemberChange{Add: members}})
	if err != nil {
		return nil, scimError(err)
	}
	return groupResource(out)
}

// GetGroup reads a group.
func (d *Directory) GetGroup(ctx context.Context, id string) (*scim.Resource, error) {
	g, err := d.svc.SCIMGroup(ctx, d.dir, id)
	if err != nil {
		return nil, scimError(err)
	}
	r, err := groupResource(g)
	if err != nil {
		return nil, err
	}
	return withRaw(r, g.Raw), nil
}

// UpdateGroup applies update and its member change in one transaction.
func (d *Directory) UpdateGroup(ctx context.Context, id string, update func(*scim.Resource) (*scim.Resource, scim.MemberChange, error)) (*scim.Resource, error) {
	out, err := d.svc.WriteSCIMGroup(ctx, d.dir, directory.SCIMGroup{ID: id, Update: groupUpdate(update)})
	if err != nil {
		return nil, scimError(err)
	}
	return groupResource(out)
}

// groupUpdate is a SCIM group update as the directory's: on the group's resource, its member
// change as the store's.
func groupUpdate(update func(*scim.Resource) (*scim.Resource, scim.MemberChange, error)) func(*roster.DirectoryGroup) (store.DirectoryMemberChange, error) {
	return func(g *roster.DirectoryGroup) (store.DirectoryMemberChange, error) {
		cur, err := groupResource(*g)
		if err != nil {
			return store.DirectoryMemberChange{}, err
		}
		next, mc, err := update(cur)
		if err != nil {
			return store.DirectoryMemberChange{}, err
		}
		return memberChange(mc), fillGroup(g, next)
	}
}

// DeleteGroup deletes a group.
func (d *Directory) DeleteGroup(ctx context.Context, id string) error {
	return scimError(d.svc.DeleteSCIMGroup(ctx, d.dir, id))
}

// ListGroups runs a filter page.
func (d *Directory) ListGroups(ctx context.Context, q scim.ListQuery) (scim.Page, error) {
	rows, total, err := d.svc.QuerySCIMGroups(ctx, d.dir, storeCond(q.Filter), max(q.StartIndex, 1)-1, q.Count)
	if err != nil {
		return scim.Page{}, scimError(err)
	}
	return rawPage(rows, total), nil
}

// GroupMembers lists a group's members, users first.
func (d *Directory) GroupMembers(ctx context.Context, id string) ([]scim.Member, error) {
	users, groups, err := d.svc.SCIMGroupMembers(ctx, d.dir, id)
	if err != nil {
		return nil, scimError(err)
	}
	out := make([]scim.Member, 0, len(users)+len(groups))
	for _, u := range users {
		out = append(out, scim.Member{Value: u, Type: "User"})
	}
	for _, g := range groups {
		out = append(out, scim.Member{Value: g, Type: "Group"})
	}
	return out, nil
}
