package sso_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/require"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/istores"
)

// postLogout logs c out with an API-style POST and checks the 204.
func (h *harness) postLogout(c *http.Client) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.app.URL+"/logout", nil)
	require.NoError(h.t, err)
	resp, err := c.Do(req)
	require.NoError(h.t, err)
	resp.Body.Close()
	require.Equal(h.t, http.StatusNoContent, resp.StatusCode)
}

// scsHash is scs's key for token with HashTokenInStore: SHA-256, base64url.
func scsHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// staleServer serves, on sm and auth, a protected page that loads the
// session, tells entered, waits for release and then changes the session
// (as a handler putting something in the session would), so that the
// session is saved at the end of the request.
func staleServer(t *testing.T, sm *scs.SessionManager, auth *sso.Auth, entered chan<- struct{}, release <-chan struct{}) *httptest.Server {
	srv := httptest.NewServer(sm.LoadAndSave(auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		sm.Put(r.Context(), "cart", "3 items")
		_, _ = w.Write([]byte("ok"))
	}))))
	t.Cleanup(srv.Close)
	return srv
}

// TestLogoutIsDurable: a request that loaded the session before a logout
// and saves it after cannot bring the login back, on the instance that
// logged out or on another one sharing the store and the Locker; and its
// response does not set the old cookie again.
func TestLogoutIsDurable(t *testing.T) {
	for _, tc := range []struct {
		name      string
		elsewhere bool // the stale request runs on a second instance
		hashed    bool // HashTokenInStore
	}{
		{name: "same instance"},
		{name: "other instance", elsewhere: true},
		{name: "other instance, hashed tokens", elsewhere: true, hashed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t,
				withConfig(func(c *sso.Config) { c.Locker = sso.NewLocalLocker() }), // shared by both instances
				withSessions(func(sm *scs.SessionManager) { sm.HashTokenInStore = tc.hashed }))
			c := h.login(istores.Name)
			old := sessionCookie(c, h.app.URL)
			require.NotEmpty(t, old)

			sm, auth := h.sm, h.auth
			if tc.elsewhere {
				sm = scs.New()
				sm.Store = h.sm.Store
				sm.HashTokenInStore = tc.hashed
				cfg := h.cfg
				cfg.Sessions = sm
				var err error
				auth, err = sso.New(cfg)
				require.NoError(t, err)
			}
			entered, release := make(chan struct{}), make(chan struct{})
			stale := staleServer(t, sm, auth, entered, release)
			type result struct {
				status  int
				cookies []*http.Cookie
				err     error
			}
			done := make(chan result, 1)
			go func() {
				req, _ := http.NewRequest(http.MethodGet, stale.URL+"/", nil)
				req.AddCookie(&http.Cookie{Name: "session", Value: old})
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					done <- result{err: err}
					return
				}
				resp.Body.Close()
				done <- result{status: resp.StatusCode, cookies: resp.Cookies()}
			}()
			<-entered
			h.postLogout(c)
			close(release)
			res := <-done
			require.NoError(t, res.err)
			require.Equal(t, http.StatusOK, res.status, "the stale request itself is served")
			for _, ck := range res.cookies {
				require.False(t, ck.Name == "session" && ck.Value != "", "the stale response sets a session cookie again: %v", ck)
			}
			require.Equal(t, 1, strings.Count(h.logs.String(), `msg="sso: save refused"`), h.logs.String())

			// The old cookie is worth nothing, on both instances.
			for _, base := range []string{h.app.URL, stale.URL} {
				req, _ := http.NewRequest(http.MethodGet, base+"/private", nil)
				req.Header.Set("Accept", "application/json")
				req.AddCookie(&http.Cookie{Name: "session", Value: old})
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "old cookie at %s", base)
			}
			// The store holds no session under the old token.
			key := old
			if tc.hashed {
				key = scsHash(old)
			}
			_, found, err := h.sm.Store.Find(key)
			require.NoError(t, err)
			require.False(t, found, "the logged-out session is in the store again")

			// The same browser logs in again, under a new session token.
			c2 := h.login(istores.Name)
			require.NotEqual(t, old, sessionCookie(c2, h.app.URL))
		})
	}
}

