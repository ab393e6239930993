package multicart

import (
	"fmt"
	"slices"

	"github.com/shopsso/sso/verify"
)

// AccessTokenVerifier returns a verifier of Multicart access tokens that
// clients present to this app's API, for [sso.BearerConfig]. It shares the
// provider's issuer rule and keys: [Config.Issuer] exactly when set, else
// the discovery document's issuer, else any URL on the token endpoint's
// origin; [Config.JWKSURL] when set, else the key set discovery names.
// Unlike an ID token, an access token's signature is always checked, so
// without a key set every token is refused as unavailable.
//
// audience is the "aud" the tokens must carry, [ScopeAPI] for the Client
// API. types are the accepted "typ" headers; zero: RFC 9068's "at+jwt"
// and "application/at+jwt" (Multicart does not document its own).
// An audience equal to the login's client ID is refused when types accept
// anything but at+jwt: the login's ID tokens carry that audience and, as
// plain JWTs, would pass as access tokens.
func (p *Provider) AccessTokenVerifier(audience string, types ...string) (*verify.Verifier, error) {
	if audience == p.cfg.ClientID && slices.ContainsFunc(types, func(t string) bool {
		return t != "at+jwt" && t != "application/at+jwt"
	}) {
		return nil, fmt.Errorf("multicart: access-token audience %q is the client ID, so ID tokens would pass as access tokens unless only at+jwt is accepted", audience)
	}
	vc := p.vc
	vc.Audience = audience
	vc.AccessTokenTypes = types
	vc.InsecureSkipSignatureCheckWithoutKeys = false
	if vc.Keys == nil && vc.Discovery == nil {
		return nil, fmt.Errorf("multicart: access tokens need a key set: set JWKSURL or leave discovery on")
	}
	v, err := verify.New(vc)
	if err != nil {
		return nil, fmt.Errorf("multicart: %w", err)
	}
	return v, nil
}
