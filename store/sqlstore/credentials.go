package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rosterhq/roster"
)

// CreateEnvironment stores a new environment; a second one with the same name conflicts.
func (s *Store) CreateEnvironment(ctx context.Context, env roster.Environment) error {
	_, err := s.writeOther.ExecContext(ctx,
		`INSERT INTO environments (id, name, cursor_key, create_time) VALUES ($1, $2, $3, $4)`,
		env.ID, env.Name, base64.StdEncoding.EncodeToString(env.CursorKey), micros(env.CreateTime))
	return s.conflict(err, func(string) string { return env.Name })
}

// ListEnvironments returns every environment, oldest first.
func (s *Store) ListEnvironments(ctx context.Context) ([]roster.Environment, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, name, cursor_key, create_time FROM environments ORDER BY create_time, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []roster.Environment
	for rows.Next() {
		env, err := scanEnvironment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, env)
	}
	return out, rows.Err()
}

// GetEnvironment returns one environment.
func (s *Store) GetEnvironment(ctx context.Context, id string) (roster.Environment, error) {
	env, err := scanEnvironment(s.read.QueryRowContext(ctx, `SELECT id, name, cursor_key, create_time FROM environments WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return env, notFound("environment")
	}
	return env, err
}

func scanEnvironment(row interface{ Scan(...any) error }) (roster.Environment, error) {
	var env roster.Environment
	var key string
	var created int64
	if err := row.Scan(&env.ID, &env.Name, &key, &created); err != nil {
		return env, err
	}
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return env, err
	}
	env.CursorKey, env.CreateTime = k, fromMicros(created)
	return env, nil
}

// CreateClient stores a new API client.
func (s *Store) CreateClient(ctx context.Context, c roster.APIClient) error {
	_, err := s.writeOther.ExecContext(ctx,
		`INSERT INTO api_clients (id, environment_id, name, secret_hash, create_time, revoke_time, redirect_uris) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		c.ID, c.EnvironmentID, c.Name, c.SecretHash, micros(c.CreateTime), nullMicros(c.RevokeTime), jsonText(nonNilSlice(c.RedirectURIs)))
	return s.conflict(err, func(string) string { return c.ID })
}

const clientColumns = `id, environment_id, name, secret_hash, create_time, revoke_time, redirect_uris`

// GetClient returns an API client, revoked or not.
func (s *Store) GetClient(ctx context.Context, id string) (roster.APIClient, error) {
	c, err := scanClient(s.read.QueryRowContext(ctx, `SELECT `+clientColumns+` FROM api_clients WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, notFound("API client")
	}
	return c, err
}

// ListClients returns an environment's API clients, oldest first.
func (s *Store) ListClients(ctx context.Context, environmentID string) ([]roster.APIClient, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+clientColumns+` FROM api_clients WHERE environment_id = $1 ORDER BY create_time, id`, environmentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []roster.APIClient
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// RevokeClient marks a client revoked; revoking twice keeps the first time.
func (s *Store) RevokeClient(ctx context.Context, id string, at time.Time) error {
	res, err := s.writeOther.ExecContext(ctx, `UPDATE api_clients SET revoke_time = COALESCE(revoke_time, $2) WHERE id = $1`, id, micros(at))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("API client")
	}
	return nil
}

// SetClientRedirectURIs replaces a client's redirect URIs.
func (s *Store) SetClientRedirectURIs(ctx context.Context, id string, uris []string) error {
	res, err := s.writeOther.ExecContext(ctx, `UPDATE api_clients SET redirect_uris = $1 WHERE id = $2`, jsonText(nonNilSlice(uris)), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("API client")
	}
	return nil
}

func scanClient(row interface{ Scan(...any) error }) (roster.APIClient, error) {
	var c roster.APIClient
	var created int64
	var revoked sql.NullInt64
	var uris string
	if err := row.Scan(&c.ID, &c.EnvironmentID, &c.Name, &c.SecretHash, &created, &revoked, &uris); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(uris), &c.RedirectURIs); err != nil {
		return c, fmt.Errorf("client %s: %w", c.ID, err)
	}
	c.CreateTime, c.RevokeTime = fromMicros(created), timePtr(revoked)
	return c, nil
}

// CreateSigningKey stores a new signing key.
func (s *Store) CreateSigningKey(ctx context.Context, k roster.SigningKey) error {
	_, err := s.writeOther.ExecContext(ctx,
		`INSERT INTO signing_keys (id, environment_id, algorithm, private_key, create_time, retire_time) VALUES ($1, $2, $3, $4, $5, $6)`,
		k.ID, k.EnvironmentID, k.Algorithm, k.PrivateKeySealed, micros(k.CreateTime), nullMicros(k.RetireTime))
	return err
}

// SealSigningKey replaces a plaintext private key with its sealed form, if it is unchanged.
func (s *Store) SealSigningKey(ctx context.Context, id, old, sealed string) error {
	_, err := s.writeOther.ExecContext(ctx, `UPDATE signing_keys SET private_key = $1 WHERE id = $2 AND private_key = $3`, sealed, id, old)
	return err
}

// ListSigningKeys returns an environment's keys, newest first.
func (s *Store) ListSigningKeys(ctx context.Context, environmentID string) ([]roster.SigningKey, error) {
	rows, err := s.read.QueryContext(ctx,
		`SELECT id, environment_id, algorithm, private_key, create_time, retire_time FROM signing_keys WHERE environment_id = $1 ORDER BY create_time DESC, id DESC`,
		environmentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []roster.SigningKey
	for rows.Next() {
		var k roster.SigningKey
		var created int64
		var retired sql.NullInt64
		if err := rows.Scan(&k.ID, &k.EnvironmentID, &k.Algorithm, &k.PrivateKeySealed, &created, &retired); err != nil {
			return nil, err
		}
		k.CreateTime, k.RetireTime = fromMicros(created), timePtr(retired)
		out = append(out, k)
	}
	return out, rows.Err()
}
