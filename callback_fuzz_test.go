package sso_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/multicart"
)

// FuzzCallbackQuery sends arbitrary query strings to the callback of a
// browser with a pending login. Whatever the query, the answer is a 4xx
// that echoes nothing, no token call is made without the right state, and
// the browser's session is not changed (no Set-Cookie), so it is not
// logged in.
func FuzzCallbackQuery(f *testing.F) {
	h := newHarness(f)
	c := h.browser()
	cb := h.startLogin(c, multicart.Name, "/private")
	state := cb.Query().Get("state")
	var cookies []*http.Cookie
	cookies = append(cookies, c.Jar.Cookies(mustURL(h.app.URL))...)
	handler := h.app.Config.Handler

	// The only pages the callback may answer with: the default error page
	// of each error kind, which contains nothing from the request.
	pages := map[string]bool{}
	for _, err := range []error{sso.ErrStateMissing, sso.ErrStateMismatch, sso.ErrMethod,
		&sso.ProviderError{Code: "access_denied"}} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Accept", "text/html")
		sso.DefaultErrorHandler(rec, req, err)
		pages[rec.Body.String()] = true
	}

	for _, seed := range []string{
		"", "state=", "code=x", "state=x&code=y", "error=access_denied&state=x",
		"state=" + state[:10] + "&code=c", "state=%ZZ", "state=a&state=b", "code=%00&state=%0a",
		"error=<script>&error_description=<b>hi</b>", strings.Repeat("a=b&", 300),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		if q, err := url.ParseQuery(query); err == nil && slices.Contains(q["state"], state) {
			return // the real state completes a real login; not what this target checks
		}
		if strings.Contains(query, state) {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "/auth/multicart/callback", nil)
		req.URL.RawQuery = query
		req.Header.Set("Accept", "text/html")
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		calls := h.stand.TokenCalls("", "")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code < 400 || rec.Code >= 500 {
			t.Fatalf("query %q: status %d", query, rec.Code)
		}
		if h.stand.TokenCalls("", "") != calls {
			t.Fatalf("query %q reached the token endpoint", query)
		}
		if !pages[rec.Body.String()] {
			t.Fatalf("query %q: the page is not one of the fixed error pages:\n%s", query, rec.Body.String())
		}
		if rec.Header().Get("Set-Cookie") != "" {
			t.Fatalf("query %q changed the session", query)
		}
	})
}
