package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/rosterhq/roster/store/sqlstore"
)

// OpenTraced is Open with a query tracer on every connection.
func OpenTraced(ctx context.Context, url string, tracer pgx.QueryTracer) (*sqlstore.Store, error) {
	return open(ctx, url, func(c *pgx.ConnConfig) { c.Tracer = tracer })
}
