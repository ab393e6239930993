package multicart_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sso "github.com/shopsso/sso"

	"github.com/shopsso/sso/internal/secureurl"
	"github.com/shopsso/sso/providers/multicart"
)

// TestEndpointTransportRule: the authorize and token URLs must be https,
// unless the host is loopback or InsecureAllowHTTP says otherwise.
func TestEndpointTransportRule(t *testing.T) {
	tests := []struct {
		name     string
		authURL  string
		tokenURL string
		insecure bool
		ok       bool
	}{
		{"https", "https://id.example/authorize", "https://id.example/token", false, true},
		{"http token URL off loopback", "https://id.example/authorize", "http://id.example/token", false, false},
		{"http authorize URL off loopback", "http://id.example/authorize", "https://id.example/token", false, false},
		{"http on a host named like loopback", "https://id.example/a", "http://127.0.0.1.example/token", false, false},
		{"http off loopback, opted in", "http://id.example/authorize", "http://id.example/token", true, true},
		{"http on 127.0.0.1", "http://127.0.0.1:8080/authorize", "http://127.0.0.1:8080/token", false, true},
		{"http on 127.0.0.0/8", "http://127.3.4.5/authorize", "http://127.3.4.5/token", false, true},
		{"http on ::1", "http://[::1]:8080/authorize", "http://[::1]:8080/token", false, true},
		{"http on localhost", "http://localhost:8080/authorize", "http://LOCALHOST/token", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := multicart.Config{ClientID: "app", RedirectURL: "https://app.example/cb", SkipDiscovery: true}
			cfg.AuthURL, cfg.TokenURL, cfg.InsecureAllowHTTP = tt.authURL, tt.tokenURL, tt.insecure
			_, err := multicart.New(cfg)
			if tt.ok {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, secureurl.ErrInsecure)
		})
	}
}

// TestServiceTokenMustBeBearer: a client-credentials answer whose
// token_type is not Bearer is refused, not sent as a bearer token.
func TestServiceTokenMustBeBearer(t *testing.T) {
	for _, tt := range []struct {
		tokenType string
		ok        bool
	}{{"Bearer", true}, {"bearer", true}, {"MAC", false}, {"", false}} {
		t.Run("token_type "+tt.tokenType, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"access_token":"service-token","token_type":"` + tt.tokenType + `","expires_in":3600}`))
			}))
			defer srv.Close()
			p, err := multicart.New(multicart.Config{ClientID: "app", ClientSecret: "s", RedirectURL: "https://app.example/cb",
				AuthURL: srv.URL + "/", TokenURL: srv.URL + "/token", SkipDiscovery: true})
			require.NoError(t, err)
			src, err := p.ServiceTokenSource(multicart.ScopeAPI)
			require.NoError(t, err)
			tok, err := src.Token()
			if tt.ok {
				require.NoError(t, err)
				assert.Equal(t, "service-token", tok.AccessToken)
				return
			}
			assert.ErrorIs(t, err, sso.ErrTokenResponse)
		})
	}
}