// TestDestroyedSessionCannotBeCommitted: a commit of a destroyed session's
// token fails with ErrSessionEnded and stores nothing.
func TestDestroyedSessionCannotBeCommitted(t *testing.T) {
	h := newHarness(t)
	c := h.login(istores.Name)
	token := sessionCookie(c, h.app.URL)
	data, found, err := h.sm.Store.Find(token)
	require.NoError(t, err)
	require.True(t, found)
	h.postLogout(c)
	err = h.sm.Store.Commit(token, data, time.Now().Add(time.Hour))
	require.ErrorIs(t, err, sso.ErrSessionEnded)
	_, found, err = h.sm.Store.Find(token)
	require.NoError(t, err)
	require.False(t, found)
	// Deleting it again is harmless and keeps it ended.
	require.NoError(t, h.sm.Store.Delete(token))
	require.ErrorIs(t, h.sm.Store.Commit(token, data, time.Now().Add(time.Hour)), sso.ErrSessionEnded)
}

// faultStore is a session store in memory that can be made to fail or hang.
// It takes no context, so the guard bounds it by waiting.
type faultStore struct {
	mem     *memstore.MemStore
	mu      sync.Mutex
	failOn  string // "find", "commit", "all" or ""
	hang    bool
	release chan struct{} // closed at the end of the test: frees hung calls
	calls   int
}

func newFaultStore(t *testing.T) *faultStore {
	s := &faultStore{mem: memstore.New(), release: make(chan struct{})}
	t.Cleanup(func() { close(s.release) })
	return s
}

func (s *faultStore) set(failOn string, hang bool) {
	s.mu.Lock()
	s.failOn, s.hang = failOn, hang
	s.mu.Unlock()
}

var errStoreDown = errors.New("connection refused")

// fault reports how op should go: hang, fail, or work.
func (s *faultStore) fault(op string) (hang, fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failOn != "all" && s.failOn != op {
		return false, false
	}
	return s.hang, !s.hang
}

func (s *faultStore) Find(token string) ([]byte, bool, error) {
	if hang, fail := s.fault("find"); hang {
		<-s.release
	} else if fail {
		return nil, false, errStoreDown
	}
	return s.mem.Find(token)
}

func (s *faultStore) Commit(token string, b []byte, expiry time.Time) error {
	if hang, fail := s.fault("commit"); hang {
		<-s.release
	} else if fail {
		return errStoreDown
	}
	return s.mem.Commit(token, b, expiry)
}

func (s *faultStore) Delete(token string) error {
	if hang, fail := s.fault("commit"); hang {
		<-s.release
	} else if fail {
		return errStoreDown
	}
	return s.mem.Delete(token)
}

func (s *faultStore) count() int {
	m, _ := s.mem.All()
	return len(m)
}

// ctxFaultStore is a faultStore that takes a context ([scs.CtxStore]):
// a hung call returns when the context ends.
type ctxFaultStore struct{ *faultStore }

