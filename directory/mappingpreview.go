package directory

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"time"

	"github.com/rosterhq/roster"
)

// MappedSignIn is what a sign-in through a connection makes of a provider's answer, without
// storing anything: the dashboard's mapping preview and test sign-in (docs/dashboard.md,
// "Mapping preview and test sign-in").
type MappedSignIn struct {
	Subject       string `json:"subject"`
	Email         string `json:"email"`
	EmailVerified *bool  `json:"email_verified,omitempty"`
	// Profile is the profile a user created by this sign-in gets (roster.ApplyLogin on a new
	// user's empty profile, as SignIn does).
	Profile roster.Profile `json:"profile"`
	// Role is the role a group-to-role mapping gives ("" : none matched).
	Role string `json:"role,omitempty"`
	// Skipped lists the fields whose values break a profile rule and would not be stored.
	Skipped []string `json:"skipped,omitempty"`
	// Refusal is the message with which the sign-in would be refused for want of an email
	// address ("" : it would go on).
	Refusal string `json:"refusal,omitempty"`
	// Claims are the raw claims, capped as they are stored (roster.CapRawClaims).
	Claims json.RawMessage `json:"claims"`
}

// MapSignIn is SignIn's mapping step alone: the connection's mapping applied to a provider's
// verified claims (mapClaims, the code SignIn runs) and the profile a new user would get.
// Nothing is stored.
func (s *Service) MapSignIn(ctx context.Context, env roster.Environment, c roster.Connection, subject string, claims map[string]any) (MappedSignIn, error) {
	defs, err := s.attributeDefs(ctx, env)
	if err != nil {
		return MappedSignIn{}, err
	}
	out := MappedSignIn{Subject: subject, Claims: json.RawMessage(roster.CapRawClaims(claims))}
	pp, err := mapClaims(c, defs, subject, claims)
	if roster.ErrorCode(err) == roster.EFailedPrecondition {
		out.Refusal = roster.ErrorMessage(err)
	} else if err != nil {
		return MappedSignIn{}, err
	}
	out.Email, out.EmailVerified, out.Role = pp.Email, pp.EmailVerified, pp.Role
	if len(out.Email) > roster.EmailMax {
		out.Email = out.Email[:roster.EmailMax]
	}
	out.Profile = newUserProfile()
	out.Skipped = roster.ApplyLogin(&out.Profile, pp, defs)
	return out, nil
}

// MappingPreview is an edited mapping applied to a connection's latest sign-in.
type MappingPreview struct {
	Found     bool // false: nobody has signed in through the connection yet
	LastLogin time.Time
	Mapped    MappedSignIn
}

// PreviewMapping checks an edited attribute mapping as UpdateConnection would (the same
// messages, on connection.attribute_mapping.<key>), and applies it to the raw claims of the
// connection's latest sign-in (one identity, latest last_login_time) through the code every
// sign-in runs. Nothing is saved. The claims are those stored, capped at roster.RawClaimsMax:
// a claim dropped from them is missing from the preview too.
func (s *Service) PreviewMapping(ctx context.Context, env roster.Environment, organizationID, id string, mapping map[string]string) (MappingPreview, error) {
	c, err := s.GetConnection(ctx, env, organizationID, id)
	if err != nil {
		return MappingPreview{}, err
	}
	if mapping == nil {
		mapping = map[string]string{}
	}
	defs, err := s.attributeDefs(ctx, env)
	if err != nil {
		return MappingPreview{}, err
	}
	roleExists := func(name string) bool {
		_, missing, err := s.store.ResolveRoles(ctx, env.ID, c.OrganizationID, []string{name})
		return err == nil && len(missing) == 0
	}
	if _, err := roster.ParseAttributeMapping(mapping, defs, roleExists); err != nil {
		return MappingPreview{}, err
	}
	last, err := s.latestSignIn(ctx, env, c)
	if roster.ErrorCode(err) == roster.ENotFound {
		return MappingPreview{}, nil
	} else if err != nil {
		return MappingPreview{}, err
	}
	claims := map[string]any{}
	if err := json.Unmarshal(last.RawClaims, &claims); err != nil {
		return MappingPreview{}, err
	}
	c.AttributeMapping = mapping
	m, err := s.MapSignIn(ctx, env, c, last.Subject, claims)
	if err != nil {
		return MappingPreview{}, err
	}
	return MappingPreview{Found: true, LastLogin: last.LastLoginTime, Mapped: m}, nil
}

