package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExampleOwnNotFoundAndMethodPages(t *testing.T) {
	e := newExampleApp(t, "http")
	c := appBrowser(t)
	tests := []struct {
		name, method, path, accept string
		status                     int
		want                       string // in the body
		allow                      string
	}{
		{"unknown page", http.MethodGet, "/no-such-page", "text/html", 404, "<h1>We can&#39;t find that page</h1>", ""},
		{"unknown page, API", http.MethodGet, "/no-such-page", "application/json", 404, `{"error":"not_found"}`, ""},
		{"POST to a page", http.MethodPost, "/me", "text/html", 405, "<h1>This page can&#39;t be used that way</h1>", "GET"},
		{"PUT to logout", http.MethodPut, "/logout", "text/html", 405, "<h1>This page can&#39;t be used that way</h1>", "GET, POST"},
		{"POST to a page, API", http.MethodPost, "/login", "application/json", 405, `{"error":"method_not_allowed"}`, "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, e.srv.URL+tt.path, nil)
			require.NoError(t, err)
			req.Header.Set("Accept", tt.accept)
			resp, err := c.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Contains(t, b.String(), tt.want)
			assert.Equal(t, tt.allow, resp.Header.Get("Allow"))
			if tt.accept == "text/html" {
				assert.Contains(t, b.String(), `<meta name="viewport" content="width=device-width, initial-scale=1">`)
			} else {
				assert.True(t, json.Valid([]byte(b.String())), b.String())
			}
		})
	}
}

func TestExampleChooserKeepsOnlyRelativeReturnTargets(t *testing.T) {
	e := newExampleApp(t, "http")
	c := appBrowser(t)
	tests := []struct{ name, returnTo, want string }{
		{"a page", "/me?view=full", `return_to=%2fme%3fview%3dfull`},
		{"none", "", `return_to=%2f"`},
		{"another site", "https://evil.example/", `return_to=%2f"`},
		{"scheme-relative", "//evil.example/", `return_to=%2f"`},
		{"markup", `/"><script>x</script>`, `return_to=%2f%22%3e%3cscript%3ex%3c%2fscript%3e"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, page := appGet(t, c, e.srv.URL+"/login?return_to="+url.QueryEscape(tt.returnTo), "text/html")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Contains(t, page, `id="choose-istores" href="/auth/istores/login?`+tt.want)
			assert.NotContains(t, page, "<script>")
		})
	}
}

func TestExampleGreetsByName(t *testing.T) {
	e := newExampleApp(t, "http")
	c := appBrowser(t)
	resp, page := appGet(t, c, e.srv.URL+"/auth/multicart/login", "text/html")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, page = appApprove(t, c, resp.Request.URL, page)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, page, "<h1>Hello, Test Customer</h1>", "the ID token's name")
	assert.Contains(t, page, `<strong id="subject">customer-1</strong>`)
}