func (s ctxFaultStore) hangOrFail(ctx context.Context, op string) error {
	hang, fail := s.fault(op)
	switch {
	case hang:
		select {
		case <-s.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	case fail:
		return errStoreDown
	}
	return nil
}

func (s ctxFaultStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if err := s.hangOrFail(ctx, "find"); err != nil {
		return nil, false, err
	}
	return s.mem.Find(token)
}

func (s ctxFaultStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if err := s.hangOrFail(ctx, "commit"); err != nil {
		return err
	}
	return s.mem.Commit(token, b, expiry)
}

func (s ctxFaultStore) DeleteCtx(ctx context.Context, token string) error {
	if err := s.hangOrFail(ctx, "commit"); err != nil {
		return err
	}
	return s.mem.Delete(token)
}

// storeTimeout is the StoreTimeout of the fault tests: short, so a hung
// store is given up on quickly.
const storeTimeout = 150 * time.Millisecond

// newFaultHarness is a harness whose session store is fs (with or without
// a context) and whose store deadline is storeTimeout.
func newFaultHarness(t *testing.T, fs *faultStore, withCtx bool) *harness {
	return newHarness(t,
		withConfig(func(c *sso.Config) { c.StoreTimeout = storeTimeout }),
		withSessions(func(sm *scs.SessionManager) {
			sm.Store = fs
			if withCtx {
				sm.Store = ctxFaultStore{fs}
			}
		}))
}

// storeLines counts the log lines saying the store is unavailable.
func storeLines(h *harness) int {
	return strings.Count(h.logs.String(), `msg="sso: session store unavailable"`)
}

// TestStoreUnavailable: a logged-in request to a store that fails or hangs
// gets a fast 503 with Retry-After, the log says so once per interval, and
// service resumes as soon as the store answers.
func TestStoreUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		withCtx bool
		hang    bool
	}{
		{name: "store fails", withCtx: true},
		{name: "store hangs, takes a context", withCtx: true, hang: true},
		{name: "store hangs, takes no context", hang: true},
		{name: "store fails, takes no context"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := newFaultStore(t)
			h := newFaultHarness(t, fs, tc.withCtx)
			c := h.login(istores.Name)

			fs.set("all", tc.hang)
			for i := range 5 {
				start := time.Now()
				resp := h.getJSON(c, "/private")
				took := time.Since(start)
				require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "request %d", i)
				require.Equal(t, "5", resp.Header.Get("Retry-After"))
				var got map[string]string
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
				require.Equal(t, "store_unavailable", got["error"])
				require.Less(t, took, storeTimeout+2*time.Second, "a hung store must be given up on at its deadline")
			}
			page := h.get(c, "/private")
			require.Equal(t, http.StatusServiceUnavailable, page.StatusCode)
			require.NotContains(t, body(page), "connection refused")
			require.Equal(t, 1, storeLines(h), "one line per interval, not one per request:\n%s", h.logs.String())

			// A minute later, still down: one more line.
			h.clock.Advance(61 * time.Second)
			require.Equal(t, http.StatusServiceUnavailable, h.getJSON(c, "/private").StatusCode)
			require.Equal(t, http.StatusServiceUnavailable, h.getJSON(c, "/private").StatusCode)
			require.Equal(t, 2, storeLines(h), h.logs.String())

			// The store answers again: so does the app, at once.
			fs.set("", false)
			resp := h.getJSON(c, "/private")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, 1, strings.Count(h.logs.String(), "session store available again"))
			require.Equal(t, http.StatusOK, h.getJSON(c, "/private").StatusCode)
			require.Equal(t, 1, strings.Count(h.logs.String(), "session store available again"))
		})
	}
}

// TestStoreUnavailableLogin: with the store down, a login start and a
// callback are refused with 503 and leave nothing stored.
func TestStoreUnavailableLogin(t *testing.T) {
	for _, tc := range []struct {
		name   string
		failOn string
		hang   bool
	}{
		{name: "commit fails", failOn: "commit"},
		{name: "commit hangs", failOn: "commit", hang: true},
		{name: "everything fails", failOn: "all"},
	} {
		t.Run(tc.name+"/login start", func(t *testing.T) {
			t.Parallel()
			fs := newFaultStore(t)
			h := newFaultHarness(t, fs, true)
			fs.set(tc.failOn, tc.hang)
			resp := h.get(noFollow(h.browser()), "/auth/istores/login?return_to=/private")
			require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			require.Empty(t, resp.Header.Get("Location"), "no redirect to the provider")
			require.Empty(t, resp.Cookies(), "no session cookie")
			require.Equal(t, 0, fs.count(), "nothing stored")
		})
		t.Run(tc.name+"/callback", func(t *testing.T) {
			t.Parallel()
			fs := newFaultStore(t)
			h := newFaultHarness(t, fs, true)
			c := h.browser()
			back := h.startLogin(c, istores.Name, "/private")
			before := fs.count()
			fs.set(tc.failOn, tc.hang)
			resp := h.get(noFollow(c), back.String())
			require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			require.Equal(t, "5", resp.Header.Get("Retry-After"))
			require.Empty(t, resp.Header.Get("Location"))
			fs.set("", false)
			require.LessOrEqual(t, fs.count(), before, "no new session stored")
			require.Equal(t, http.StatusUnauthorized, h.getJSON(c, "/private").StatusCode, "not logged in")
		})
	}
}

