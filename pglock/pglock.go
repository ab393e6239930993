// Package pglock is an [sso.Locker] in PostgreSQL, for app instances that
// share a PostgreSQL database (typically the one holding their sessions,
// through scs's pgxstore): a refresh token is then spent once however many
// instances serve a customer, and a logout is final on all of them.
//
// A lock is a transaction-scoped advisory lock (pg_advisory_xact_lock) on a
// 64-bit hash of the key, held by a transaction of its own on a connection
// of the pool. Its lease is enforced by the server: the transaction sets
// idle_in_transaction_session_timeout to the lease, so a holder that stops
// talking to the database for longer than the lease — it hangs, or its
// process died without closing the connection — has its session ended by
// PostgreSQL, which releases the lock. A holder whose process dies outright
// loses the lock as soon as its connection closes. Locally, the connection
// goes back to the pool at unlock or when the lease has passed, whichever
// comes first.
//
// Every held lock, and every waiter, occupies one connection of the pool
// for as long as it holds or waits: size the pool for the number of
// sessions refreshing at once (see pgxpool.Config.MaxConns). When the
// database cannot be reached, Lock fails (at the latest when ctx ends) with
// an error wrapping the cause; the caller treats it as a store outage.
package pglock

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shopsso/sso"
)

// Locker is an [sso.Locker] in a PostgreSQL database. Create it with [New];
// it is safe for concurrent use.
type Locker struct {
	pool *pgxpool.Pool
}

var _ sso.Locker = (*Locker)(nil)

// New returns a Locker whose locks live in the database of pool. Lockers
// on the same database (on any number of hosts) exclude each other.
func New(pool *pgxpool.Pool) *Locker { return &Locker{pool: pool} }

// releaseTimeout bounds the statement that ends a lock's transaction.
const releaseTimeout = 5 * time.Second

// Lock blocks until it holds the lock named key or ctx ends (see
// [sso.Locker]). The lease is rounded up to a whole millisecond.
func (l *Locker) Lock(ctx context.Context, key string, lease time.Duration) (func(), error) {
	h, err := l.lock(ctx, key, lease)
	if err != nil {
		return nil, err
	}
	time.AfterFunc(lease, h.release) // a release after unlock does nothing
	return h.release, nil
}

// lock takes the lock with its server-side lease; the caller sets the
// local timer.
func (l *Locker) lock(ctx context.Context, key string, lease time.Duration) (*held, error) {
	conn, tx, err := l.begin(ctx)
	if err != nil && ctx.Err() == nil {
		// A pooled connection the server closed (it restarted) fails its
		// first statement: try once more, on a connection the pool makes
		// or checks anew.
		conn, tx, err = l.begin(ctx)
	}
	if err != nil {
		return nil, err
	}
	ms := max(1, (lease+time.Millisecond-1)/time.Millisecond)
	if _, err := tx.Exec(ctx, "SELECT set_config('idle_in_transaction_session_timeout', $1, true)", strconv.FormatInt(int64(ms), 10)); err != nil {
		abandon(conn, tx)
		return nil, wrap(ctx, "setting the lease", err)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", keyID(key)); err != nil {
		abandon(conn, tx)
		return nil, wrap(ctx, "waiting for the lock", err)
	}
	return &held{conn: conn, tx: tx}, nil
}

// begin starts a transaction on a connection of the pool. A connection
// whose BEGIN fails is closed, so the pool does not hand it out again.
func (l *Locker) begin(ctx context.Context) (*pgxpool.Conn, pgx.Tx, error) {
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, wrap(ctx, "connecting", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		_ = conn.Conn().Close(context.Background())
		conn.Release()
		return nil, nil, wrap(ctx, "beginning", err)
	}
	return conn, tx, nil
}

// held is one lock held; release ends it once.
type held struct {
	once sync.Once
	conn *pgxpool.Conn
	tx   pgx.Tx
}

func (h *held) release() {
	h.once.Do(func() {
		abandon(h.conn, h.tx)
	})
}

// abandon ends tx (which releases its advisory lock) and gives the
// connection back to the pool. A connection the server has ended (the
// lease passed) fails the rollback and is dropped by the pool.
func abandon(conn *pgxpool.Conn, tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	if err := tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		// The session may still hold the lock: close it rather than
		// hand it back to the pool.
		_ = conn.Conn().Close(ctx)
	}
	conn.Release()
}

// keyID maps key to the 64-bit advisory-lock key: FNV-1a of the key under
// a namespace of this package (a collision only makes two keys share a
// lock).
func keyID(key string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("shopsso/pglock\x00" + key))
	return int64(h.Sum64())
}

// wrap names the step that failed; when ctx has ended, the error wraps
// ctx's error (context.DeadlineExceeded or context.Canceled).
func wrap(ctx context.Context, step string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("pglock: %s: %w (%w)", step, ctxErr, err)
	}
	return fmt.Errorf("pglock: %s: %w", step, err)
}
