// Package tokencall holds the token-endpoint calls and the ID-token check
// that the providers share, so each provider keeps only what is its own
// (parameter names, client authentication, defaults).
package tokencall

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/verify"
)

// Exchange trades code for a token set through conf's token endpoint
// (RFC 6749 §4.1.3) with client, sending the PKCE verifier when there is
// one (RFC 7636 §4.5).
func Exchange(ctx context.Context, conf *oauth2.Config, client *http.Client, code, verifier string) (*oauth2.Token, error) {
	var opts []oauth2.AuthCodeOption
	if verifier != "" {
		opts = append(opts, oauth2.VerifierOption(verifier))
	}
	return conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, client), code, opts...)
}

// Refresh spends refreshToken at conf's token endpoint (RFC 6749 §6) with
// client.
func Refresh(ctx context.Context, conf *oauth2.Config, client *http.Client, refreshToken string) (*oauth2.Token, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
	return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
}

// VerifyIDToken checks raw with v and returns its claims. An empty raw is
// refused in the name of provider; a key set or discovery document that
// cannot be fetched is [sso.ErrProviderUnavailable].
func VerifyIDToken(ctx context.Context, provider string, v *verify.Verifier, raw, nonce string) (*sso.Claims, error) {
	if raw == "" {
		return nil, errors.New(provider + ": the token response has no id_token")
	}
	if _, err := v.IDToken(ctx, raw, nonce); err != nil {
		if errors.Is(err, verify.ErrUnavailable) {
			return nil, fmt.Errorf("%w: %w", sso.ErrProviderUnavailable, err)
		}
		return nil, err
	}
	return sso.ParseClaims(raw)
}
