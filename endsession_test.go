package sso_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/internal/testkit"
	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
)

// endSessionApp is an app whose Multicart provider logs out at the
// provider too (when configured) and mounts Auth.LogoutCallback.
type endSessionApp struct {
	stand *ssotest.Server
	srv   *httptest.Server
	clock *testkit.Clock
	logs  *testkit.LogBuffer
}

func newEndSessionApp(t *testing.T, so ssotest.Options, configure func(base string, mc *multicart.Config)) *endSessionApp {
	t.Helper()
	e := &endSessionApp{clock: testkit.NewClock(), logs: &testkit.LogBuffer{}}
	so.AutoApprove, so.Now = true, e.clock.Now
	e.stand = ssotest.NewServer(so)
	t.Cleanup(e.stand.Close)
	e.srv = httptest.NewUnstartedServer(nil)
	base := "http://" + e.srv.Listener.Addr().String()
	ist, mc := testkit.Providers(t, e.stand, base, func(_ *istores.Config, mc *multicart.Config) {
		mc.Now = e.clock.Now // discovery, which testkit uses, publishes the end-session endpoint
		if configure != nil {
			configure(base, mc)
		}
	})
	sm := scs.New()
	auth, err := sso.New(sso.Config{Sessions: sm, Providers: []sso.Provider{mc, ist}, InsecureCookie: true,
		Now: e.clock.Now, AfterLogoutPath: "/bye", Logger: slog.New(slog.NewTextHandler(e.logs, nil))})
	require.NoError(t, err)
	mux := http.NewServeMux()
	for _, p := range []string{multicart.Name, istores.Name} {
		mux.Handle("/auth/"+p+"/login", auth.Login(p))
		mux.Handle("/auth/"+p+"/callback", auth.Callback(p))
	}
	mux.Handle("/logout", auth.Logout())
	mux.Handle("/logout/return", auth.LogoutCallback())
	mux.Handle("/id-token", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := sso.IDTokenFromContext(r.Context())
		if !ok {
			tok = "none"
		}
		_, _ = io.WriteString(w, tok)
	})))
	mux.HandleFunc("/bye", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "bye") })
	e.srv.Config.Handler = sm.LoadAndSave(mux)
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

// withEndSession opts Multicart in to logout at the provider.
func withEndSession(base string, mc *multicart.Config) {
	mc.PostLogoutRedirectURL = base + "/logout/return"
}

func (e *endSessionApp) do(t *testing.T, c *http.Client, method, u, accept string) (*http.Response, string) {
	t.Helper()
	if !strings.HasPrefix(u, "http") {
		u = e.srv.URL + u
	}
	req, err := http.NewRequest(method, u, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", accept)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// login logs a new browser in through provider and returns it (not
// following redirects) with the raw ID token the app holds ("none").
func (e *endSessionApp) login(t *testing.T, provider string) (*http.Client, string) {
	t.Helper()
	c := testkit.Browser(t)
	resp, _ := e.do(t, c, http.MethodGet, "/auth/"+provider+"/login?return_to=/bye", "text/html")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, idToken := e.do(t, c, http.MethodGet, "/id-token", "application/json")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return testkit.NoFollow(c), idToken
}

func TestLogoutAtTheProvider(t *testing.T) {
	t.Parallel()
	e := newEndSessionApp(t, ssotest.Options{}, withEndSession)
	c, idToken := e.login(t, multicart.Name)
	require.NotEqual(t, "none", idToken, "IDTokenFromContext has the Multicart ID token")

	resp, _ := e.do(t, c, http.MethodPost, "/logout", "text/html")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	to, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, e.stand.Multicart().EndSessionURL, to.Scheme+"://"+to.Host+to.Path, "the end-session endpoint from discovery")
	q := to.Query()
	assert.Equal(t, idToken, q.Get("id_token_hint"))
	assert.Equal(t, e.stand.Multicart().Client.ID, q.Get("client_id"))
	assert.Equal(t, e.srv.URL+"/logout/return", q.Get("post_logout_redirect_uri"))
	assert.Len(t, q.Get("state"), 43, "32 random bytes")
	var kept []*http.Cookie // the new session's cookie (the old one is deleted)
	for _, ck := range resp.Cookies() {
		if ck.MaxAge >= 0 && ck.Value != "" {
			kept = append(kept, ck)
		}
	}
	require.Len(t, kept, 1, "one session holds the logout state")
	assert.WithinDuration(t, time.Now().Add(sso.DefaultStateTTL), kept[0].Expires, time.Minute,
		"the session holding the logout state lives as long as the state")

	resp, _ = e.do(t, c, http.MethodGet, "/id-token", "application/json")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the local session ended before leaving")

	resp, _ = e.do(t, c, http.MethodGet, to.String(), "text/html")
	require.Equal(t, http.StatusFound, resp.StatusCode, "the stand-in ends its session and returns")
	back := resp.Header.Get("Location")
	resp, _ = e.do(t, c, http.MethodGet, back, "text/html")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/bye", resp.Header.Get("Location"))
	require.Len(t, e.stand.EndSessionRequests(), 1)

	// The state is single use.
	resp, page := e.do(t, c, http.MethodGet, back, "text/html")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, page, "<h1>You&#39;re logged out of the shop</h1>")
	assert.NotContains(t, page, q.Get("state"))
	assert.Equal(t, 1, strings.Count(e.logs.String(), "no logout in progress"), e.logs.String())
	assert.NotContains(t, e.logs.String(), idToken)
}

func TestLogoutReturnStateChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper func(e *endSessionApp, back *url.URL) string
		reason string // in the one log line
	}{
		{"state differs", func(_ *endSessionApp, back *url.URL) string {
			q := back.Query()
			q.Set("state", "forged")
			back.RawQuery = q.Encode()
			return back.String()
		}, "state differs"},
		{"no state", func(_ *endSessionApp, back *url.URL) string {
			back.RawQuery = ""
			return back.String()
		}, "callback has no state: logout return"},
		{"too late", func(e *endSessionApp, back *url.URL) string {
			e.clock.Advance(sso.DefaultStateTTL + time.Second)
			return back.String()
		}, "login took too long: logout return"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEndSessionApp(t, ssotest.Options{}, withEndSession)
			c, _ := e.login(t, multicart.Name)
			resp, _ := e.do(t, c, http.MethodPost, "/logout", "text/html")
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			resp, _ = e.do(t, c, http.MethodGet, resp.Header.Get("Location"), "text/html")
			require.Equal(t, http.StatusFound, resp.StatusCode)
			back, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			resp, page := e.do(t, c, http.MethodGet, tt.tamper(e, back), "text/html")
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Contains(t, page, "<h1>You&#39;re logged out of the shop</h1>")
			logs := e.logs.String()
			assert.Equal(t, 1, strings.Count(logs, "sso: request refused"), logs)
			assert.Contains(t, logs, tt.reason)
		})
	}
}

func TestLogoutStaysLocal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		so        ssotest.Options
		configure func(base string, mc *multicart.Config)
		provider  string
		accept    string
	}{
		{"not opted in", ssotest.Options{}, nil, multicart.Name, "text/html"},
		{"provider without end-session", ssotest.Options{}, withEndSession, istores.Name, "text/html"},
		{"no discovery document", ssotest.Options{NoDiscovery: true}, withEndSession, multicart.Name, "text/html"},
		{"API client", ssotest.Options{}, withEndSession, multicart.Name, "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEndSessionApp(t, tt.so, tt.configure)
			c, _ := e.login(t, tt.provider)
			resp, _ := e.do(t, c, http.MethodPost, "/logout", tt.accept)
			if tt.accept == "text/html" {
				assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
				assert.Equal(t, "/bye", resp.Header.Get("Location"))
			} else {
				assert.Equal(t, http.StatusNoContent, resp.StatusCode)
			}
			assert.Empty(t, e.stand.EndSessionRequests())
			resp, _ = e.do(t, c, http.MethodGet, "/id-token", "application/json")
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		})
	}
}

func TestLogoutAtAConfiguredEndSessionURL(t *testing.T) {
	t.Parallel()
	var stand string
	e := newEndSessionApp(t, ssotest.Options{NoDiscovery: true}, func(base string, mc *multicart.Config) {
		withEndSession(base, mc)
		stand = strings.TrimSuffix(mc.TokenURL, "/api/connect/token")
		mc.EndSessionURL = stand + "/connect/endsession?tenant=1"
	})
	c, _ := e.login(t, multicart.Name)
	resp, _ := e.do(t, c, http.MethodPost, "/logout", "text/html")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	to, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, stand+"/connect/endsession", to.Scheme+"://"+to.Host+to.Path)
	assert.Equal(t, "1", to.Query().Get("tenant"), "the endpoint's own query is kept")
	assert.NotEmpty(t, to.Query().Get("state"))
}

func TestIDTokenFromContext(t *testing.T) {
	t.Parallel()
	e := newEndSessionApp(t, ssotest.Options{}, nil)
	_, id := e.login(t, multicart.Name)
	c, err := sso.ParseClaims(id)
	require.NoError(t, err)
	assert.Equal(t, "customer-1", c.Subject())
	_, id = e.login(t, istores.Name)
	assert.Equal(t, "none", id, "Istores logins have no ID token")
	_, ok := sso.IDTokenFromContext(t.Context())
	assert.False(t, ok, "outside Require")
}
