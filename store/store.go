// Package store defines the storage interface that every backend (store/sqlite,
// store/postgres) implements and store/storetest checks.
//
// Contract: lookups of a missing record return a *roster.Error with roster.ENotFound; a write
// that breaks a uniqueness rule returns roster.EConflict naming the field. Updates take a
// function that is applied to the current record inside one transaction, so
// read-modify-write is atomic on every backend.
package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/rosterhq/roster"
)

// Store is Roster's storage.
type Store interface {
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Stats reports connection pool use, for metrics.
	Stats() sql.DBStats
	Close() error

	CreateEnvironment(ctx context.Context, env roster.Environment) error
	ListEnvironments(ctx context.Context) ([]roster.Environment, error)
	GetEnvironment(ctx context.Context, id string) (roster.Environment, error)

	CreateClient(ctx context.Context, c roster.APIClient) error
	GetClient(ctx context.Context, id string) (roster.APIClient, error)
	ListClients(ctx context.Context, environmentID string) ([]roster.APIClient, error)
	RevokeClient(ctx context.Context, id string, at time.Time) error

	CreateSigningKey(ctx context.Context, k roster.SigningKey) error
	ListSigningKeys(ctx context.Context, environmentID string) ([]roster.SigningKey, error)

	CreateOrganization(ctx context.Context, o roster.Organization) error
	GetOrganization(ctx context.Context, environmentID string, ref roster.OrganizationRef) (roster.Organization, error)
	UpdateOrganization(ctx context.Context, environmentID string, ref roster.OrganizationRef, update func(*roster.Organization) error) (roster.Organization, error)
	// DeleteOrganization removes the organization and everything that belongs to it in one
	// transaction.
	DeleteOrganization(ctx context.Context, environmentID string, ref roster.OrganizationRef) error
	ListOrganizations(ctx context.Context, environmentID string, q OrganizationQuery) (Page[roster.Organization], error)
}

// OrganizationQuery selects organizations for a list or search.
type OrganizationQuery struct {
	ExternalID *string // exact match
	Search     string  // case-insensitive substring of display name, id or external id
	Page       PageQuery
}

// PageQuery asks for one page in keyset order (ascending ID number). At most one of After and
// Before is set; Before pages backwards.
type PageQuery struct {
	Size   int
	After  int64 // return rows whose ID number is greater
	Before int64 // return the last Size rows whose ID number is smaller
}

// Page is one page of results in ascending order.
type Page[T any] struct {
	Items []T
	// More reports whether rows exist beyond this page in the direction it was read.
	More bool
	// Total counts every row that matches the query, on all pages.
	Total int
}