// TestSessionErrorFuncKeepsOtherErrors: errors that are not the store's go
// to the ErrorFunc the session manager had.
func TestSessionErrorFuncKeepsOtherErrors(t *testing.T) {
	var got error
	h := newHarness(t, withSessions(func(sm *scs.SessionManager) {
		sm.ErrorFunc = func(w http.ResponseWriter, _ *http.Request, err error) {
			got = err
			http.Error(w, "app's own page", http.StatusTeapot)
		}
	}))
	c := h.login(istores.Name)
	token := sessionCookie(c, h.app.URL)
	inner := h.sm.Store.(interface{ Unwrap() scs.Store }).Unwrap()
	require.NoError(t, inner.Commit(token, []byte("not a session"), time.Now().Add(time.Hour)))
	resp := h.getJSON(c, "/private")
	require.Equal(t, http.StatusTeapot, resp.StatusCode)
	require.Error(t, got)
	require.NotErrorIs(t, got, sso.ErrStoreUnavailable)
}

// brokenStore panics on every call, as a broken store driver might.
type brokenStore struct{}

func (brokenStore) Find(string) ([]byte, bool, error)      { panic("store driver bug") }
func (brokenStore) Commit(string, []byte, time.Time) error { panic("store driver bug") }
func (brokenStore) Delete(string) error                    { panic("store driver bug") }

// TestStorePanics: a store (without a context) that panics fails the
// request with 503, like a store that is down; the server keeps serving.
func TestStorePanics(t *testing.T) {
	h := newHarness(t,
		withConfig(func(c *sso.Config) { c.StoreTimeout = storeTimeout }),
		withSessions(func(sm *scs.SessionManager) { sm.Store = brokenStore{} }))
	for range 2 {
		resp := h.get(noFollow(h.browser()), "/auth/istores/login?return_to=/private")
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	}
	require.Equal(t, 1, storeLines(h), h.logs.String())
}

// keyRecorder is a Locker that remembers every key it is asked for.
type keyRecorder struct {
	sso.Locker
	mu   sync.Mutex
	keys []string
}

func (k *keyRecorder) Lock(ctx context.Context, key string, lease time.Duration) (func(), error) {
	k.mu.Lock()
	k.keys = append(k.keys, key)
	k.mu.Unlock()
	return k.Locker.Lock(ctx, key, lease)
}

// TestLockKeysHoldNoSessionToken: a Locker may live in another system than
// the sessions (PostgreSQL sessions, Redis locks) and may log its keys, so
// the lock names derived from a session never contain its token.
func TestLockKeysHoldNoSessionToken(t *testing.T) {
	rec := &keyRecorder{Locker: sso.NewLocalLocker()}
	h := newHarness(t, withConfig(func(c *sso.Config) { c.Locker = rec }))
	c := h.login(istores.Name)
	token := sessionCookie(c, h.app.URL)
	require.NotEmpty(t, token)
	h.postLogout(c)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.NotEmpty(t, rec.keys, "the login and the logout take session locks")
	for _, k := range rec.keys {
		require.NotContains(t, k, token)
	}
}
