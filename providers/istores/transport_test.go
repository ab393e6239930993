package istores_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/shopsso/sso/internal/secureurl"
	"github.com/shopsso/sso/providers/istores"
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
			cfg := istores.Config{ClientID: "id", ClientSecret: "secret", RedirectURL: "https://app.example/cb"}
			cfg.AuthURL, cfg.TokenURL, cfg.InsecureAllowHTTP = tt.authURL, tt.tokenURL, tt.insecure
			_, err := istores.New(cfg)
			if tt.ok {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, secureurl.ErrInsecure)
		})
	}
}
