package main

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shopsso/sso/internal/testenv"
	"github.com/shopsso/sso/ssotest"
)

// Instances started at once against a fresh database create the sessions
// table and its index themselves, without tripping over each other.
func TestPostgresFreshDatabase(t *testing.T) {
	url := testenv.StartPostgres(t).NewDatabase(t)
	stand := ssotest.NewServer(ssotest.Options{})
	t.Cleanup(stand.Close)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			a, err := newApp(settings{DatabaseURL: url}, "http://127.0.0.1:1", slog.New(slog.DiscardHandler), deps{Stand: stand})
			if err == nil {
				t.Cleanup(a.close)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d on a fresh database: %v", i, err)
		}
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var index string
	if err := conn.QueryRow(context.Background(),
		"SELECT indexname FROM pg_indexes WHERE tablename = 'sessions' AND indexname = 'sessions_expiry_idx'").Scan(&index); err != nil {
		t.Fatalf("the expiry index is missing: %v", err)
	}
}
