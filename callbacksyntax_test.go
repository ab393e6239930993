package sso_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
)

func TestCallbackSyntaxRefused(t *testing.T) {
	tests := []struct {
		name   string
		query  func(cb *url.URL) string // the query sent instead of the genuine one
		reason string
	}{
		{"state repeated", func(cb *url.URL) string {
			return cb.RawQuery + "&state=" + url.QueryEscape(cb.Query().Get("state"))
		}, `parameter \"state\" repeated`},
		{"code repeated", func(cb *url.URL) string {
			return cb.RawQuery + "&code=another"
		}, `parameter \"code\" repeated`},
		{"other parameter repeated", func(cb *url.URL) string {
			return cb.RawQuery + "&iss=a&iss=b"
		}, `parameter \"iss\" repeated`},
		{"state over the cap", func(cb *url.URL) string {
			return mustURL(withQuery(cb, "state", strings.Repeat("s", sso.MaxStateLength+1))).RawQuery
		}, "state longer than 512 bytes"},
		{"code over the cap", func(cb *url.URL) string {
			return mustURL(withQuery(cb, "code", strings.Repeat("c", 500<<10))).RawQuery
		}, "code longer than 4096 bytes"},
		{"query that does not parse", func(cb *url.URL) string {
			return cb.RawQuery + "&x=%ZZ"
		}, "query does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			c := h.browser()
			cb := h.startLogin(c, istores.Name, "/private")
			before := sessionCookie(c, h.app.URL)

			bad := *cb
			bad.RawQuery = tt.query(cb)
			resp := h.get(noFollow(c), bad.String())
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Zero(t, h.stand.TokenCalls("", ""), "refused before any token call")
			assert.Equal(t, before, sessionCookie(c, h.app.URL), "the session is untouched")
			assert.Equal(t, 1, countLines(h.logs.String(), "sso: malformed callback: "+tt.reason), h.logs.String())
			assert.Equal(t, 1, countLines(h.logs.String(), "request refused"), "one log line")

			// The genuine callback still completes.
			resp = h.get(noFollow(c), cb.String())
			require.Equal(t, http.StatusFound, resp.StatusCode)
			assert.Equal(t, 1, h.stand.TokenCalls("", ""))
		})
	}
}

// TestConcurrentCallbackCopies sends several copies of one genuine
// callback at once, to one instance or spread over two that share the
// session store and a Locker, each past scs's session load before any of
// them goes on: exactly one reaches the token endpoint and logs in; the
// others are refused like a replay.
func TestConcurrentCallbackCopies(t *testing.T) {
	for _, instances := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d instances", instances), func(t *testing.T) {
			t.Parallel()
			const copies = 8
			h := newHarness(t, withConfig(func(c *sso.Config) { c.Locker = sso.NewLocalLocker() }))
			c := h.browser()
			cb := h.startLogin(c, multicart.Name, "/private")

			// The callback behind a barrier: every copy has its session
			// loaded (LoadAndSave ran) before any copy reaches the callback.
			var arrived atomic.Int32
			all := make(chan struct{})
			barrier := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if arrived.Add(1) == copies {
						close(all)
					}
					select {
					case <-all:
					case <-time.After(10 * time.Second):
						t.Error("not every copy arrived")
					}
					next.ServeHTTP(w, r)
				})
			}
			var urls []string
			for i := range instances {
				sm, auth := h.sm, h.auth
				if i > 0 { // another app instance: same store, same Locker
					sm = scs.New()
					sm.Store = h.sm.Store
					cfg := h.cfg
					cfg.Sessions = sm
					cfg.Providers = []sso.Provider{h.ist, h.mc}
					var err error
					auth, err = sso.New(cfg)
					require.NoError(t, err)
				}
				srv := httptest.NewServer(sm.LoadAndSave(barrier(auth.Callback(multicart.Name))))
				t.Cleanup(srv.Close)
				urls = append(urls, srv.URL)
			}

			cookies := c.Jar.Cookies(mustURL(h.app.URL))
			codes := make([]int, copies)
			var wg sync.WaitGroup
			for i := range copies {
				wg.Go(func() {
					req, _ := http.NewRequest(http.MethodGet, urls[i%len(urls)]+cb.RequestURI(), nil)
					req.Header.Set("Accept", "text/html")
					for _, ck := range cookies {
						req.AddCookie(ck)
					}
					resp, err := noFollow(h.browser()).Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					codes[i] = resp.StatusCode
				})
			}
			wg.Wait()

			found, refused := 0, 0
			for _, code := range codes {
				switch code {
				case http.StatusFound:
					found++
				case http.StatusBadRequest:
					refused++
				}
			}
			assert.Equal(t, 1, found, "%v", codes)
			assert.Equal(t, copies-1, refused, "%v", codes)
			assert.Equal(t, 1, h.stand.TokenCalls(ssotest.ProviderMulticart, ssotest.GrantAuthorizationCode), "one token call")
		})
	}
}

