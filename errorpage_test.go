package sso_test

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
)

// httpJargon are the status texts the old pages were titled with; a page
// a customer reads is titled in plain words instead.
var httpJargon = []string{"Bad Request", "Forbidden", "Unauthorized", "Method Not Allowed", "Bad Gateway",
	"Gateway Timeout", "Internal Server Error", "Service Unavailable"}

func TestDefaultErrorPages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		status   int
		code     string // the JSON body's error, unchanged for API clients
		title    string
		declined bool
		retry    bool
	}{
		{"state mismatch", sso.ErrStateMismatch, 400, "login_failed", "We couldn't log you in", false, true},
		{"provider error", &sso.ProviderError{Code: "server_error"}, 400, "login_failed", "We couldn't log you in", false, true},
		{"declined, sentinel", sso.ErrAccessDenied, 403, "login_failed", "You didn't log in", true, true},
		{"declined, provider error", &sso.ProviderError{Code: "access_denied"}, 403, "login_failed", "You didn't log in", true, true},
		{"login required", sso.ErrLoginRequired, 401, "login_required", "Please log in again", false, true},
		{"scope", sso.ErrInsufficientScope, 403, "insufficient_scope", "You can't open this page", false, false},
		{"rejected", sso.ErrLoginRejected, 403, "login_rejected", "This account can't log in here", false, false},
		{"cross-site", sso.ErrCrossSite, 403, "cross_site", "We stopped a request from another site", false, false},
		{"method", sso.ErrMethod, 405, "method_not_allowed", "This page can't be used that way", false, false},
		{"provider down", sso.ErrProviderUnavailable, 502, "provider_unavailable", "The login service isn't answering", false, true},
		{"store unavailable", sso.ErrStoreUnavailable, 503, "store_unavailable", "We're briefly unavailable", false, true},
		{"store down", sso.ErrSession, 500, "server_error", "Something went wrong on our side", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := errors.Join(tt.err, errors.New("secret detail <b>"))

			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/auth/x/callback", nil)
			req.Header.Set("Accept", "text/html")
			sso.DefaultErrorHandler(rec, req, err)
			page := rec.Body.String()
			assert.Equal(t, tt.status, rec.Code)
			assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			assert.Contains(t, page, `<meta name="viewport" content="width=device-width, initial-scale=1">`)
			assert.Contains(t, page, "<title>"+template.HTMLEscapeString(tt.title)+"</title>")
			assert.Contains(t, page, "<h1>"+template.HTMLEscapeString(tt.title)+"</h1>")
			assert.Contains(t, page, "<style>", "styled inline")
			for _, external := range []string{"<link", "<script", "<img", "url("} {
				assert.NotContains(t, page, external, "self-contained")
			}
			for _, j := range httpJargon {
				assert.NotContains(t, page, j)
			}
			assert.NotContains(t, page, "secret detail")
			assert.Equal(t, tt.declined, strings.Contains(page, "Choose how to log in"), "the declined page's own button")
			assert.Equal(t, tt.retry, strings.Contains(page, ">Try again<") || tt.declined)

			rec = httptest.NewRecorder()
			req = httptest.NewRequest(http.MethodGet, "/api", nil)
			req.Header.Set("Accept", "application/json")
			sso.DefaultErrorHandler(rec, req, err)
			assert.Equal(t, tt.status, rec.Code)
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			assert.JSONEq(t, `{"error":"`+tt.code+`"}`, rec.Body.String())
		})
	}
}

func TestDeclinedLoginGetsItsOwnPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withConfig(func(c *sso.Config) { c.LoginPath = "/choose" }))
	h.stand.Inject(ssotest.Failure{Deny: true})
	c := h.browser()
	cb := h.startLogin(c, multicart.Name, "/private")
	resp := h.get(noFollow(c), cb.String())
	page := body(resp)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, page, "<h1>You didn&#39;t log in</h1>")
	assert.Contains(t, page, `href="/choose">Choose how to log in</a>`, "the retry goes to Config.LoginPath")
	assert.NotContains(t, page, "couldn&#39;t log you in")
}

func TestErrorTemplate(t *testing.T) {
	t.Parallel()
	tmpl := template.Must(template.New("shop").Parse(
		`<p id=shop>{{.Status}}|{{.Title}}|{{.Message}}|{{.Code}}|{{.Declined}}|{{.RetryURL}}|{{.HomeURL}}</p>`))
	h := newHarness(t, withConfig(func(c *sso.Config) { c.ErrorTemplate = tmpl; c.LoginPath = "/choose" }))
	c := h.browser()
	cb := h.startLogin(c, multicart.Name, "/private")

	resp := h.get(noFollow(c), withQuery(cb, "state", "forged"))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "<p id=shop>400|We couldn&#39;t log you in|The login could not be completed. Please start again.|login_failed|false|/choose|/</p>",
		body(resp))

	req, err := http.NewRequest(http.MethodGet, withQuery(cb, "state", "forged"), nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/json")
	resp, err = noFollow(c).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var got map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	assert.Equal(t, map[string]string{"error": "login_failed"}, got, "API clients still get JSON")
}

func TestBrokenErrorTemplateFallsBackToTheDefaultPage(t *testing.T) {
	t.Parallel()
	tmpl := template.Must(template.New("broken").Parse(`{{.NoSuchField}}`))
	h := newHarness(t, withConfig(func(c *sso.Config) { c.ErrorTemplate = tmpl }))
	resp := h.get(h.browser(), "/auth/multicart/callback?state=x&code=y")
	page := body(resp)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, page, "<h1>We couldn&#39;t log you in</h1>")
	assert.Equal(t, 1, strings.Count(h.logs.String(), "sso: error template failed"), h.logs.String())
}

func TestErrorHandlerAndTemplateAreExclusive(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cfg := h.cfg
	cfg.ErrorHandler = sso.DefaultErrorHandler
	cfg.ErrorTemplate = template.Must(template.New("x").Parse("x"))
	_, err := sso.New(cfg)
	assert.ErrorContains(t, err, "not both")
}
