package open

import (
	"context"
	"fmt"

	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/store/postgres"
	"github.com/fender-dev/fender/internal/store/sqlite"
)

// Open opens the store of the named driver: "sqlite" with a file path as
// dsn, "postgres" with a PostgreSQL URL or key=value DSN. Migrations run
// before it returns.
func Open(ctx context.Context, driver, dsn string) (store.Store, error) {
	switch driver {
	case "sqlite":
		return sqlite.Open(ctx, dsn)
	case "postgres", "postgresql":
		return postgres.Open(ctx, dsn)
	}
	return nil, fmt.Errorf("store: unknown driver %q (want sqlite or postgres): %w", driver, store.ErrInvalid)
}