func TestCallbackWithoutPendingLogin(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(h *harness) (*http.Client, *url.URL)
		reason string
	}{
		{"no session cookie came back", func(h *harness) (*http.Client, *url.URL) {
			cb := h.startLogin(h.browser(), multicart.Name, "/private")
			return h.browser(), cb // another browser, as after localhost vs 127.0.0.1
		}, "no session cookie came back"},
		{"cookie of an unknown session", func(h *harness) (*http.Client, *url.URL) {
			cb := h.startLogin(h.browser(), multicart.Name, "/private")
			c := h.browser()
			c.Jar.SetCookies(mustURL(h.app.URL), []*http.Cookie{{Name: "session", Value: "expired-or-unknown"}})
			return c, cb
		}, "the session cookie names no stored session"},
		{"session with no login in progress", func(h *harness) (*http.Client, *url.URL) {
			c := h.browser()
			cb := h.startLogin(c, multicart.Name, "/private")
			require.Equal(h.t, http.StatusFound, h.get(noFollow(c), cb.String()).StatusCode)
			return c, cb // the used callback again: nothing is pending any more
		}, "the session has no login in progress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var errs []error
			var mu sync.Mutex
			h := newHarness(t, withConfig(func(c *sso.Config) {
				c.OnError = func(_ context.Context, err error) {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}))
			c, cb := tt.setup(h)
			calls := h.stand.TokenCalls("", "")
			resp := h.get(noFollow(c), cb.String())
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Equal(t, calls, h.stand.TokenCalls("", ""))
			logs := h.logs.String()
			assert.Equal(t, 1, countLines(logs, "sso: callback for a browser with no login in progress: "+tt.reason), logs)
			assert.NotContains(t, logs, "has this state")
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, errs, 1)
			assert.ErrorIs(t, errs[0], sso.ErrNoPendingLogin)
			assert.ErrorIs(t, errs[0], sso.ErrStateMismatch, "still a state mismatch to callers that branch on it")
		})
	}

	t.Run("state mismatch is told apart", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		c := h.browser()
		cb := h.startLogin(c, multicart.Name, "/private")
		resp := h.get(noFollow(c), withQuery(cb, "state", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, 1, countLines(h.logs.String(), "none of the session's logins in progress has this state"))
		assert.NotContains(t, h.logs.String(), "no login in progress:")
	})
}

