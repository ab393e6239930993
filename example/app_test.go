package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopsso/sso/ssotest"
)

func TestSettingsFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	s, err := settingsFromEnv(env(nil))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8080", s.Addr)
	assert.True(t, s.usesStandIn())

	s, err = settingsFromEnv(env(map[string]string{
		"ADDR": "0.0.0.0:9000", "BASE_URL": "https://shop.example/", "ISTORES_CLIENT_ID": "i", "ISTORES_CLIENT_SECRET": "s", "MULTICART_CLIENT_ID": "m",
		"REDIS_URL": "redis://127.0.0.1:6379/0",
	}))
	require.NoError(t, err)
	assert.Equal(t, "https://shop.example", s.BaseURL)
	assert.False(t, s.usesStandIn())
	assert.Equal(t, "redis://127.0.0.1:6379/0", s.RedisURL)

	_, err = settingsFromEnv(env(map[string]string{"ADDR": "nonsense"}))
	assert.Error(t, err)
	_, err = settingsFromEnv(env(map[string]string{"BASE_URL": "ftp://x"}))
	assert.Error(t, err)
}

// exampleApp is one instance of the example on the stand-in, with the
// stand-in's human approval page (no auto-approve).
type exampleApp struct {
	srv   *httptest.Server
	stand *ssotest.Server
	logs  *bytes.Buffer
}

func newExampleApp(t *testing.T, baseScheme string) *exampleApp {
	t.Helper()
	e := &exampleApp{stand: ssotest.NewServer(ssotest.Options{}), logs: &bytes.Buffer{}}
	t.Cleanup(e.stand.Close)
	e.srv = httptest.NewUnstartedServer(nil)
	base := "http://" + e.srv.Listener.Addr().String()
	s := settings{BaseURL: base}
	if baseScheme == "https" {
		base = "https://" + e.srv.Listener.Addr().String()
	}
	a, err := newApp(s, base, slog.New(slog.NewTextHandler(e.logs, nil)), deps{Stand: e.stand})
	require.NoError(t, err)
	t.Cleanup(a.close)
	e.srv.Config.Handler = a.handler
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

func appBrowser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar}
}

func appGet(t *testing.T, c *http.Client, u string, accept string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", accept)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var appHiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)

// approve submits the stand-in's approval form found in page, as a person
// pressing Approve does, and returns the final page.
func appApprove(t *testing.T, c *http.Client, pageURL *url.URL, page string) (*http.Response, string) {
	t.Helper()
	require.Contains(t, page, ">Approve</button>")
	form := url.Values{}
	for _, m := range appHiddenField.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], appUnescape(m[2]))
	}
	form.Set("decision", "approve")
	resp, err := c.PostForm(pageURL.String(), form)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func appUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&quot;", `"`).Replace(s)
}

func TestExampleLoginThroughApprovalPage(t *testing.T) {
	for _, p := range []string{"istores", "multicart"} {
		t.Run(p, func(t *testing.T) {
			e := newExampleApp(t, "http")
			c := appBrowser(t)
			resp, page := appGet(t, c, e.srv.URL+"/", "text/html")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Contains(t, page, `href="/auth/`+p+`/login"`)
			assert.Contains(t, page, "not logged in")

			resp, page = appGet(t, c, e.srv.URL+"/auth/"+p+"/login", "text/html")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			resp, page = appApprove(t, c, resp.Request.URL, page)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "/", resp.Request.URL.Path)
			assert.Contains(t, page, `<strong id="subject">customer-1</strong>`)
			assert.Contains(t, page, `<strong id="provider">`+p+`</strong>`)
			assert.Contains(t, page, `action="/logout"`)

			resp, body := appGet(t, c, e.srv.URL+"/me", "application/json")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			var me map[string]any
			require.NoError(t, json.Unmarshal([]byte(body), &me))
			assert.Equal(t, p, me["provider"])
			assert.Equal(t, "customer-1", me["subject"])
			assert.NotEmpty(t, me["expires_at"])
			assert.NotEmpty(t, me["claims"])
			assert.NotContains(t, body, "eyJ", "never a raw token")

			// GET /logout is a page with the form; only its POST logs out.
			resp, page = appGet(t, c, e.srv.URL+"/logout", "text/html")
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Contains(t, page, `<form method="post" action="/logout">`)
			assert.Contains(t, page, "<h1>Log out?</h1>")
			resp, _ = appGet(t, c, e.srv.URL+"/me", "application/json")
			assert.Equal(t, http.StatusOK, resp.StatusCode, "a GET does not log out")
			req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/logout", nil)
			require.NoError(t, err)
			req.Header.Set("Accept", "text/html")
			resp, err = c.Do(req)
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, "/login", resp.Request.URL.Path, "logging out ends on the chooser")
			assert.Contains(t, string(b), "You have logged out of the shop.")
			// Multicart (on the stand-in) is logged out too, through its
			// end-session endpoint; Istores has none.
			wantEndSession := 0
			if p == "multicart" {
				wantEndSession = 1
			}
			assert.Len(t, e.stand.EndSessionRequests(), wantEndSession)
			resp, _ = appGet(t, c, e.srv.URL+"/me", "application/json")
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			resp, page = appGet(t, c, e.srv.URL+"/logout", "text/html")
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Contains(t, page, "<h1>You&#39;re logged out</h1>")

			logs := e.logs.String()
			for _, r := range e.stand.TokenRequests() {
				for _, k := range []string{"code", "code_verifier", "client_secret"} {
					if v := r.Form.Get(k); v != "" {
						assert.NotContains(t, logs, v, "the log holds no %s", k)
					}
				}
			}
			assert.NotContains(t, logs, "eyJ")
		})
	}
}

// appChoose follows the chooser page's link for provider, as a customer
// pressing "Continue with ..." does, and returns the provider's page.
func appChoose(t *testing.T, c *http.Client, chooser *url.URL, page, provider string) (*http.Response, string) {
	t.Helper()
	m := regexp.MustCompile(`id="choose-` + provider + `" href="([^"]+)"`).FindStringSubmatch(page)
	require.NotNil(t, m, "the chooser offers %s:\n%s", provider, page)
	next, err := chooser.Parse(appUnescape(m[1]))
	require.NoError(t, err)
	return appGet(t, c, next.String(), "text/html")
}

