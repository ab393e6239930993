package multicart_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/multicart"
)

func TestAuthCodeURLGoldenWithExtraParams(t *testing.T) {
	tests := []struct {
		name     string
		config   url.Values
		perLogin url.Values
		want     string
	}{
		{
			name:   "configured",
			config: url.Values{"prompt": {"consent"}, "ui_locales": {"he en"}},
			want: "https://identity.multicartshop.com/?application=appId" +
				"&code_challenge=ch&code_challenge_method=S256&nonce=nn&prompt=consent" +
				"&return=https%3A%2F%2Fappdomain.com%2Flogin%3Fmulticart&scope=openid&state=st&ui_locales=he%20en",
		},
		{
			name:     "per login overrides configured",
			config:   url.Values{"prompt": {"consent"}},
			perLogin: url.Values{"prompt": {"login"}, "login_hint": {"ann@example.com"}},
			want: "https://identity.multicartshop.com/?application=appId" +
				"&code_challenge=ch&code_challenge_method=S256&login_hint=ann%40example.com&nonce=nn&prompt=login" +
				"&return=https%3A%2F%2Fappdomain.com%2Flogin%3Fmulticart&scope=openid&state=st",
		},
		{
			name: "per login cannot override the protocol",
			perLogin: url.Values{
				"state": {"evil"}, "Nonce": {"evil"}, "code_challenge": {"evil"}, "application": {"evil"},
				"return": {"https://evil.example/"}, "scope": {"evil"}, "response_mode": {"fragment"},
			},
			want: "https://identity.multicartshop.com/?application=appId" +
				"&code_challenge=ch&code_challenge_method=S256&nonce=nn" +
				"&return=https%3A%2F%2Fappdomain.com%2Flogin%3Fmulticart&scope=openid&state=st",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := multicart.New(multicart.Config{
				ClientID:    "appId",
				RedirectURL: "https://appdomain.com/login?multicart",
				Scopes:      []string{multicart.ScopeOpenID},
				AuthParams:  tt.config,
			})
			require.NoError(t, err)
			got := p.AuthCodeURL(sso.AuthParams{State: "st", CodeChallenge: "ch", Nonce: "nn", Extra: tt.perLogin})
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestNewRefusesReservedAuthParams(t *testing.T) {
	for _, name := range []string{"state", "nonce", "code_challenge", "code_challenge_method", "code_verifier",
		"application", "client_id", "return", "redirect_uri", "response_type", "scope", "request_uri", "STATE", "Return"} {
		t.Run(name, func(t *testing.T) {
			_, err := multicart.New(multicart.Config{
				ClientID: "appId", RedirectURL: "https://a.example/cb",
				AuthParams: url.Values{name: {"x"}},
			})
			require.Error(t, err)
			assert.True(t, errors.Is(err, sso.ErrReservedAuthParam), err)
			assert.Contains(t, err.Error(), name)
		})
	}
}

func TestConfiguredAuthParamsAreCopied(t *testing.T) {
	params := url.Values{"prompt": {"consent"}}
	p, err := multicart.New(multicart.Config{ClientID: "appId", RedirectURL: "https://a.example/cb", AuthParams: params})
	require.NoError(t, err)
	params.Set("prompt", "none")
	u, err := url.Parse(p.AuthCodeURL(sso.AuthParams{State: "st"}))
	require.NoError(t, err)
	assert.Equal(t, "consent", u.Query().Get("prompt"))
}

func TestServiceClientGolden(t *testing.T) {
	tests := []struct {
		name               string
		cfg                multicart.Config
		wantID, wantSecret string
	}{
		{"defaults to the login client", multicart.Config{ClientSecret: "sec"}, "appId", "sec"},
		{"a separate confidential client", multicart.Config{ClientSecret: "sec", ServiceClientID: "svc", ServiceClientSecret: "svc-sec"}, "svc", "svc-sec"},
		{"a separate secret for the login client ID", multicart.Config{ServiceClientSecret: "svc-sec"}, "appId", "svc-sec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t, func(int32) string {
				return `{"access_token":"svc","token_type":"Bearer","expires_in":3600}`
			})
			cfg := tt.cfg
			cfg.ClientID, cfg.RedirectURL, cfg.TokenURL = "appId", "https://a.example/cb", ts.URL
			p, err := multicart.New(cfg)
			require.NoError(t, err)
			src, err := p.ServiceTokenSource(multicart.ScopeAPI)
			require.NoError(t, err)
			_, err = src.Token()
			require.NoError(t, err)
			assert.Equal(t, url.Values{
				"grant_type":    {"client_credentials"},
				"client_id":     {tt.wantID},
				"client_secret": {tt.wantSecret},
				"scope":         {"multicart.api"},
			}, ts.form(0))
		})
	}
}

func TestServiceClientIDNeedsItsSecret(t *testing.T) {
	_, err := multicart.New(multicart.Config{
		ClientID: "appId", ClientSecret: "login-secret", RedirectURL: "https://a.example/cb", ServiceClientID: "svc",
	})
	assert.ErrorContains(t, err, "ServiceClientID needs ServiceClientSecret")
}
