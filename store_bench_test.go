package sso

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"

	"github.com/shopsso/sso/sessioncodec"
)

// ctxMemStore is scs's memory store behind the context-taking interface
// ([scs.CtxStore]) that network stores (goredisstore, pgxstore) implement:
// with it the store guard gives every call a deadline, as it does for them.
type ctxMemStore struct{ *memstore.MemStore }

func (s ctxMemStore) FindCtx(_ context.Context, token string) ([]byte, bool, error) {
	return s.Find(token)
}

func (s ctxMemStore) CommitCtx(_ context.Context, token string, b []byte, expiry time.Time) error {
	return s.Commit(token, b, expiry)
}

func (s ctxMemStore) DeleteCtx(_ context.Context, token string) error { return s.Delete(token) }

// BenchmarkStoreGuard measures what the store guard costs a logged-in
// request, with sso.Codec, against scs alone on the same store and codec:
// over scs's memory store (which the guard calls directly) and over the
// same store behind [scs.CtxStore] (which the guard calls with a deadline).
//
//	go test -run '^$' -bench StoreGuard -benchmem -count 8 .
func BenchmarkStoreGuard(b *testing.B) {
	fx := newBenchFixture(b)
	for _, store := range []struct {
		name  string
		store func() scs.Store
	}{
		{"memstore", func() scs.Store { return memstore.New() }},
		{"ctxstore", func() scs.Store { return ctxMemStore{memstore.New()} }},
	} {
		sm := scs.New()
		sm.Codec, sm.Store = sessioncodec.Codec{}, store.store()
		plain := scs.New()
		plain.Codec, plain.Store = sm.Codec, sm.Store
		a, err := New(Config{
			Sessions:       sm,
			Providers:      []Provider{newBenchProvider(fx.stand, nil)},
			Logger:         slog.New(slog.DiscardHandler),
			InsecureCookie: true,
		})
		if err != nil {
			b.Fatal(err)
		}
		cookie := benchPutLogin(b, plain, fx.login)
		handler := func(w http.ResponseWriter, r *http.Request) {
			tok, ok := TokenFromContext(r.Context())
			if !ok {
				http.Error(w, "no login in the context", http.StatusInternalServerError)
				return
			}
			benchSink += len(tok.AccessToken)
			_, _ = w.Write(benchBody)
		}
		b.Run(store.name+"/scs", func(b *testing.B) {
			benchServe(b, plain.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var l login
				ok := loadLogin(r.Context(), plain, &l)
				if !ok {
					http.Error(w, "no login in the session", http.StatusInternalServerError)
					return
				}
				benchSink += len(l.AccessToken)
				_, _ = w.Write(benchBody)
			})), cookie)
		})
		b.Run(store.name+"/guarded-scs", func(b *testing.B) {
			benchServe(b, sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var l login
				ok := loadLogin(r.Context(), sm, &l)
				if !ok {
					http.Error(w, "no login in the session", http.StatusInternalServerError)
					return
				}
				benchSink += len(l.AccessToken)
				_, _ = w.Write(benchBody)
			})), cookie)
		})
		b.Run(store.name+"/require", func(b *testing.B) {
			benchServe(b, sm.LoadAndSave(a.Require(http.HandlerFunc(handler))), cookie)
		})
	}
}
