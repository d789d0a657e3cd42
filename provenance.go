package roster

// Provenance (docs/provenance.md): which source last set each profile field and custom
// attribute of a user to its current value. A write records the fields whose values it
// changed; a write that leaves a value as it was leaves its record as it was.

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// Source is the kind of write that set a field.
type Source string

const (
	SourceAPI    Source = "API"    // CreateUserAndMembership, UpdateUser
	SourceSSO    Source = "SSO"    // a sign-in, from the identity provider's claims
	SourceSCIM   Source = "SCIM"   // a SCIM write, or a directory's mapping re-applied
	SourceImport Source = "IMPORT" // a bulk import
)

// Writer is who makes one write of a user: the kind of source and its ID (the connection,
// the directory, or the API client; "" when none is known).
type Writer struct {
	Source Source
	ID     string
}

// FieldSource is the write that set a field to its current value.
type FieldSource struct {
	Source     Source
	SourceID   string
	UpdateTime time.Time
}

// Provenance field names: the user's email and the profile's fields as in the user's JSON,
// the profile's metadata as one field, and each custom attribute under CustomFieldPrefix.
const (
	FieldGender              = "gender"
	FieldPhoneNumberVerified = "phone_number_verified"
	FieldMetadata            = "metadata"
	// CustomFieldPrefix names a custom attribute's field: "custom_attributes.<key>".
	CustomFieldPrefix = "custom_attributes."
	// FieldCreated is the record of the write that created the user: it stands for every
	// field that write gave a value and that no later write changed (one record per new
	// user instead of one per field).
	FieldCreated = "*"
)

// ProvenanceFields are the profile fields that provenance follows, in a fixed order.
var ProvenanceFields = []string{FieldEmail, FieldGivenName, FieldFamilyName, FieldName, FieldLocale, FieldPhoneNumber,
	FieldPreferredUsername, FieldPicture, FieldGender, FieldEmailVerified, FieldPhoneNumberVerified, FieldGroups, FieldMetadata}

// scalarFields are the values of the fields of ProvenanceFields but groups and metadata, in
// that order, as comparable strings.
func scalarFields(u *User) [11]string {
	b := func(v bool) string {
		if v {
			return "true"
		}
		return ""
	}
	p := &u.Profile
	return [11]string{u.Email, p.GivenName, p.FamilyName, p.Name, p.Locale, p.PhoneNumber, p.PreferredUsername, p.Picture,
		p.Gender, b(p.EmailVerified), b(p.PhoneNumberVerified)}
}

// ChangedFields returns the provenance fields whose values differ between before and after
// (ProvenanceFields order, then custom attributes by key), nil when none does. Maps and lists
// compare by content: nil equals empty.
func ChangedFields(before, after *User) []string {
	var out []string
	b, a := scalarFields(before), scalarFields(after)
	for i := range b {
		if b[i] != a[i] {
			out = append(out, ProvenanceFields[i])
		}
	}
	if !slices.Equal(before.Profile.Groups, after.Profile.Groups) {
		out = append(out, FieldGroups)
	}
	if !maps.Equal(before.Profile.Metadata, after.Profile.Metadata) {
		out = append(out, FieldMetadata)
	}
	bc, ac := before.Profile.CustomAttributes, after.Profile.CustomAttributes
	if maps.Equal(bc, ac) {
		return out
	}
	var keys []string
	for k, v := range ac {
		if old, ok := bc[k]; !ok || old != v {
			keys = append(keys, k)
		}
	}
	for k := range bc {
		if _, ok := ac[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, CustomFieldPrefix+k)
	}
	return out
}

// UserProvenance is where each of a user's values came from: by field (ProvenanceFields) and
// by custom attribute key. Fields that no recorded write set have no entry.
type UserProvenance struct {
	UserID           string
	Fields           map[string]FieldSource
	CustomAttributes map[string]FieldSource
}

// ResolveProvenance builds a user's provenance from its records (by field, FieldCreated
// among them): a field's own record, else, for a field that holds a value, the record of the
// user's creation (no write changed it since, or it would have a record of its own).
func ResolveProvenance(u User, records map[string]FieldSource) UserProvenance {
	out := UserProvenance{UserID: u.ID, Fields: map[string]FieldSource{}, CustomAttributes: map[string]FieldSource{}}
	created, hasCreated := records[FieldCreated]
	values := scalarFields(&u)
	for i, f := range ProvenanceFields {
		set := false
		switch f {
		case FieldGroups:
			set = len(u.Profile.Groups) > 0
		case FieldMetadata:
			set = len(u.Profile.Metadata) > 0
		default:
			set = values[i] != ""
		}
		if r, ok := records[f]; ok {
			out.Fields[f] = r
		} else if set && hasCreated {
			out.Fields[f] = created
		}
	}
	for f, r := range records {
		if k, ok := strings.CutPrefix(f, CustomFieldPrefix); ok {
			out.CustomAttributes[k] = r
		}
	}
	if hasCreated {
		for k := range u.Profile.CustomAttributes {
			if _, ok := out.CustomAttributes[k]; !ok {
				out.CustomAttributes[k] = created
			}
		}
	}
	return out
}

type apiClientKey struct{}

// WithClientID returns a context that names the API client whose call it serves: the writes
// made under it record that client as their source's ID (API and IMPORT writes).
func WithClientID(ctx context.Context, clientID string) context.Context {
	return context.WithValue(ctx, apiClientKey{}, clientID)
}

// ClientIDFrom returns the API client that WithClientID named, or "".
func ClientIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(apiClientKey{}).(string)
	return id
}