// LatestSignIn returns the identity of a connection of an organization that signed in last
// (latest last_login_time, one row), with the raw claims of that sign-in (capped at
// roster.RawClaimsMax); NOT_FOUND when nobody has signed in through it.
func (s *Service) LatestSignIn(ctx context.Context, env roster.Environment, organizationID, id string) (roster.Identity, error) {
	c, err := s.GetConnection(ctx, env, organizationID, id)
	if err != nil {
		return roster.Identity{}, err
	}
	return s.latestSignIn(ctx, env, c)
}

func (s *Service) latestSignIn(ctx context.Context, env roster.Environment, c roster.Connection) (roster.Identity, error) {
	last, err := s.store.LatestIdentity(ctx, env.ID, c.ID)
	if roster.ErrorCode(err) == roster.ENotFound {
		return last, roster.Errorf(roster.ENotFound, "nobody has signed in through this connection yet")
	}
	return last, err
}

// SaveConnectionTest stores the result of an operator's test sign-in through a connection:
// the mapped answer, or the error the application would have got. It returns the result's
// ID, readable by that operator only (ConnectionTestResult) for roster.ConnectionTestLifetime.
func (s *Service) SaveConnectionTest(ctx context.Context, env roster.Environment, c roster.Connection, operatorID string, m *MappedSignIn, failure string) (string, error) {
	now := s.now()
	t := roster.ConnectionTest{ID: "ctest_" + rand.Text(), EnvironmentID: env.ID, OrganizationID: c.OrganizationID, ConnectionID: c.ID,
		OperatorID: operatorID, Result: []byte("{}"), Error: failure, CreateTime: now, ExpireTime: now.Add(roster.ConnectionTestLifetime)}
	if len(t.Error) > 1024 {
		t.Error = t.Error[:1024]
	}
	if m != nil {
		b, err := json.Marshal(m)
		if err != nil {
			return "", err
		}
		if len(b) > roster.ConnectionTestMax {
			// The claims are capped; what is left to grow is the mapped profile (groups).
			t.Error = "the identity provider's answer is too large to show"
		} else {
			t.Result = b
		}
	}
	return t.ID, s.store.CreateConnectionTest(ctx, t)
}

// ConnectionTestResult returns a test sign-in's result to the operator who started it;
// another operator, another organization or connection, or an expired result is NOT_FOUND.
func (s *Service) ConnectionTestResult(ctx context.Context, env roster.Environment, organizationID, connectionID, id, operatorID string) (roster.ConnectionTest, *MappedSignIn, error) {
	notFound := roster.Errorf(roster.ENotFound, "this test sign-in is unknown or expired (results are kept %v); run the test again", roster.ConnectionTestLifetime)
	if id == "" || len(id) > 64 {
		return roster.ConnectionTest{}, nil, notFound
	}
	t, err := s.store.GetConnectionTest(ctx, env.ID, id, s.now())
	if roster.ErrorCode(err) == roster.ENotFound {
		return t, nil, notFound
	} else if err != nil {
		return t, nil, err
	}
	if t.OperatorID != operatorID || t.OrganizationID != organizationID || t.ConnectionID != connectionID {
		return roster.ConnectionTest{}, nil, notFound
	}
	if t.Error != "" {
		return t, nil, nil
	}
	var m MappedSignIn
	if err := json.Unmarshal(t.Result, &m); err != nil {
		return t, nil, err
	}
	return t, &m, nil
}
