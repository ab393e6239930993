package sso

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// keyStore records the tokens its Commit is given.
type keyStore struct {
	*memstore.MemStore
	keys []string
}

func (s *keyStore) Commit(token string, b []byte, expiry time.Time) error {
	s.keys = append(s.keys, token)
	return s.MemStore.Commit(token, b, expiry)
}

// within reports whether s's bytes lie inside big's.
func within(s, big string) bool {
	p, start := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(big)))
	return p >= start && p < start+uintptr(len(big))
}

// TestStoreKeysAreCopies: the token scs passes to the store is a piece of
// the request's Cookie header; a store that keeps it as a key must not keep
// the whole header alive with it, so the guard hands it a copy — for scs's
// memory store (called directly) and for any other store, and for a
// session's data as for a logout's tombstone.
func TestStoreKeysAreCopies(t *testing.T) {
	header := strings.Repeat("analytics=0123456789abcdef; ", 100) + "session=" + strings.Repeat("t", 43)
	token := header[len(header)-43:]
	if !within(token, header) {
		t.Fatal("the test's token is not a piece of its header")
	}
	data, err := scs.GobCodec{}.Encode(time.Now().Add(time.Hour), map[string]any{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		store scs.Store
	}{
		{name: "memory store", store: memstore.New()},
		{name: "other store", store: &keyStore{MemStore: memstore.New()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sm := scs.New()
			sm.Store = tc.store
			g := newStoreGuard(sm, time.Second, NewLocalLocker(), slog.New(slog.DiscardHandler), time.Now)
			if err := g.CommitCtx(context.Background(), token, data, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			check := func(step string) {
				t.Helper()
				var keys []string
				if ks, ok := tc.store.(*keyStore); ok {
					keys = ks.keys
				} else {
					all, err := tc.store.(*memstore.MemStore).All()
					if err != nil {
						t.Fatal(err)
					}
					for k := range all {
						keys = append(keys, k)
					}
				}
				if len(keys) == 0 {
					t.Fatalf("%s: nothing stored", step)
				}
				for _, k := range keys {
					if k != token {
						t.Fatalf("%s: stored under another key", step)
					}
					if within(k, header) {
						t.Fatalf("%s: the store keeps a piece of the request's Cookie header as its key", step)
					}
				}
			}
			check("commit")
			if err := g.DeleteCtx(context.Background(), token); err != nil {
				t.Fatal(err)
			}
			check("logout")
		})
	}
}
