package main

import (
	"context"
	"fmt"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/pglock"
)

// sessionsSchema is the table scs's pgxstore keeps sessions in, and the
// index its cleanup of expired sessions uses. Both are created when
// missing, so a fresh database works with no manual step.
const sessionsSchema = `
CREATE TABLE IF NOT EXISTS sessions (
	token  TEXT PRIMARY KEY,
	data   BYTEA NOT NULL,
	expiry TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry);`

// schemaLockID is the advisory lock that serializes creating the schema
// when several instances start at once against a fresh database (two
// concurrent CREATE TABLE IF NOT EXISTS can both try to create it).
const schemaLockID = 0x73686f7073736f // "shopsso"

// postgresStore returns an scs store in the PostgreSQL database at url
// (scs's pgxstore), so that several instances of the app share sessions; a
// Locker on the same database (pglock), so that they refresh a token set
// once and a logout is final on all of them; and a function that closes
// both.
//
// Connections are given the store timeout to be made; each store call
// carries the store deadline in its context, which pgx honours. The store
// and the locks use pools of their own, since a held lock keeps its
// connection.
func postgresStore(url string) (scs.Store, sso.Locker, func(), error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	cfg.ConnConfig.ConnectTimeout = storeTimeout
	cfg.MaxConnIdleTime = 30 * time.Second
	lockCfg := cfg.Copy()
	lockCfg.MaxConns = 32
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if err := createSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	lockPool, err := pgxpool.NewWithConfig(ctx, lockCfg)
	if err != nil {
		pool.Close()
		return nil, nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	store := pgxstore.New(pool) // deletes expired sessions every 5 minutes
	closeAll := func() {
		store.StopCleanup()
		lockPool.Close()
		pool.Close()
	}
	return store, pglock.New(lockPool), closeAll, nil
}

// createSchema creates the sessions table and its index when missing.
func createSchema(ctx context.Context, pool *pgxpool.Pool) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("cannot reach PostgreSQL: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it does nothing
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(schemaLockID)); err != nil {
		return fmt.Errorf("creating the sessions table: %w", err)
	}
	if _, err := tx.Exec(ctx, sessionsSchema); err != nil {
		return fmt.Errorf("creating the sessions table: %w", err)
	}
	return tx.Commit(ctx)
}
