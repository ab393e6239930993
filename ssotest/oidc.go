package ssotest

import (
	"net/http"
	"net/url"
	"strings"
)

// ProviderOIDC names the stand-in's third provider: a plain OpenID Connect
// provider with the standard parameter names (client_id, redirect_uri,
// scope, response_type), discovery (OpenID Connect Discovery 1.0) at
// [Endpoints.Issuer] + "/.well-known/openid-configuration", HTTP Basic or
// form client authentication (OIDC Core §9), rotating refresh tokens with
// offline_access, and ID tokens whose "iss" is the issuer URL.
const ProviderOIDC = "oidc"

// oidcEndSessionPath is the OIDC provider's end-session endpoint (OpenID
// Connect RP-Initiated Logout 1.0 §2), served like Multicart's.
const oidcEndSessionPath = "/oidc/logout"

// OIDCAudience is the "aud" claim of every access token of the OIDC
// provider.
const OIDCAudience = "ssotest.api"

// DefaultOIDCClient is the registration used when [Options] leaves the
// OIDC client zero: a confidential client.
func DefaultOIDCClient() Client { return Client{ID: "oidc-client", Secret: "oidc-secret"} }

// OIDC returns the OIDC provider's endpoints and registered client. Its
// Issuer is the URL to configure a generic OpenID Connect client with.
func (s *Server) OIDC() Endpoints { return s.endpoints(s.oidc) }

// oidcDiscovery serves the provider's discovery document (Discovery §3, §4).
func (s *Server) oidcDiscovery(w http.ResponseWriter, _ *http.Request) {
	e := s.OIDC()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                e.Issuer,
		"authorization_endpoint":                e.AuthURL,
		"token_endpoint":                        e.TokenURL,
		"jwks_uri":                              e.JWKSURL,
		"end_session_endpoint":                  e.EndSessionURL,
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{GrantAuthorizationCode, GrantRefreshToken},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
	})
}

// oidcClient authenticates the token request's client (OIDC Core §9):
// HTTP Basic (client_secret_basic, RFC 6749 §2.3.1 with form-encoded
// credentials) or client_id and client_secret in the form; a client
// registered without a secret is public and sends only client_id.
func (s *Server) oidcClient(r *http.Request, form url.Values) *oauthError {
	c := s.oidc.client
	id, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil || form.Has("client_secret") {
			return errInvalidClient("malformed client authentication")
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return errInvalidClient("client_id differs from the authenticated client")
		}
		form = url.Values{"client_id": {id}, "client_secret": {secret}}
	}
	if c.Secret == "" {
		if form.Get("client_id") != c.ID || form.Has("client_secret") {
			return errInvalidClient("unknown client or a secret for a public client")
		}
		return nil
	}
	return checkClient(c, form)
}

// oidcToken serves the OIDC provider's token grants.
func (s *Server) oidcToken(r *http.Request, form url.Values, grantType string, f Failure) (*tokenResponse, *oauthError) {
	if err := s.oidcClient(r, form); err != nil {
		return nil, err
	}
	switch grantType {
	case GrantAuthorizationCode:
		g, err := s.redeem(s.oidc, form, true)
		if err != nil {
			return nil, err
		}
		return s.userResponse(s.oidc, g, f), nil
	case GrantRefreshToken:
		rt := form.Get("refresh_token")
		if rt == "" {
			return nil, errInvalidRequest("refresh_token is required")
		}
		g := s.rotateRefreshToken(rt)
		if g == nil || g.provider != ProviderOIDC {
			return nil, errInvalidGrant("the refresh token is unknown or already used")
		}
		return s.userResponse(s.oidc, g, f), nil
	case "":
		return nil, errInvalidRequest("grant_type is required")
	default:
		return nil, errUnsupportedGrant(grantType)
	}
}

// oidcAuthorizeFault adds the OIDC provider's own rules to requestFault:
// an OpenID request must ask for the openid scope (OIDC Core §3.1.2.1) and
// a public client must use PKCE.
func (s *Server) oidcAuthorizeFault(q url.Values) string {
	if !strings.Contains(" "+q.Get("scope")+" ", " openid ") {
		return "scope must include openid"
	}
	if s.oidc.client.Secret == "" && q.Get("code_challenge") == "" {
		return "a public client must send a PKCE code_challenge"
	}
	return ""
}
