package pglock

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shopsso/sso/internal/locktest"
	"github.com/shopsso/sso/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// newPool returns a pool on the database at url.
func newPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 32
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TestLockerContract runs the contract every Locker keeps.
func TestLockerContract(t *testing.T) {
	pg := testenv.StartPostgres(t)
	locktest.Run(t, New(newPool(t, pg.NewDatabase(t))))
}

// expectWait checks that l cannot take key for a while, then can within
// within once free happens.
func expectLockAfter(t *testing.T, l *Locker, key string, free func(), within time.Duration) {
	t.Helper()
	short, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if u, err := l.Lock(short, key, 10*time.Second); err == nil {
		u()
		t.Fatal("got a lock that is held")
	}
	got := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		u, err := l.Lock(ctx, key, 10*time.Second)
		if err == nil {
			u()
		}
		got <- err
	}()
	free()
	if err := <-got; err != nil {
		t.Fatalf("Lock once the holder is gone: %v", err)
	}
}

// Lock holders and waiters on two pools (two app instances) exclude each
// other; a holder whose lease has not passed keeps the lock while its
// instance stays silent only as long as the lease; and a holder whose
// connection goes away (its process died) frees the lock at once.
func TestLockAcrossInstances(t *testing.T) {
	pg := testenv.StartPostgres(t)
	url := pg.NewDatabase(t)
	for _, tc := range []struct {
		name  string
		lease time.Duration
		// end makes the holder let go: unlock, a silence past the lease
		// (no local timer: only the server can free it), or the end of
		// its connection.
		end    func(h *held, t *testing.T)
		within time.Duration
	}{
		{name: "unlock", lease: time.Minute, end: func(h *held, _ *testing.T) { h.release() }, within: 5 * time.Second},
		{name: "lease passes while the holder is silent", lease: 500 * time.Millisecond, end: func(*held, *testing.T) {}, within: 10 * time.Second},
		{name: "holder's connection closes", lease: time.Minute, end: func(h *held, t *testing.T) {
			if err := h.conn.Conn().Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		}, within: 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := New(newPool(t, url)), New(newPool(t, url))
			key := "session/" + t.Name()
			h, err := a.lock(t.Context(), key, tc.lease)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(h.release)
			start := time.Now()
			expectLockAfter(t, b, key, func() { tc.end(h, t) }, tc.within)
			if tc.name == "lease passes while the holder is silent" && time.Since(start) < tc.lease/2 {
				t.Fatalf("lock freed after %v, before the lease of %v", time.Since(start), tc.lease)
			}
		})
	}
}

// With the database unreachable, Lock fails by its deadline, with the
// deadline in its error chain or the connection error.
func TestLockDatabaseUnreachable(t *testing.T) {
	port, err := testenv.FreeLoopbackPort()
	if err != nil {
		t.Fatal(err)
	}
	// A server that accepts connections and never answers, as a paused
	// (SIGSTOP) or overloaded PostgreSQL does.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	url := func(addr string) string {
		return "postgres://postgres@" + addr + "/x?sslmode=disable&connect_timeout=30"
	}
	for _, tc := range []struct {
		name         string
		url          string
		wantDeadline bool
	}{
		{name: "nothing listening", url: url("127.0.0.1:" + strconv.Itoa(port))},
		{name: "server does not answer", url: url(silent.Addr().String()), wantDeadline: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := New(newPool(t, tc.url))
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			start := time.Now()
			u, err := l.Lock(ctx, "k", time.Second)
			if err == nil {
				u()
				t.Fatal("Lock succeeded without a database")
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("Lock failed only after %v", d)
			}
			if tc.wantDeadline && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error does not wrap context.DeadlineExceeded: %v", err)
			}
		})
	}
}
