package sso_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
)

// refusals returns the "request refused" records of h's log.
func refusals(h *harness) []string {
	var out []string
	for line := range strings.Lines(h.logs.String()) {
		if strings.Contains(line, `msg="sso: request refused"`) {
			out = append(out, line)
		}
	}
	return out
}

// TestIDTokenRefusalLog: a refused ID token gives exactly one log record,
// naming the check with the expected and received values for iss, aud,
// alg and kid, and for iss what to set.
func TestIDTokenRefusalLog(t *testing.T) {
	tests := []struct {
		name string
		f    ssotest.Failure
		want func(h *harness) []string
		not  []string
	}{
		{"issuer", ssotest.Failure{IDTokenIssuer: "https://evil.example"}, func(h *harness) []string {
			return []string{`reason="sso: ID token rejected"`, "provider=multicart", "check=iss",
				`expected=` + h.stand.Multicart().Issuer, "got=https://evil.example",
				`fix="if this issuer is the identity service's own, set multicart.Config.Issuer (MULTICART_ISSUER in the example) to it"`}
		}, nil},
		{"audience", ssotest.Failure{IDTokenAudience: "another-app"}, func(h *harness) []string {
			return []string{"check=aud", "expected=" + h.stand.Multicart().Client.ID, "got=another-app"}
		}, []string{"fix="}},
		{"nonce", ssotest.Failure{IDTokenNonce: "not-the-login-nonce"}, func(*harness) []string {
			return []string{"check=nonce"}
		}, []string{"not-the-login-nonce", "expected=", "got="}},
		{"expired", ssotest.Failure{ExpiredIDToken: true}, func(*harness) []string {
			return []string{"check=exp"}
		}, nil},
		{"unsigned", ssotest.Failure{IDTokenUnsigned: true}, func(*harness) []string {
			return []string{"check=alg", "got=none", `expected="RS256 RS384`}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.stand.Inject(tt.f)
			c := h.browser()
			cb := h.startLogin(c, multicart.Name, "/private")
			resp := h.get(noFollow(c), cb.String())
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			recs := refusals(h)
			if !assert.Len(t, recs, 1, h.logs.String()) {
				return
			}
			for _, w := range tt.want(h) {
				assert.Contains(t, recs[0], w)
			}
			for _, n := range tt.not {
				assert.NotContains(t, recs[0], n)
			}
			assert.NotContains(t, recs[0], "eyJ", "no token in the log")
		})
	}
}

// TestTokenEndpointFailureLog: a token-endpoint failure's one log record
// names the HTTP status and the OAuth error code.
func TestTokenEndpointFailureLog(t *testing.T) {
	tests := []struct {
		name string
		f    ssotest.Failure
		want []string
	}{
		{"invalid_grant", ssotest.Failure{TokenError: "invalid_grant"}, []string{`reason="sso: token exchange refused"`, "http_status=400", "oauth_error=invalid_grant"}},
		{"invalid_client", ssotest.Failure{TokenError: "invalid_client"}, []string{"http_status=400", "oauth_error=invalid_client"}},
		{"503", ssotest.Failure{Status: http.StatusServiceUnavailable}, []string{"provider unavailable", "http_status=503"}},
	}
	for _, tt := range tests {
		for _, p := range []string{istores.Name, multicart.Name} {
			t.Run(tt.name+"/"+p, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t)
				c := h.browser()
				cb := h.startLogin(c, p, "/private")
				h.stand.Inject(tt.f)
				h.get(noFollow(c), cb.String())
				recs := refusals(h)
				if !assert.Len(t, recs, 1, h.logs.String()) {
					return
				}
				for _, w := range tt.want {
					assert.Contains(t, recs[0], w)
				}
				assert.Contains(t, recs[0], "provider="+p)
				assert.NotContains(t, recs[0], "error_description")
			})
		}
	}
}

// TestRefreshRefusalLog: a refused refresh (its ID token, or the token
// endpoint) gives one log record with the same detail as a login.
func TestRefreshRefusalLog(t *testing.T) {
	tests := []struct {
		name string
		f    ssotest.Failure
		want func(h *harness) []string
	}{
		{"ID token issuer", ssotest.Failure{Grant: ssotest.GrantRefreshToken, IDTokenIssuer: "https://evil.example"}, func(h *harness) []string {
			return []string{"token refresh refused", "check=iss", "expected=" + h.stand.Multicart().Issuer, "got=https://evil.example", "multicart.Config.Issuer"}
		}},
		{"ID token audience", ssotest.Failure{Grant: ssotest.GrantRefreshToken, IDTokenAudience: "another-app"}, func(h *harness) []string {
			return []string{"token refresh refused", "check=aud", "got=another-app"}
		}},
		{"invalid_grant", ssotest.Failure{Grant: ssotest.GrantRefreshToken, TokenError: "invalid_grant"}, func(*harness) []string {
			return []string{"token refresh refused", "http_status=400", "oauth_error=invalid_grant"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			c := h.login(multicart.Name)
			h.clock.Advance(61 * time.Minute) // expired: the next request must refresh
			h.stand.Inject(tt.f)
			resp := h.getJSON(c, "/private")
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			recs := refusals(h)
			if !assert.Len(t, recs, 1, h.logs.String()) {
				return
			}
			for _, w := range tt.want(h) {
				assert.Contains(t, recs[0], w)
			}
			assert.NotContains(t, recs[0], "eyJ", "no token in the log")
		})
	}
}
