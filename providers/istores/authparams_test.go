package istores_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/istores"
)

func TestAuthCodeURLGoldenWithExtraParams(t *testing.T) {
	tests := []struct {
		name     string
		config   url.Values
		perLogin url.Values
		want     string
	}{
		{
			name:     "configured and per login",
			config:   url.Values{"prompt": {"consent"}, "ui_locales": {"he"}},
			perLogin: url.Values{"ui_locales": {"en"}, "login_hint": {"ann"}},
			want: "https://nova.istores.co.il/oauth/authorize?client_id=test_client_id" +
				"&code_challenge=ch&code_challenge_method=S256&login_hint=ann&prompt=consent" +
				"&redirect_uri=https%3A%2F%2Fnova.istores.co.il%2Ftest%2FreturnUrlOauth&response_type=code" +
				"&scopes=products%3Aread&state=st&ui_locales=en",
		},
		{
			name: "per login cannot override the protocol",
			perLogin: url.Values{"client_id": {"evil"}, "redirect_uri": {"https://evil.example/"}, "scopes": {"charge:card"},
				"Response_Type": {"token"}, "code_challenge_method": {"plain"}, "state": {"evil"}},
			want: "https://nova.istores.co.il/oauth/authorize?client_id=test_client_id" +
				"&code_challenge=ch&code_challenge_method=S256" +
				"&redirect_uri=https%3A%2F%2Fnova.istores.co.il%2Ftest%2FreturnUrlOauth&response_type=code" +
				"&scopes=products%3Aread&state=st",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := istores.New(istores.Config{
				ClientID: "test_client_id", ClientSecret: "s",
				RedirectURL: "https://nova.istores.co.il/test/returnUrlOauth",
				Scopes:      []string{istores.ScopeProductsRead},
				AuthParams:  tt.config,
			})
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.AuthCodeURL(sso.AuthParams{State: "st", CodeChallenge: "ch", Extra: tt.perLogin}))
		})
	}
}

func TestNewRefusesReservedAuthParams(t *testing.T) {
	for _, name := range []string{"client_id", "redirect_uri", "response_type", "scopes", "scope", "state", "code_challenge", "Nonce", "request"} {
		t.Run(name, func(t *testing.T) {
			_, err := istores.New(istores.Config{
				ClientID: "c", ClientSecret: "s", RedirectURL: "https://a.example/cb",
				AuthParams: url.Values{name: {"x"}},
			})
			assert.True(t, errors.Is(err, sso.ErrReservedAuthParam), "%v", err)
		})
	}
}