func TestExampleProtectedPageComesBack(t *testing.T) {
	e := newExampleApp(t, "http")
	c := appBrowser(t)
	resp, page := appGet(t, c, e.srv.URL+"/me?view=full", "text/html")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "/login", resp.Request.URL.Path, "a page that needs a login offers the choice")
	assert.Equal(t, "/me?view=full", resp.Request.URL.Query().Get("return_to"))
	resp, page = appChoose(t, c, resp.Request.URL, page, "multicart")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, body := appApprove(t, c, resp.Request.URL, page)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "/me", resp.Request.URL.Path)
	assert.Equal(t, "view=full", resp.Request.URL.RawQuery)
	assert.Contains(t, body, `"subject":"customer-1"`)
}

func TestExampleRefusesForgedAndReplayedCallbacks(t *testing.T) {
	e := newExampleApp(t, "http")
	e.stand.SetAutoApprove(true)
	c := appBrowser(t)
	nf := &http.Client{Jar: c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, _ := appGet(t, nf, e.srv.URL+"/auth/multicart/login", "text/html")
	resp, _ = appGet(t, nf, resp.Header.Get("Location"), "text/html")
	cb := resp.Header.Get("Location")
	require.Contains(t, cb, "/auth/multicart/callback?")

	forged := regexp.MustCompile(`state=[^&]+`).ReplaceAllString(cb, "state=forged")
	resp, _ = appGet(t, nf, forged, "text/html")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = appGet(t, nf, cb, "text/html")
	assert.Equal(t, http.StatusFound, resp.StatusCode, "the genuine callback completes")
	resp, _ = appGet(t, nf, cb, "text/html")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "a replay is refused")
}

func TestExampleCookieSecureOnlyOverHTTPS(t *testing.T) {
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			e := newExampleApp(t, scheme)
			req := httptest.NewRequest(http.MethodGet, "/auth/istores/login", nil)
			rec := httptest.NewRecorder()
			e.srv.Config.Handler.ServeHTTP(rec, req)
			cookie := rec.Header().Get("Set-Cookie")
			require.NotEmpty(t, cookie)
			assert.Equal(t, scheme == "https", strings.Contains(cookie, "; Secure"), cookie)
			assert.Contains(t, cookie, "HttpOnly")
			assert.Contains(t, cookie, "SameSite=Lax")
		})
	}
}

func TestExampleAdminWhoami(t *testing.T) {
	e := newExampleApp(t, "http")
	for range 3 {
		resp, body := appGet(t, http.DefaultClient, e.srv.URL+"/admin/whoami", "application/json")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var v map[string]string
		require.NoError(t, json.Unmarshal([]byte(body), &v))
		assert.Equal(t, e.stand.Multicart().Client.ID, v["subject"])
		assert.NotEmpty(t, v["expires_at"])
		assert.NotContains(t, body, "eyJ")
	}
	assert.Equal(t, 1, e.stand.TokenCalls(ssotest.ProviderMulticart, ssotest.GrantClientCredentials), "cached")
}