func TestProviderErrorsOnCallbackLogged(t *testing.T) {
	t.Run("deny", func(t *testing.T) {
		t.Parallel()
		var got error
		h := newHarness(t, withConfig(func(c *sso.Config) {
			c.OnError = func(_ context.Context, err error) { got = err }
		}))
		h.stand.Inject(ssotest.Failure{Deny: true})
		c := h.browser()
		cb := h.startLogin(c, multicart.Name, "/private")
		resp := h.get(noFollow(c), cb.String())
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		assert.Contains(t, body(resp), "You chose not to log in")
		assert.ErrorIs(t, got, sso.ErrAccessDenied)
		assert.NotErrorIs(t, got, sso.ErrExchange)
		logs := h.logs.String()
		assert.Equal(t, 1, countLines(logs, `reason="sso: the customer declined the login"`), logs)
		assert.NotContains(t, logs, "exchange")
	})
	t.Run("other error", func(t *testing.T) {
		t.Parallel()
		var got error
		h := newHarness(t, withConfig(func(c *sso.Config) {
			c.OnError = func(_ context.Context, err error) { got = err }
		}))
		h.stand.Inject(ssotest.Failure{Deny: true})
		c := h.browser()
		cb := h.startLogin(c, multicart.Name, "/private")
		desc := "scope \"admin\" unknown\nlevel=ERROR msg=forged " + strings.Repeat("x", 1000)
		bad := withQuery(mustURL(withQuery(cb, "error", "invalid_scope")), "error_description", desc)
		resp := h.get(noFollow(c), bad)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		page := body(resp)
		assert.NotContains(t, page, "invalid_scope")
		assert.NotContains(t, page, "admin")
		assert.ErrorIs(t, got, sso.ErrAuthorization)
		var pe *sso.ProviderError
		require.ErrorAs(t, got, &pe)
		assert.Equal(t, "invalid_scope", pe.Code)
		logs := h.logs.String()
		assert.Equal(t, 1, countLines(logs, `reason="sso: the provider refused the login: error invalid_scope"`), logs)
		assert.Equal(t, 1, countLines(logs, "request refused"), "one line: the description does not break it")
		assert.Contains(t, logs, `unknown\\nlevel=ERROR`, "the description is escaped")
		assert.NotContains(t, logs, strings.Repeat("x", 300), "and cut")
	})
}

func TestNewRefusesSameSiteStrict(t *testing.T) {
	sm := scs.New()
	sm.Cookie.SameSite = http.SameSiteStrictMode
	_, err := sso.New(sso.Config{Sessions: sm, Providers: []sso.Provider{stubProvider{}}, InsecureCookie: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SameSite=Strict")
	assert.Contains(t, err.Error(), "SameSite=Lax")

	sm.Cookie.SameSite = http.SameSiteLaxMode
	_, err = sso.New(sso.Config{Sessions: sm, Providers: []sso.Provider{stubProvider{}}, InsecureCookie: true})
	assert.NoError(t, err)
}

// TestHandlerOutsideLoadAndSave mounts each handler without the session
// manager's LoadAndSave: the answer is a 500 and one log line that names
// this library and the fix, not scs's bare panic.
func TestHandlerOutsideLoadAndSave(t *testing.T) {
	var logs syncBuffer
	sm := scs.New()
	auth, err := sso.New(sso.Config{
		Sessions:       sm,
		Providers:      []sso.Provider{stubProvider{}},
		InsecureCookie: true,
		Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
	})
	require.NoError(t, err)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	tests := []struct {
		name    string
		handler http.Handler
		method  string
	}{
		{"Login", auth.Login("stub"), http.MethodGet},
		{"Callback", auth.Callback("stub"), http.MethodGet},
		{"Logout", auth.Logout(), http.MethodPost},
		{"Require", auth.Require(ok), http.MethodGet},
		{"Identify", auth.Identify(ok), http.MethodGet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := countLines(logs.String(), "LoadAndSave")
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tt.method, "/x?state=s&code=c", nil)
			require.NotPanics(t, func() { tt.handler.ServeHTTP(rec, req) })
			assert.Equal(t, http.StatusInternalServerError, rec.Code)
			assert.Equal(t, before+1, countLines(logs.String(), "LoadAndSave"))
			assert.Contains(t, logs.String(), "github.com/shopsso/sso")
			assert.NotContains(t, rec.Body.String(), "LoadAndSave", "the fix is for the operator's log, not the page")
		})
	}
}

// stubProvider is a provider that is never called.
type stubProvider struct{}

func (stubProvider) Name() string                      { return "stub" }
func (stubProvider) AuthCodeURL(sso.AuthParams) string { return "https://provider.example/authorize" }
func (stubProvider) Exchange(context.Context, string, string) (*oauth2.Token, error) {
	return nil, errors.New("stub")
}

