package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// usedCodeRetention keeps used and expired codes long enough to recognise a replay.
const usedCodeRetention = time.Hour

const loginRequestColumns = `id, environment_id, flavor, client_id, redirect_uri, state, nonce, scope, code_challenge,
	connection_id, upstream_nonce, upstream_verifier, create_time, expire_time`

// CreateLoginRequest stores a sign-in in progress and forgets expired ones and old codes.
func (s *Store) CreateLoginRequest(ctx context.Context, r roster.LoginRequest) error {
	return s.inOtherTx(ctx, func(tx txConn) error {
		now := micros(r.CreateTime)
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_requests WHERE expire_time < $1`, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM auth_codes WHERE expire_time < $1`, now-usedCodeRetention.Microseconds()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO login_requests (`+loginRequestColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			r.ID, r.EnvironmentID, string(r.Flavor), r.ClientID, r.RedirectURI, r.State, r.Nonce, r.Scope, r.CodeChallenge,
			r.ConnectionID, r.UpstreamNonce, r.UpstreamVerifier, micros(r.CreateTime), micros(r.ExpireTime))
		return err
	})
}

// TakeLoginRequest returns a sign-in in progress and deletes it.
func (s *Store) TakeLoginRequest(ctx context.Context, id string) (roster.LoginRequest, error) {
	var r roster.LoginRequest
	err := s.inOtherTx(ctx, func(tx txConn) error {
		var flavor string
		var created, expires int64
		err := tx.QueryRowContext(ctx, `SELECT `+loginRequestColumns+` FROM login_requests WHERE id = $1`+s.dialect.RowLock(), id).Scan(
			&r.ID, &r.EnvironmentID, &flavor, &r.ClientID, &r.RedirectURI, &r.State, &r.Nonce, &r.Scope, &r.CodeChallenge,
			&r.ConnectionID, &r.UpstreamNonce, &r.UpstreamVerifier, &created, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("sign-in")
		} else if err != nil {
			return err
		}
		r.Flavor, r.CreateTime, r.ExpireTime = roster.LoginFlavor(flavor), fromMicros(created), fromMicros(expires)
		res, err := tx.ExecContext(ctx, `DELETE FROM login_requests WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 { // another node took it first
			return notFound("sign-in")
		}
		return nil
	})
	return r, err
}

// SignIn stores a sign-in's user, membership, identity and code in one transaction.
func (s *Store) SignIn(ctx context.Context, in store.SignIn) (roster.User, error) {
	var out roster.User
	env := in.Connection.EnvironmentID
	err := s.inUserTx(ctx, func(tx txConn, touch func(string)) error {
		// Lock order: the organization, the connection, then the user.
		org, err := s.lockOrganization(ctx, tx, env, in.Connection.OrganizationID)
		if err != nil {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM connections WHERE id = $1`+s.dialect.ShareLock(), in.Connection.ID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("connection")
		} else if err != nil {
			return err
		}
		var userID string
		err = tx.QueryRowContext(ctx, `SELECT user_id FROM identities WHERE connection_id = $1 AND subject = $2`,
			in.Connection.ID, in.Identity.Subject).Scan(&userID)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		knownIdentity := err == nil
		if !knownIdentity {
			// The linking rule decides here, in the transaction that links, so that what it
			// read (the domain's organization) is what the link is made on.
			facts := roster.LinkFacts{SourceOrganizationID: in.Connection.OrganizationID, Email: in.Email, EmailVerified: in.EmailVerified}
			if facts.DomainOrganizationID, err = domainOrganization(ctx, tx, env, roster.EmailDomain(in.Email)); err != nil {
				return err
			}
			if err := roster.CheckLink(facts); err != nil {
				return roster.WithReason(err, roster.LoginFailedLinkRefused)
			}
			// A person already in the directory (created through the API, or signed in through
			// another connection) is the same user when the email matches.
			err = tx.QueryRowContext(ctx, `SELECT id FROM users WHERE environment_id = $1 AND email_key = $2`, env, roster.EmailKey(in.Email)).Scan(&userID)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		defs := s.lazyDefs(ctx, tx, env)
		var u roster.User
		isNew := userID == ""
		if isNew {
			if in.Membership == nil {
				return notMember()
			}
			now := in.Identity.LastLoginTime
			u = roster.User{ID: in.NewUserID, EnvironmentID: env, Email: in.Email, Metadata: map[string]string{}, CreateTime: now, UpdateTime: now,
				Profile: roster.Profile{Metadata: map[string]string{}, CustomAttributes: map[string]string{}, Groups: []string{}}}
		} else {
			if u, err = s.fullUser(ctx, tx, env, roster.UserRef{ID: userID}, s.dialect.RowLock()); err != nil {
				return err
			}
		}
		touch(u.ID)
		beforeUser := u.Clone() // for the events: what the sign-in changed
		st := store.SignInState{IsNew: isNew, MayChangeProfile: true}
		if !isNew {
			owner, err := profileOwner(ctx, tx, u.ID)
			if err != nil {
				return err
			}
			st.MayChangeProfile = roster.MayChangeProfile(in.Connection.OrganizationID, owner)
		}
		before := u.Clone().Profile
		if err := in.Update(&u, st, defs); err != nil {
			return err
		}
		if !st.MayChangeProfile {
			u.Profile = before // another organization's source owns it
		}
		ssoWriter := roster.Writer{Source: roster.SourceSSO, ID: in.Connection.ID}
		if isNew {
			if err := s.insertUserRecorded(ctx, tx, u, ssoWriter, in.Identity.LastLoginTime); err != nil {
				return err
			}
			u.Memberships = []roster.Membership{}
		} else if err := s.updateUserRowRecorded(ctx, tx, &roster.User{Email: u.Email, Profile: before}, u, defs, ssoWriter, in.Identity.LastLoginTime); err != nil {
			return err
		}
		if isNew || !maps.Equal(before.CustomAttributes, u.Profile.CustomAttributes) {
			d, err := defs()
			if err != nil {
				return err
			}
			if err := s.writeAttributes(ctx, tx, u, d); err != nil {
				return err
			}
		}
		if i := membershipIndex(u, in.Connection.OrganizationID); i < 0 {
			if in.Membership == nil {
				return notMember()
			}
			m := *in.Membership
			m.UserID = u.ID
			if err := s.insertMembership(ctx, tx, env, org, &m); err != nil {
				return err
			}
		} else if u.Memberships[i].Status == roster.MembershipInactive {
			// a suspended member (SCIM active: false) does not sign in to the organization
			return &roster.Error{Code: roster.EPermissionDenied, Message: "this user's membership of the organization is suspended",
				Reason: roster.LoginFailedMemberSuspended}
		} else if in.Roles != nil {
			m := u.Memberships[i]
			m.Roles = in.Roles
			if err := s.writeMembershipRoles(ctx, tx, &m); err != nil {
				return err
			}
		}
		id := in.Identity
		id.UserID, id.EnvironmentID, id.ConnectionID = u.ID, env, in.Connection.ID
		if knownIdentity {
			_, err = tx.ExecContext(ctx, `UPDATE identities SET raw_claims = $1, last_login_time = $2 WHERE connection_id = $3 AND subject = $4`,
				string(id.RawClaims), micros(id.LastLoginTime), id.ConnectionID, id.Subject)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO identities (connection_id, subject, user_id, environment_id, conn_type, provider, raw_claims,
				create_time, last_login_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				id.ConnectionID, id.Subject, id.UserID, env, string(in.Connection.Type), in.Connection.Provider, string(id.RawClaims),
				micros(id.CreateTime), micros(id.LastLoginTime))
		}
		if err != nil {
			return s.conflict(err, func(string) string { return id.Subject })
		}
		c := in.Code
		c.UserID = u.ID
		if _, err := tx.ExecContext(ctx, `INSERT INTO auth_codes (hash, environment_id, client_id, redirect_uri, user_id, organization_id,
			connection_id, flavor, nonce, scope, code_challenge, profile, create_time, expire_time)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			c.Hash, env, c.ClientID, c.RedirectURI, c.UserID, c.OrganizationID, c.ConnectionID, string(c.Flavor), c.Nonce, c.Scope,
			c.CodeChallenge, string(c.Profile), micros(c.CreateTime), micros(c.ExpireTime)); err != nil {
			return err
		}
		if out, err = s.fullUser(ctx, tx, env, roster.UserRef{ID: u.ID}, ""); err != nil {
			return err
		}
		return s.recordEvents(ctx, tx, loginEvents(in.Connection, org.name, isNew, beforeUser, out, in.Identity.LastLoginTime)...)
	})
	return out, err
}

// notMember refuses a sign-in of a user who is not a member, where the connection does not
// provision users.
func notMember() error {
	return &roster.Error{Code: roster.EPermissionDenied, Reason: roster.LoginFailedNotMember,
		Message: "this user is not a member of the organization, and the connection does not provision users"}
}

// domainOrganization returns the organization that holds a domain in an environment, or "".
func domainOrganization(ctx context.Context, tx txConn, env, domain string) (string, error) {
	if domain == "" {
		return "", nil
	}
	var org string
	err := tx.QueryRowContext(ctx, `SELECT organization_id FROM domains WHERE environment_id = $1 AND name = $2`, env, domain).Scan(&org)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return org, err
}

// profileOwner returns the organization that owns a user's profile fields: the one whose
// source brought the user in, that is the connection or directory of the user's oldest
// identity (an SSO identity or a directory user; "" when the user holds none, as a user
// created through the API). Deleting that connection or directory deletes its identities and
// so hands the profile on.
func profileOwner(ctx context.Context, tx txConn, userID string) (string, error) {
	var org string
	err := tx.QueryRowContext(ctx, `SELECT org FROM (
		SELECT c.organization_id AS org, i.create_time AS t, i.connection_id AS k FROM identities i JOIN connections c ON c.id = i.connection_id
			WHERE i.user_id = $1
		UNION ALL
		SELECT d.organization_id AS org, u.create_time AS t, u.directory_id AS k FROM directory_users u JOIN directories d ON d.id = u.directory_id
			WHERE u.user_id = $1) owners
		ORDER BY t, k LIMIT 1`, userID).Scan(&org)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return org, err
}

const authCodeColumns = `hash, environment_id, client_id, redirect_uri, user_id, organization_id, connection_id, flavor, nonce, scope,
	code_challenge, profile, create_time, expire_time, use_time`

// RedeemAuthCode marks a code used, once.
func (s *Store) RedeemAuthCode(ctx context.Context, hash string, now time.Time) (roster.AuthCode, error) {
	var c roster.AuthCode
	replayed := false
	err := s.inOtherTx(ctx, func(tx txConn) error {
		var flavor, profile string
		var created, expires int64
		var used sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT `+authCodeColumns+` FROM auth_codes WHERE hash = $1`+s.dialect.RowLock(), hash).Scan(
			&c.Hash, &c.EnvironmentID, &c.ClientID, &c.RedirectURI, &c.UserID, &c.OrganizationID, &c.ConnectionID, &flavor, &c.Nonce,
			&c.Scope, &c.CodeChallenge, &profile, &created, &expires, &used)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("authorization code")
		} else if err != nil {
			return err
		}
		c.Flavor, c.Profile, c.CreateTime, c.ExpireTime = roster.LoginFlavor(flavor), []byte(profile), fromMicros(created), fromMicros(expires)
		if used.Valid {
			// A replayed code: whoever holds it may have stolen it, so the tokens it gave out stop
			// working too (RFC 6749 section 4.1.2).
			replayed = true
			_, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoke_time = $1 WHERE code_hash = $2 AND revoke_time IS NULL`, micros(now), hash)
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE auth_codes SET use_time = $1 WHERE hash = $2`, micros(now), hash)
		return err
	})
	if err == nil && replayed {
		// The revocation above must commit, so the refusal is returned after the transaction.
		return c, roster.Errorf(roster.EFailedPrecondition, "the authorization code was already used")
	}
	return c, err
}

const refreshColumns = `hash, environment_id, client_id, user_id, organization_id, connection_id, scope, code_hash, create_time, expire_time, revoke_time`

// CreateRefreshToken stores a refresh token.
func (s *Store) CreateRefreshToken(ctx context.Context, t roster.RefreshToken) error {
	return s.inOtherTx(ctx, func(tx txConn) error { return insertRefresh(ctx, tx, t) })
}

func insertRefresh(ctx context.Context, tx txConn, t roster.RefreshToken) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (`+refreshColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		t.Hash, t.EnvironmentID, t.ClientID, t.UserID, t.OrganizationID, t.ConnectionID, t.Scope, t.CodeHash,
		micros(t.CreateTime), micros(t.ExpireTime), nullMicros(t.RevokeTime))
	return err
}

// RotateRefreshToken replaces a valid refresh token with next.
func (s *Store) RotateRefreshToken(ctx context.Context, hash string, next roster.RefreshToken, now time.Time) (roster.RefreshToken, error) {
	var t roster.RefreshToken
	replayed := false
	err := s.inOtherTx(ctx, func(tx txConn) error {
		var created, expires int64
		var revoked sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens WHERE hash = $1`+s.dialect.RowLock(), hash).Scan(
			&t.Hash, &t.EnvironmentID, &t.ClientID, &t.UserID, &t.OrganizationID, &t.ConnectionID, &t.Scope, &t.CodeHash,
			&created, &expires, &revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("refresh token")
		} else if err != nil {
			return err
		}
		t.CreateTime, t.ExpireTime, t.RevokeTime = fromMicros(created), fromMicros(expires), timePtr(revoked)
		if t.RevokeTime != nil {
			// A rotated token presented again: its family is compromised.
			replayed = true
			_, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoke_time = $1 WHERE code_hash = $2 AND revoke_time IS NULL`, micros(now), t.CodeHash)
			return err
		}
		if !now.Before(t.ExpireTime) {
			return roster.Errorf(roster.EFailedPrecondition, "the refresh token has expired")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoke_time = $1 WHERE hash = $2`, micros(now), hash); err != nil {
			return err
		}
		// The successor carries on the same sign-in.
		next.EnvironmentID, next.ClientID, next.UserID, next.OrganizationID = t.EnvironmentID, t.ClientID, t.UserID, t.OrganizationID
		next.ConnectionID, next.Scope, next.CodeHash = t.ConnectionID, t.Scope, t.CodeHash
		return insertRefresh(ctx, tx, next)
	})
	if err == nil && replayed {
		return t, roster.Errorf(roster.EFailedPrecondition, "the refresh token was already used")
	}
	return t, err
}

// ListIdentities returns a user's identities.
func (s *Store) ListIdentities(ctx context.Context, userID string) ([]roster.Identity, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT connection_id, subject, user_id, environment_id, conn_type, provider, raw_claims,
		create_time, last_login_time FROM identities WHERE user_id = $1 ORDER BY create_time, connection_id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []roster.Identity{}
	for rows.Next() {
		var id roster.Identity
		var typ, raw string
		var created, login int64
		if err := rows.Scan(&id.ConnectionID, &id.Subject, &id.UserID, &id.EnvironmentID, &typ, &id.Provider, &raw, &created, &login); err != nil {
			return nil, err
		}
		id.ConnectionType, id.RawClaims, id.CreateTime, id.LastLoginTime = roster.ConnectionType(typ), []byte(raw), fromMicros(created), fromMicros(login)
		out = append(out, id)
	}
	return out, rows.Err()
}

// GetSAMLKey returns an environment's SAML service-provider key.
func (s *Store) GetSAMLKey(ctx context.Context, environmentID string) (roster.SAMLKey, error) {
	k := roster.SAMLKey{EnvironmentID: environmentID}
	var created int64
	err := s.read.QueryRowContext(ctx, `SELECT private_key_sealed, certificate, create_time FROM saml_sp_keys WHERE environment_id = $1`,
		environmentID).Scan(&k.PrivateKeySealed, &k.Certificate, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return k, notFound("SAML key")
	}
	k.CreateTime = fromMicros(created)
	return k, err
}

// CreateSAMLKey stores an environment's SAML key, once.
func (s *Store) CreateSAMLKey(ctx context.Context, k roster.SAMLKey) error {
	_, err := s.writeOther.ExecContext(ctx, `INSERT INTO saml_sp_keys (environment_id, private_key_sealed, certificate, create_time) VALUES ($1, $2, $3, $4)`,
		k.EnvironmentID, k.PrivateKeySealed, k.Certificate, micros(k.CreateTime))
	if _, ok := s.dialect.UniqueViolation(err); ok {
		return roster.Errorf(roster.EConflict, "the environment has a SAML key")
	}
	return err
}

// RememberAssertion records an assertion ID; the primary key refuses a second use, also
// between nodes.
func (s *Store) RememberAssertion(ctx context.Context, connectionID, assertionID string, expire, now time.Time) error {
	return s.inOtherTx(ctx, func(tx txConn) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM saml_assertions WHERE expire_time < $1`, micros(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO saml_assertions (connection_id, assertion_id, expire_time) VALUES ($1, $2, $3)`,
			connectionID, assertionID, micros(expire))
		if _, ok := s.dialect.UniqueViolation(err); ok {
			return roster.Errorf(roster.EConflict, "this SAML assertion was already used")
		}
		return err
	})
}

// LatestIdentity returns the identity of a connection that signed in last: one row, by the
// index on (connection_id, last_login_time).
func (s *Store) LatestIdentity(ctx context.Context, environmentID, connectionID string) (roster.Identity, error) {
	var id roster.Identity
	var typ, raw string
	var created, login int64
	err := s.read.QueryRowContext(ctx, `SELECT connection_id, subject, user_id, environment_id, conn_type, provider, raw_claims,
		create_time, last_login_time FROM identities WHERE connection_id = $1 AND environment_id = $2
		ORDER BY last_login_time DESC, subject DESC LIMIT 1`, connectionID, environmentID).Scan(
		&id.ConnectionID, &id.Subject, &id.UserID, &id.EnvironmentID, &typ, &id.Provider, &raw, &created, &login)
	if errors.Is(err, sql.ErrNoRows) {
		return id, notFound("identity")
	} else if err != nil {
		return id, err
	}
	id.ConnectionType, id.RawClaims, id.CreateTime, id.LastLoginTime = roster.ConnectionType(typ), []byte(raw), fromMicros(created), fromMicros(login)
	return id, nil
}

// CreateConnectionTest stores a test sign-in's result and forgets the expired ones.
func (s *Store) CreateConnectionTest(ctx context.Context, t roster.ConnectionTest) error {
	if len(t.Result) > roster.ConnectionTestMax || len(t.Error) > roster.ConnectionTestMax {
		return roster.Errorf(roster.EInvalid, "a test sign-in's result is at most %d bytes", roster.ConnectionTestMax)
	}
	return s.inOtherTx(ctx, func(tx txConn) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM connection_tests WHERE expire_time < $1`, micros(t.CreateTime)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO connection_tests (id, environment_id, organization_id, connection_id, operator_id,
			result, error, create_time, expire_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			t.ID, t.EnvironmentID, t.OrganizationID, t.ConnectionID, t.OperatorID, string(t.Result), t.Error, micros(t.CreateTime), micros(t.ExpireTime))
		return err
	})
}

// GetConnectionTest returns a test sign-in's result that has not expired.
func (s *Store) GetConnectionTest(ctx context.Context, environmentID, id string, now time.Time) (roster.ConnectionTest, error) {
	t := roster.ConnectionTest{ID: id}
	var result string
	var created, expires int64
	err := s.read.QueryRowContext(ctx, `SELECT environment_id, organization_id, connection_id, operator_id, result, error, create_time, expire_time
		FROM connection_tests WHERE id = $1 AND environment_id = $2 AND expire_time > $3`, id, environmentID, micros(now)).Scan(
		&t.EnvironmentID, &t.OrganizationID, &t.ConnectionID, &t.OperatorID, &result, &t.Error, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return t, notFound("test sign-in")
	} else if err != nil {
		return t, err
	}
	t.Result, t.CreateTime, t.ExpireTime = []byte(result), fromMicros(created), fromMicros(expires)
	return t, nil
}
