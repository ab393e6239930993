package fwtest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
)

// Subject is the "sub" the stand-in gives every customer.
const Subject = "customer-1"

// Me is the body of the apps' GET /account/me and POST /account/visits.
type Me struct {
	Provider string `json:"provider"`
	Subject  string `json:"subject"`
	Visits   int    `json:"visits"`
}

// Run runs the tests every framework app must pass, each against its own
// [Env]. Besides the probe handlers (see [ProbePath]), the app mounts:
// GET /auth/{istores,multicart}/login and /callback, POST /logout, and in
// its protected /account group GET /account/me (answering [Me] from the
// request context and the session) and POST /account/visits (adding one to
// the session's visit count, then answering [Me] through the framework's
// JSON helper).
func Run(t *testing.T, app App) {
	tests := []struct {
		name string
		run  func(t *testing.T, e *Env)
	}{
		{"anonymous page load is sent to the provider, handler not run", anonymousPageLoad},
		{"anonymous API request gets 401, handler not run", anonymousAPIRequest},
		{"callback renews the session cookie", callbackRenewsSession},
		{"istores login reaches the handler", loginReachesHandler(istores.Name)},
		{"multicart login reaches the handler", loginReachesHandler(multicart.Name)},
		{"session change before a JSON write is kept", sessionChangeBeforeJSON},
		{"flush after a session change sends the cookie", flushAfterSessionChange},
		{"logout ends the login", logoutEndsLogin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, Start(t, app))
		})
	}
}

func anonymousPageLoad(t *testing.T, e *Env) {
	resp := e.Do(NoFollow(e.Browser()), http.MethodGet, ProbePath+"?page=2", HTML)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc := resp.Header.Get("Location")
	assert.True(t, strings.HasPrefix(loc, e.Stand.Istores().AuthURL+"?"), loc)
	assert.Len(t, SessionCookies(resp, e.Sessions.Cookie.Name), 1, "the pending login is saved")
	assert.Zero(t, e.Probe.Calls(), "the protected handler must not run")
}

func anonymousAPIRequest(t *testing.T, e *Env) {
	for _, req := range []struct{ method, path, accept string }{
		{http.MethodGet, ProbePath, JSON},
		{http.MethodPost, "/account/visits", HTML}, // not a page load, even from a browser
	} {
		resp := e.Do(NoFollow(e.Browser()), req.method, req.path, req.accept)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, req.method)
		assert.NotEmpty(t, resp.Header.Get("WWW-Authenticate"), req.method)
		assert.Empty(t, resp.Header.Get("Location"), req.method)
	}
	assert.Zero(t, e.Probe.Calls(), "the protected handler must not run")
	assert.Empty(t, e.Stand.AuthorizeRequests(), "no login was started")
}

func callbackRenewsSession(t *testing.T, e *Env) {
	c := e.Browser()
	before, cb := e.Login(c, istores.Name)
	assert.Equal(t, "/account/me", cb.Header.Get("Location"))
	cookies := SessionCookies(cb, e.Sessions.Cookie.Name)
	require.Len(t, cookies, 1)
	assert.NotEmpty(t, cookies[0].Value)
	assert.NotEqual(t, before, cookies[0].Value, "login must issue a new session ID")
	assert.Equal(t, cookies[0].Value, e.SessionCookie(c))
	assert.Equal(t, "no-store", cb.Header.Get("Cache-Control"))

	resp := e.Do(c, http.MethodGet, "/account/me", HTML)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, Me{Provider: istores.Name, Subject: Subject}, DecodeJSON[Me](t, resp))
}

func loginReachesHandler(provider string) func(t *testing.T, e *Env) {
	return func(t *testing.T, e *Env) {
		c := e.LoggedIn(provider)
		resp := e.Do(c, http.MethodGet, ProbePath, JSON)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, View{Provider: provider, Subject: Subject, Token: true}, DecodeJSON[View](t, resp))
		assert.Equal(t, 1, e.Probe.Calls())

		resp = e.Do(c, http.MethodGet, "/account/me", JSON)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, Me{Provider: provider, Subject: Subject}, DecodeJSON[Me](t, resp))
	}
}

func sessionChangeBeforeJSON(t *testing.T, e *Env) {
	c := e.LoggedIn(istores.Name)
	for want := 1; want <= 2; want++ {
		resp := e.Do(c, http.MethodPost, "/account/visits", JSON)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, want, DecodeJSON[Me](t, resp).Visits)
		assert.Len(t, SessionCookies(resp, e.Sessions.Cookie.Name), 1)
	}
	resp := e.Do(c, http.MethodGet, "/account/me", JSON)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 2, DecodeJSON[Me](t, resp).Visits, "the count was saved")
}

func flushAfterSessionChange(t *testing.T, e *Env) {
	c := e.LoggedIn(istores.Name)
	resp := e.Do(c, http.MethodGet, StreamPath, "text/plain")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	cookies := SessionCookies(resp, e.Sessions.Cookie.Name)
	require.Len(t, cookies, 1, "the flushed header carries the session cookie")
	assert.Equal(t, e.SessionCookie(c), cookies[0].Value)
	first, rest := e.ReadStream(resp)
	assert.Equal(t, StreamFirst, first, "flushed before the handler returned")
	assert.Equal(t, StreamLast, rest)

	resp = e.Do(c, http.MethodGet, ProbePath, JSON)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "yes", DecodeJSON[View](t, resp).Streamed, "the session change was saved")
}

func logoutEndsLogin(t *testing.T, e *Env) {
	c := e.LoggedIn(multicart.Name)
	resp := e.Do(c, http.MethodPost, "/logout", JSON)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	cookies := SessionCookies(resp, e.Sessions.Cookie.Name)
	require.Len(t, cookies, 1)
	assert.Negative(t, cookies[0].MaxAge, "the cookie is deleted")

	resp = e.Do(NoFollow(c), http.MethodGet, ProbePath, JSON)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Zero(t, e.Probe.Calls())
}