func TestLogoutRefusesCrossOrigin(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		refused bool
		reason  string
	}{
		{"Origin of another site", map[string]string{"Origin": "https://evil.example"}, true, "Origin does not match Host"},
		{"Origin null", map[string]string{"Origin": "null"}, true, "Origin is null"},
		{"Sec-Fetch-Site same-site", map[string]string{"Sec-Fetch-Site": "same-site"}, true, `Sec-Fetch-Site is \"same-site\"`},
		{"Sec-Fetch-Site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, true, `Sec-Fetch-Site is \"cross-site\"`},
		{"Sec-Fetch-Site same-origin", map[string]string{"Sec-Fetch-Site": "same-origin"}, false, ""},
		{"Origin of this site", map[string]string{"Origin": "SELF"}, false, ""},
		{"no headers (not a browser)", nil, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			c := h.login(multicart.Name)
			req, _ := http.NewRequest(http.MethodPost, h.app.URL+"/logout", nil)
			for k, v := range tt.headers {
				if v == "SELF" {
					v = h.app.URL
				}
				req.Header.Set(k, v)
			}
			resp, err := noFollow(c).Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			if tt.refused {
				assert.Equal(t, http.StatusForbidden, resp.StatusCode)
				assert.Equal(t, http.StatusOK, h.getJSON(c, "/private").StatusCode, "still logged in")
				assert.Equal(t, 1, countLines(h.logs.String(), "sso: cross-site request refused: "+tt.reason), h.logs.String())
				return
			}
			assert.Equal(t, http.StatusNoContent, resp.StatusCode)
			assertLoggedOut(t, h, c)
		})
	}
}

// TestAnonymousSessionLivesAsLongAsItsState: the session a login start
// creates for an anonymous visitor ends with the login's state (StateTTL),
// not after the session manager's Lifetime; a session holding the
// application's own data keeps its Lifetime; a completed login gets the
// full Lifetime back (RenewToken).
func TestAnonymousSessionLivesAsLongAsItsState(t *testing.T) {
	h := newHarness(t)
	mux := http.NewServeMux()
	mux.Handle("/auth/istores/login", h.auth.Login(istores.Name))
	mux.Handle("/auth/istores/callback", h.auth.Callback(istores.Name))
	mux.Handle("/private", h.auth.Require(http.HandlerFunc(h.private)))
	mux.HandleFunc("/cart", func(w http.ResponseWriter, r *http.Request) { h.sm.Put(r.Context(), "cart", "3 items") })
	srv := httptest.NewServer(h.sm.LoadAndSave(mux))
	t.Cleanup(srv.Close)
	maxAge := func(resp *http.Response) time.Duration {
		t.Helper()
		for _, ck := range resp.Cookies() {
			if ck.Name == "session" {
				return time.Duration(ck.MaxAge) * time.Second
			}
		}
		t.Fatalf("%s: no session cookie set", resp.Request.URL.Path)
		return 0
	}
	lifetime := h.sm.Lifetime

	for _, path := range []string{"/auth/istores/login?return_to=/private", "/private"} {
		c := h.browser()
		resp := h.get(noFollow(c), srv.URL+path)
		require.Equal(t, http.StatusFound, resp.StatusCode)
		assert.LessOrEqual(t, maxAge(resp), sso.DefaultStateTTL+time.Second, path)
		assert.Greater(t, maxAge(resp), sso.DefaultStateTTL-time.Minute, path)
	}

	c := h.browser()
	resp := h.get(noFollow(c), srv.URL+"/cart")
	require.Greater(t, maxAge(resp), lifetime-time.Minute)
	resp = h.get(noFollow(c), srv.URL+"/auth/istores/login?return_to=/private")
	assert.Greater(t, maxAge(resp), lifetime-time.Minute, "the application's session keeps its lifetime")

	c = h.browser()
	resp = h.get(noFollow(c), srv.URL+"/auth/istores/login?return_to=/private")
	require.LessOrEqual(t, maxAge(resp), sso.DefaultStateTTL+time.Second)
	resp = h.get(noFollow(c), resp.Header.Get("Location")) // the stand-in approves
	cb := mustURL(resp.Header.Get("Location"))
	resp = h.get(noFollow(c), srv.URL+cb.RequestURI())
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Greater(t, maxAge(resp), lifetime-time.Minute, "a completed login lives the full Lifetime")
}
