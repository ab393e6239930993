package sso_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/internal/testkit"
	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
)

// The shared test support of internal/testkit, under the short names this
// package's tests use.
type (
	clock      = testkit.Clock     // shared by the app and the stand-in
	syncBuffer = testkit.LogBuffer // a log sink safe for concurrent handlers
)

func newClock() *clock { return testkit.NewClock() }

// harness is an app using the library against the stand-in.
type harness struct {
	t      testing.TB
	stand  *ssotest.Server
	clock  *clock
	sm     *scs.SessionManager
	auth   *sso.Auth
	app    *httptest.Server
	logs   *syncBuffer
	ist    *istores.Provider
	mc     *multicart.Provider
	api    *httptest.Server // a store API that echoes the Authorization header
	cfg    sso.Config
	mu     sync.Mutex
	tokens []string // every access token a handler saw, for leak checks
}

type harnessOption func(*ssotest.Options, *sso.Config, *http.Client)

// withMulticart wraps the Multicart provider the first app uses.
func withMulticart(wrap func(*multicart.Provider) sso.Provider) harnessOption {
	return func(_ *ssotest.Options, c *sso.Config, _ *http.Client) {
		c.Providers = []sso.Provider{wrapMarker{wrap}}
	}
}

// wrapMarker carries a wrap function through Config.Providers until the
// real providers exist.
type wrapMarker struct {
	wrap func(*multicart.Provider) sso.Provider
}

func (wrapMarker) Name() string                                                    { return "wrap" }
func (wrapMarker) AuthCodeURL(sso.AuthParams) string                               { return "" }
func (wrapMarker) Exchange(context.Context, string, string) (*oauth2.Token, error) { return nil, nil }

func withTokenTTL(d time.Duration) harnessOption {
	return func(o *ssotest.Options, _ *sso.Config, _ *http.Client) { o.AccessTokenTTL = d }
}

func withConfig(f func(*sso.Config)) harnessOption {
	return func(_ *ssotest.Options, c *sso.Config, _ *http.Client) { f(c) }
}

// withSessions configures the harness's session manager before New.
func withSessions(f func(*scs.SessionManager)) harnessOption {
	return func(_ *ssotest.Options, c *sso.Config, _ *http.Client) {
		if c.Sessions == nil {
			c.Sessions = scs.New()
		}
		f(c.Sessions)
	}
}

func withStand(f func(*ssotest.Options)) harnessOption {
	return func(o *ssotest.Options, _ *sso.Config, _ *http.Client) { f(o) }
}

func withTokenTimeout(d time.Duration) harnessOption {
	return func(_ *ssotest.Options, _ *sso.Config, hc *http.Client) { hc.Timeout = d }
}

func newHarness(t testing.TB, opts ...harnessOption) *harness {
	t.Helper()
	h := &harness{t: t, clock: newClock(), logs: &syncBuffer{}}
	so := ssotest.Options{AutoApprove: true, Now: h.clock.Now}
	cfg := sso.Config{
		Logger:         slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:            h.clock.Now,
		InsecureCookie: true,
	}
	hc := &http.Client{}
	for _, o := range opts {
		o(&so, &cfg, hc)
	}
	if cfg.Locker == nil {
		// One lock store for every instance of the test, as instances
		// behind a load balancer share one (see harness.second).
		cfg.Locker = sso.NewLocalLocker()
	}
	h.stand = ssotest.NewServer(so)
	t.Cleanup(h.stand.Close)

	h.app = httptest.NewUnstartedServer(nil)
	base := "http://" + h.app.Listener.Addr().String()
	var err error
	h.ist, h.mc = testkit.Providers(t, h.stand, base, func(ic *istores.Config, mc *multicart.Config) {
		ic.HTTPClient, mc.HTTPClient, mc.Now = hc, hc, h.clock.Now
	})

	h.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("Authorization"))
	}))
	t.Cleanup(h.api.Close)

	if cfg.Sessions == nil { // withSessions may have made one
		cfg.Sessions = scs.New()
	}
	h.sm = cfg.Sessions
	var mcP sso.Provider = h.mc
	if len(cfg.Providers) == 1 {
		if wm, ok := cfg.Providers[0].(wrapMarker); ok {
			mcP = wm.wrap(h.mc)
		}
	}
	cfg.Providers = []sso.Provider{h.ist, mcP}
	h.cfg = cfg
	h.auth, err = sso.New(cfg)
	require.NoError(t, err)
	h.app.Config.Handler = h.routes(h.auth, h.sm)
	h.app.Start()
	t.Cleanup(h.app.Close)
	return h
}

// second starts another instance of the app sharing the first one's
// session store and providers, as a second app server behind a load
// balancer would. It uses the unwrapped providers, and the first one's
// Locker, as instances sharing a lock store do, unless a change of cfg says
// otherwise.
func (h *harness) second(changes ...func(*sso.Config)) *httptest.Server {
	sm := scs.New()
	sm.Store = h.sm.Store
	cfg := h.cfg
	cfg.Sessions = sm
	cfg.Providers = []sso.Provider{h.ist, h.mc}
	for _, change := range changes {
		change(&cfg)
	}
	a, err := sso.New(cfg)
	require.NoError(h.t, err)
	srv := httptest.NewServer(h.routes(a, sm))
	h.t.Cleanup(srv.Close)
	return srv
}