// TestExampleAgainstConfiguredProviders points the example, through its
// environment, at provider servers of its own (here a separate stand-in, as
// a staging deployment of the real services would be): it logs customers in
// through both and refuses forged and replayed callbacks.
func TestExampleAgainstConfiguredProviders(t *testing.T) {
	remote := ssotest.NewServer(ssotest.Options{AutoApprove: true, Subject: "remote-customer"})
	t.Cleanup(remote.Close)
	ie, me := remote.Istores(), remote.Multicart()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	env := map[string]string{
		"BASE_URL":          base,
		"ISTORES_CLIENT_ID": ie.Client.ID, "ISTORES_CLIENT_SECRET": ie.Client.Secret,
		"ISTORES_AUTH_URL": ie.AuthURL, "ISTORES_TOKEN_URL": ie.TokenURL,
		"MULTICART_CLIENT_ID": me.Client.ID, "MULTICART_CLIENT_SECRET": me.Client.Secret,
		"MULTICART_AUTH_URL": me.AuthURL, "MULTICART_TOKEN_URL": me.TokenURL,
	}
	s, err := settingsFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	require.False(t, s.usesStandIn())
	a, err := newApp(s, base, slog.New(slog.DiscardHandler), deps{})
	require.NoError(t, err)
	t.Cleanup(a.close)
	srv.Config.Handler = a.handler
	srv.Start()
	t.Cleanup(srv.Close)

	for _, p := range []string{"istores", "multicart"} {
		t.Run(p, func(t *testing.T) {
			c := appBrowser(t)
			nf := &http.Client{Jar: c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, _ := appGet(t, nf, srv.URL+"/auth/"+p+"/login", "text/html")
			require.Equal(t, http.StatusFound, resp.StatusCode)
			require.True(t, strings.HasPrefix(resp.Header.Get("Location"), remote.URL()), "sent to the configured provider")
			resp, _ = appGet(t, nf, resp.Header.Get("Location"), "text/html")
			cb := resp.Header.Get("Location")

			forged := regexp.MustCompile(`state=[^&]+`).ReplaceAllString(cb, "state=forged")
			resp, _ = appGet(t, nf, forged, "text/html")
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)

			resp, _ = appGet(t, nf, cb, "text/html")
			require.Equal(t, http.StatusFound, resp.StatusCode)
			resp, body := appGet(t, c, srv.URL+"/me", "application/json")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Contains(t, body, `"subject":"remote-customer"`)
			assert.Contains(t, body, `"provider":"`+p+`"`)

			resp, _ = appGet(t, nf, cb, "text/html")
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "a replay is refused")
		})
	}
}

// TestExampleServiceClientFromEnv configures the Admin API token's client
// through MULTICART_SERVICE_CLIENT_ID and _SECRET against a provider that
// registers it apart from the login client.
func TestExampleServiceClientFromEnv(t *testing.T) {
	svc := ssotest.Client{ID: "shop-service", Secret: "shop-service-secret"}
	remote := ssotest.NewServer(ssotest.Options{MulticartService: svc})
	t.Cleanup(remote.Close)
	ie, me := remote.Istores(), remote.Multicart()
	tests := []struct {
		name        string
		env         map[string]string
		wantStatus  int
		wantSubject string
	}{
		{"separate service client", map[string]string{
			"MULTICART_SERVICE_CLIENT_ID": svc.ID, "MULTICART_SERVICE_CLIENT_SECRET": svc.Secret,
		}, http.StatusOK, svc.ID},
		{"login client refused by this provider", nil, http.StatusBadGateway, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{
				"ISTORES_CLIENT_ID": ie.Client.ID, "ISTORES_CLIENT_SECRET": ie.Client.Secret,
				"ISTORES_AUTH_URL": ie.AuthURL, "ISTORES_TOKEN_URL": ie.TokenURL,
				"MULTICART_CLIENT_ID": me.Client.ID, "MULTICART_CLIENT_SECRET": me.Client.Secret,
				"MULTICART_AUTH_URL": me.AuthURL, "MULTICART_TOKEN_URL": me.TokenURL,
			}
			for k, v := range tt.env {
				env[k] = v
			}
			s, err := settingsFromEnv(func(k string) string { return env[k] })
			require.NoError(t, err)
			a, err := newApp(s, "http://127.0.0.1:1", slog.New(slog.DiscardHandler), deps{})
			require.NoError(t, err)
			t.Cleanup(a.close)
			rec := httptest.NewRecorder()
			a.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/admin/whoami", nil))
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			if tt.wantSubject != "" {
				var v map[string]string
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
				assert.Equal(t, tt.wantSubject, v["subject"])
			}
			reqs := remote.TokenRequests()
			require.NotEmpty(t, reqs)
			last := reqs[len(reqs)-1]
			assert.Equal(t, ssotest.GrantClientCredentials, last.Grant)
			wantID := me.Client.ID
			if id := tt.env["MULTICART_SERVICE_CLIENT_ID"]; id != "" {
				wantID = id
			}
			assert.Equal(t, wantID, last.Form.Get("client_id"))
		})
	}
}
