package ssotest_test

import (
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopsso/sso/ssotest"
)

func TestEndSessionEndpoint(t *testing.T) {
	t.Parallel()
	s := ssotest.NewServer(ssotest.Options{})
	t.Cleanup(s.Close)
	other := ssotest.NewServer(ssotest.Options{})
	t.Cleanup(other.Close)
	ep := s.Multicart()
	require.NotEmpty(t, ep.EndSessionURL)
	assert.Empty(t, s.Istores().EndSessionURL)
	hint := s.IssueIDToken(nil)
	tests := []struct {
		name     string
		params   url.Values
		status   int
		location string
	}{
		{"hint and redirect", url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://shop.example/back"}, "state": {"s1"}},
			http.StatusFound, "https://shop.example/back?state=s1"},
		{"client_id and redirect", url.Values{"client_id": {ep.Client.ID}, "post_logout_redirect_uri": {"https://shop.example/back?x=1"}},
			http.StatusFound, "https://shop.example/back?x=1"},
		{"no redirect", url.Values{"id_token_hint": {hint}}, http.StatusOK, ""},
		{"unknown client", url.Values{"client_id": {"someone"}, "post_logout_redirect_uri": {"https://shop.example/back"}}, http.StatusBadRequest, ""},
		{"hint from another server", url.Values{"id_token_hint": {other.IssueIDToken(nil)}}, http.StatusBadRequest, ""},
		{"hint for another client", url.Values{"id_token_hint": {s.IssueIDToken(map[string]any{"aud": "other"})}}, http.StatusBadRequest, ""},
		{"redirect without a client", url.Values{"post_logout_redirect_uri": {"https://shop.example/back"}}, http.StatusBadRequest, ""},
		{"relative redirect", url.Values{"client_id": {ep.Client.ID}, "post_logout_redirect_uri": {"/back"}}, http.StatusBadRequest, ""},
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.Get(ep.EndSessionURL + "?" + tt.params.Encode())
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, tt.location, resp.Header.Get("Location"))
		})
	}
	// POST works too (§2), and every request is recorded.
	resp, err := client.PostForm(ep.EndSessionURL, url.Values{"client_id": {ep.Client.ID}, "post_logout_redirect_uri": {"https://shop.example/b"}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	reqs := s.EndSessionRequests()
	require.Len(t, reqs, len(tests)+1)
	assert.Equal(t, "https://shop.example/b", reqs[len(reqs)-1].Get("post_logout_redirect_uri"))
}