func (h *harness) routes(auth *sso.Auth, sm *scs.SessionManager) http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{istores.Name, multicart.Name} {
		mux.Handle("/auth/"+p+"/login", auth.Login(p))
		mux.Handle("/auth/"+p+"/callback", auth.Callback(p))
	}
	mux.Handle("/logout", auth.Logout())
	mux.Handle("/private", auth.Require(http.HandlerFunc(h.private)))
	mux.Handle("/private/", auth.Require(http.HandlerFunc(h.private)))
	mux.Handle("/products", auth.RequireScopes(istores.ScopeProductsRead)(http.HandlerFunc(h.private)))
	mux.Handle("/charge", auth.RequireScopes(istores.ScopeChargeCard)(http.HandlerFunc(h.private)))
	mux.HandleFunc("/call", func(w http.ResponseWriter, r *http.Request) {
		resp, err := auth.Client(r.Context()).Get(h.api.URL)
		if err != nil {
			http.Error(w, "call failed", http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		_, _ = io.Copy(w, resp.Body)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "home "+r.URL.RequestURI()) })
	return sm.LoadAndSave(mux)
}

// private is a protected handler: it answers what it finds in the context.
type privateView struct {
	Provider string         `json:"provider"`
	Subject  string         `json:"subject"`
	Scopes   []string       `json:"scopes"`
	Expiry   time.Time      `json:"expiry"`
	Claims   map[string]any `json:"claims"`
	IDSub    string         `json:"id_sub"`
	Path     string         `json:"path"`
}

func (h *harness) private(w http.ResponseWriter, r *http.Request) {
	tok, ok := sso.TokenFromContext(r.Context())
	if !ok {
		http.Error(w, "no token in context", http.StatusInternalServerError)
		return
	}
	h.mu.Lock()
	h.tokens = append(h.tokens, tok.AccessToken)
	h.mu.Unlock()
	v := privateView{Provider: tok.Provider, Scopes: tok.Scopes, Expiry: tok.Expiry, Path: r.URL.RequestURI()}
	if p, _ := sso.ProviderFromContext(r.Context()); p != tok.Provider {
		http.Error(w, "ProviderFromContext disagrees with the token", http.StatusInternalServerError)
		return
	}
	if c, ok := sso.ClaimsFromContext(r.Context()); ok {
		v.Subject, v.Claims = c.Subject(), c.Map()
	}
	if c, ok := sso.IDClaimsFromContext(r.Context()); ok {
		v.IDSub = c.Subject()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// browser is a cookie-jar client that follows redirects, as a browser does.
func (h *harness) browser() *http.Client { return testkit.Browser(h.t) }

// noFollow returns a client sharing c's cookies that stops at redirects.
func noFollow(c *http.Client) *http.Client { return testkit.NoFollow(c) }

// get sends a browser-style GET (Accept: text/html).
func (h *harness) get(c *http.Client, path string) *http.Response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.url(path), nil)
	require.NoError(h.t, err)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	resp, err := c.Do(req)
	require.NoError(h.t, err)
	h.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// getJSON sends an API-style GET (Accept: application/json).
func (h *harness) getJSON(c *http.Client, path string) *http.Response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.url(path), nil)
	require.NoError(h.t, err)
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	require.NoError(h.t, err)
	h.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (h *harness) url(path string) string {
	if strings.HasPrefix(path, "http") {
		return path
	}
	return h.app.URL + path
}

// login runs a whole login through provider with a browser and returns it.
func (h *harness) login(provider string) *http.Client {
	h.t.Helper()
	c := h.browser()
	resp := h.get(c, "/auth/"+provider+"/login?return_to=/private")
	require.Equal(h.t, http.StatusOK, resp.StatusCode, body(resp))
	return c
}

// startLogin begins a login and returns the provider's redirect back to
// the app (the callback URL with code and state), without following it.
func (h *harness) startLogin(c *http.Client, provider, returnTo string) *url.URL {
	h.t.Helper()
	nf := noFollow(c)
	resp := h.get(nf, "/auth/"+provider+"/login?return_to="+url.QueryEscape(returnTo))
	require.Equal(h.t, http.StatusFound, resp.StatusCode)
	resp = h.get(nf, resp.Header.Get("Location")) // the stand-in approves at once
	require.Equal(h.t, http.StatusFound, resp.StatusCode)
	u, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(h.t, err)
	return u
}

func (h *harness) view(resp *http.Response) privateView {
	h.t.Helper()
	var v privateView
	require.NoError(h.t, json.NewDecoder(resp.Body).Decode(&v))
	return v
}

func body(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func sessionCookie(c *http.Client, u string) string {
	pu, _ := url.Parse(u)
	for _, ck := range c.Jar.Cookies(pu) {
		if ck.Name == "session" {
			return ck.Value
		}
	}
	return ""
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
