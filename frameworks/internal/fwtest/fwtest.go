// Package fwtest runs an app built on a web framework against the ssotest
// stand-in, and holds the tests every framework app must pass. It is for
// this module's tests only.
package fwtest

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/require"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/internal/testkit"
	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
)

// App builds the app under test on auth and sm, with p's handlers mounted in
// its protected /account group.
type App func(auth *sso.Auth, sm *scs.SessionManager, p *Probe) http.Handler

// Env is one running app: the stand-in, the session manager and Auth the
// app was built on, and an httptest server serving it.
type Env struct {
	t        *testing.T
	Stand    *ssotest.Server
	Sessions *scs.SessionManager
	Auth     *sso.Auth
	Probe    *Probe
	Server   *httptest.Server
}

// Start serves app, built on an Auth with both providers on a new
// stand-in that approves every login at once. Everything is closed when the
// test ends.
func Start(t *testing.T, app App) *Env {
	t.Helper()
	e := &Env{t: t}
	e.Stand = ssotest.NewServer(ssotest.Options{AutoApprove: true})
	t.Cleanup(e.Stand.Close)

	// The redirect URLs need the app's address before the app exists.
	e.Server = httptest.NewUnstartedServer(nil)
	base := "http://" + e.Server.Listener.Addr().String()
	ist, mc := testkit.Providers(t, e.Stand, base, func(ic *istores.Config, _ *multicart.Config) {
		ic.Scopes = []string{istores.ScopeProductsRead}
	})

	e.Sessions = scs.New()
	var err error
	e.Auth, err = sso.New(sso.Config{
		Sessions:       e.Sessions,
		Providers:      []sso.Provider{ist, mc},
		Logger:         slog.New(slog.DiscardHandler),
		InsecureCookie: true, // httptest serves plain http
	})
	require.NoError(t, err)
	e.Probe = newProbe(e.Sessions)
	t.Cleanup(e.Probe.release)

	e.Server.Config.Handler = app(e.Auth, e.Sessions, e.Probe)
	e.Server.Start()
	t.Cleanup(e.Server.Close)
	return e
}

// Browser returns a client with its own cookie jar that follows redirects.
// Its timeout only bounds a failing test.
func (e *Env) Browser() *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(e.t, err)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

// NoFollow returns a client sharing c's cookies that stops at redirects.
func NoFollow(c *http.Client) *http.Client {
	return &http.Client{Jar: c.Jar, Timeout: c.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// Accept header values.
const (
	HTML = "text/html,application/xhtml+xml,*/*;q=0.8" // a browser loading a page
	JSON = "application/json"                          // an API client
)

// Do sends a request to the app (or to an absolute URL) with the given
// Accept header. The body is closed when the test ends.
func (e *Env) Do(c *http.Client, method, path, accept string) *http.Response {
	e.t.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = e.Server.URL + path
	}
	req, err := http.NewRequest(method, u, nil)
	require.NoError(e.t, err)
	req.Header.Set("Accept", accept)
	resp, err := c.Do(req)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// Login runs a login through provider with c, step by step, and returns
// the session cookie c had before the callback and the callback's response.
func (e *Env) Login(c *http.Client, provider string) (before string, callback *http.Response) {
	e.t.Helper()
	nf := NoFollow(c)
	resp := e.Do(nf, http.MethodGet, "/auth/"+provider+"/login?return_to=/account/me", HTML)
	require.Equal(e.t, http.StatusFound, resp.StatusCode)
	require.Len(e.t, SessionCookies(resp, e.Sessions.Cookie.Name), 1, "the pending login is saved")
	resp = e.Do(nf, http.MethodGet, resp.Header.Get("Location"), HTML) // the stand-in approves
	require.Equal(e.t, http.StatusFound, resp.StatusCode)
	before = e.SessionCookie(c)
	require.NotEmpty(e.t, before)
	callback = e.Do(nf, http.MethodGet, resp.Header.Get("Location"), HTML)
	require.Equal(e.t, http.StatusFound, callback.StatusCode)
	return before, callback
}

// LoggedIn returns a browser logged in through provider.
func (e *Env) LoggedIn(provider string) *http.Client {
	e.t.Helper()
	c := e.Browser()
	e.Login(c, provider)
	return c
}

// SessionCookie returns the value of the session cookie c holds for the app.
func (e *Env) SessionCookie(c *http.Client) string {
	u, err := url.Parse(e.Server.URL)
	require.NoError(e.t, err)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == e.Sessions.Cookie.Name {
			return ck.Value
		}
	}
	return ""
}

// SessionCookies returns the Set-Cookie headers of resp that set the
// cookie called name.
func SessionCookies(resp *http.Response, name string) []*http.Cookie {
	var out []*http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == name {
			out = append(out, ck)
		}
	}
	return out
}

// DecodeJSON decodes resp's body into a new T.
func DecodeJSON[T any](t *testing.T, resp *http.Response) T {
	t.Helper()
	var v T
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	return v
}

// ReadStream reads resp's first line, then releases the stream handler and
// reads the rest. If the first line was not flushed, the read blocks until
// the client gives up: the handler is waiting for the release.
func (e *Env) ReadStream(resp *http.Response) (first, rest string) {
	e.t.Helper()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	require.NoError(e.t, err)
	e.Probe.release()
	b, err := io.ReadAll(br)
	require.NoError(e.t, err)
	return first, string(b)
}
