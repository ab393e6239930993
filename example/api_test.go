package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopsso/sso/ssotest"
)

// TestExampleAPIMe calls GET /api/me as a single-page client would, with
// access tokens minted by the stand-in.
func TestExampleAPIMe(t *testing.T) {
	e := newExampleApp(t, "http")
	issue := func(claims map[string]any) string {
		return e.stand.IssueAccessToken(ssotest.ProviderMulticart, claims)
	}
	tests := []struct {
		name       string
		token      string
		wantStatus int
		wantAuth   string // a part of WWW-Authenticate
	}{
		{"valid", issue(map[string]any{"scope": "openid multicart.api"}), http.StatusOK, ""},
		{"expired", issue(map[string]any{"exp": time.Now().Add(-5 * time.Minute).Unix()}), http.StatusUnauthorized,
			`error="invalid_token", error_description="the access token failed the exp check"`},
		{"wrong audience", issue(map[string]any{"aud": e.stand.Multicart().Client.ID}), http.StatusUnauthorized,
			`error_description="the access token failed the aud check"`},
		{"wrong issuer", issue(map[string]any{"iss": e.stand.Istores().Issuer}), http.StatusUnauthorized,
			`error_description="the access token failed the iss check"`},
		{"an Istores token", e.stand.IssueAccessToken(ssotest.ProviderIstores, nil), http.StatusUnauthorized,
			`error="invalid_token"`},
		{"no token", "", http.StatusUnauthorized, `Bearer realm="shopsso-example-api"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/api/me", nil)
			require.NoError(t, err)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var body map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.Equal(t, tt.wantStatus, resp.StatusCode, body)
			assert.Empty(t, resp.Header.Values("Set-Cookie"), "bearer mode sets no session cookie")
			if tt.wantStatus == http.StatusOK {
				assert.Equal(t, "multicart", body["provider"])
				assert.Equal(t, "customer-1", body["subject"])
				assert.Equal(t, []any{"openid", "multicart.api"}, body["scopes"])
				claims, _ := body["claims"].(map[string]any)
				assert.Equal(t, "multicart.api", claims["aud"])
				assert.NotContains(t, body, "id_claims")
				return
			}
			assert.Contains(t, resp.Header.Get("WWW-Authenticate"), tt.wantAuth)
			if tt.token != "" {
				assert.NotContains(t, resp.Header.Get("WWW-Authenticate"), tt.token)
				assert.NotContains(t, e.logs.String(), tt.token, "never logged")
			} else {
				assert.NotContains(t, resp.Header.Get("WWW-Authenticate"), "error=")
			}
		})
	}
	assert.Equal(t, 5, strings.Count(e.logs.String(), `msg="sso: bearer token refused"`), e.logs.String())
}

func TestExampleAPIAudienceFromEnv(t *testing.T) {
	env := map[string]string{"MULTICART_API_AUDIENCE": "shop.api"}
	s, err := settingsFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, "shop.api", s.MulticartAPIAudience)
	s, err = settingsFromEnv(func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, "multicart.api", s.MulticartAPIAudience)
}
