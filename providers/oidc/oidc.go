// Package oidc is a generic OpenID Connect provider for [sso.Auth]: any
// identity service that follows OpenID Connect Core 1.0 and Discovery 1.0,
// configured by its issuer URL alone, so a shop can add a third identity
// service without writing a provider.
//
// [New] reads the discovery document at the issuer URL +
// "/.well-known/openid-configuration" (Discovery §4) and takes from it the
// authorization, token and end-session endpoints and the key set
// (jwks_uri). The document's "issuer" must equal the configured issuer URL
// exactly (Discovery §4.3), and so must every ID token's "iss" (OIDC Core
// §3.1.3.7 (2)); there is no guessing, since a standard provider says who
// it is.
//
// Logins use the standard parameter names (client_id, redirect_uri,
// response_type=code, scope, state, nonce) with PKCE S256 (RFC 7636) for
// every client. A confidential client (ClientSecret set) authenticates at
// the token endpoint with HTTP Basic, OIDC Core §9's default
// client_secret_basic, unless [Config.AuthStyle] says otherwise; a public
// client sends only its client_id. ID tokens are verified through package
// verify: signature with the provider's keys, iss, aud, azp, exp, iat,
// nonce, algorithm. The provider implements [sso.Refresher]: with
// offline_access (or whatever the provider needs) it receives refresh
// tokens, and [sso.Auth] renews access tokens before they expire.
package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/internal/query"
	"github.com/shopsso/sso/internal/secureurl"
	"github.com/shopsso/sso/internal/tokencall"
	"github.com/shopsso/sso/oauthhttp"
	"github.com/shopsso/sso/verify"
)

// Scopes OpenID Connect defines (OIDC Core §5.4, §11).
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeOfflineAccess = "offline_access"
)

// DefaultScopes returns the scopes requested when [Config.Scopes] is empty.
func DefaultScopes() []string { return []string{ScopeOpenID, ScopeProfile, ScopeEmail} }

// Config configures the provider.
type Config struct {
	// Name identifies the provider in sessions, logs and routes, for
	// example "acme". Required.
	Name string
	// IssuerURL is the provider's issuer identifier, e.g.
	// "https://id.example.com" or "https://id.example.com/realms/shop".
	// The discovery document is read under it and must name it as its
	// issuer, byte for byte (a trailing slash matters). Required; https
	// unless the host is loopback or InsecureAllowHTTP is set.
	IssuerURL string
	// ClientID is the client registered with the provider. Required.
	ClientID string
	// ClientSecret makes the client confidential. Zero: a public client,
	// which sends no secret; PKCE binds its codes to the browser.
	ClientSecret string
	// RedirectURL is this app's callback URL, registered with the
	// provider. Required, absolute.
	RedirectURL string
	// Scopes to request. "openid" is added when missing. Zero:
	// [DefaultScopes]. Add [ScopeOfflineAccess] for refresh tokens; many
	// providers then also need AuthParams prompt=consent (OIDC Core §11).
	Scopes []string
	// AuthParams are extra authorize parameters sent with every login
	// (prompt, ui_locales, acr_values, ...). Reserved names
	// ([sso.IsReservedAuthParam]) are refused by New; per-login
	// parameters ([sso.Config.LoginParams]) override these.
	AuthParams url.Values
	// AuthStyle is how a confidential client authenticates at the token
	// endpoint. Zero ([oauth2.AuthStyleAutoDetect] is not used): HTTP Basic
	// (client_secret_basic); [oauth2.AuthStyleInParams] for
	// client_secret_post. A public client always sends its client_id in
	// the form.
	AuthStyle oauth2.AuthStyle
	// PostLogoutRedirectURL, when set, turns on logout at the provider too
	// (OpenID Connect RP-Initiated Logout 1.0): [sso.Auth.Logout] sends
	// the browser to the discovery document's end_session_endpoint, which
	// sends it back here. It is the absolute URL at which the app mounts
	// [sso.Auth.LogoutCallback], registered with the provider. Zero, or a
	// provider without an end-session endpoint: logout is local only.
	PostLogoutRedirectURL string
	// IDTokenAlgorithms allowed. Zero: [verify.DefaultAlgorithms].
	IDTokenAlgorithms []string
	// HTTPClient makes discovery, key-set and token calls; token calls
	// are made safe by [oauthhttp.TokenClient]. Zero: http.DefaultClient's
	// settings.
	HTTPClient *http.Client
	// InsecureAllowHTTP allows plain-http issuer and endpoint URLs on
	// hosts that are not loopback. Without TLS nothing authenticates the
	// provider.
	InsecureAllowHTTP bool
	// Now is the clock of ID-token checks. Zero: time.Now.
	Now func() time.Time
}

// Provider implements [sso.Provider], [sso.Refresher],
// [sso.IDTokenVerifier], [sso.ScopeRequester] and [sso.EndSessioner] for
// one OpenID Connect identity service.
type Provider struct {
	cfg        Config
	oauth      oauth2.Config
	client     *http.Client
	discovery  *verify.Discovery
	idVerifier *verify.Verifier
	metadata   verify.Metadata // as read by New
}

// New reads the provider's discovery document (using ctx for that one
// call), checks it, and returns the provider. It fails when the document
// cannot be read, names another issuer, or lacks the authorization, token
// or key-set endpoint.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	switch {
	case cfg.Name == "":
		return nil, errors.New("oidc: Name is required")
	case cfg.IssuerURL == "":
		return nil, errors.New("oidc: IssuerURL is required")
	case cfg.ClientID == "":
		return nil, errors.New("oidc: ClientID is required")
	}
	if u, err := url.Parse(cfg.RedirectURL); err != nil || !u.IsAbs() {
		return nil, errors.New("oidc: RedirectURL must be an absolute URL")
	}
	if err := secureurl.Check(cfg.IssuerURL, cfg.InsecureAllowHTTP); err != nil {
		return nil, fmt.Errorf("oidc: IssuerURL: %w", err)
	}
	if cfg.PostLogoutRedirectURL != "" {
		if u, err := url.Parse(cfg.PostLogoutRedirectURL); err != nil || !u.IsAbs() {
			return nil, errors.New("oidc: PostLogoutRedirectURL must be an absolute URL")
		}
	}
	if err := sso.CheckAuthParams(cfg.AuthParams); err != nil {
		return nil, fmt.Errorf("oidc: AuthParams: %w", err)
	}
	cfg.AuthParams = sso.MergeAuthParams(cfg.AuthParams, nil) // our own copy
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = DefaultScopes()
	}
	cfg.Scopes = slices.Clone(cfg.Scopes)
	if !slices.Contains(cfg.Scopes, ScopeOpenID) {
		cfg.Scopes = append([]string{ScopeOpenID}, cfg.Scopes...)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}

	d, err := verify.NewDiscovery(verify.DiscoveryConfig{
		// The document lives under the issuer (Discovery §4.1); its issuer
		// must be exactly the configured one (§4.3).
		BaseURL:           cfg.IssuerURL,
		Issuer:            cfg.IssuerURL,
		HTTPClient:        cfg.HTTPClient,
		InsecureAllowHTTP: cfg.InsecureAllowHTTP,
		Now:               cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	md, err := d.Metadata(ctx)
	if err != nil {
		return nil, fmt.Errorf("oidc: reading the discovery document of %s: %w", cfg.IssuerURL, err)
	}
	if md.Issuer != cfg.IssuerURL { // verify checks it too; never trust one check
		return nil, fmt.Errorf("oidc: the discovery document names issuer %s, not %s", verify.Quote(md.Issuer), verify.Quote(cfg.IssuerURL))
	}
	for _, e := range []struct{ name, url string }{
		{"authorization_endpoint", md.AuthorizationEndpoint},
		{"token_endpoint", md.TokenEndpoint},
		{"jwks_uri", md.JWKSURI},
	} {
		if e.url == "" {
			return nil, fmt.Errorf("oidc: the discovery document has no %s", e.name)
		}
		if err := secureurl.Check(e.url, cfg.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("oidc: the discovery document's %s: %w", e.name, err)
		}
	}

	idv, err := verify.New(verify.Config{
		Issuer:     cfg.IssuerURL,
		Discovery:  d,
		Audience:   cfg.ClientID,
		Algorithms: cfg.IDTokenAlgorithms,
		Now:        cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}

	style := cfg.AuthStyle
	switch {
	case cfg.ClientSecret == "":
		style = oauth2.AuthStyleInParams // a public client: client_id in the form
	case style == oauth2.AuthStyleAutoDetect:
		style = oauth2.AuthStyleInHeader // client_secret_basic, OIDC Core §9
	}
	return &Provider{
		cfg: cfg,
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			RedirectURL:  cfg.RedirectURL,
			Scopes:       cfg.Scopes,
			Endpoint:     oauth2.Endpoint{AuthURL: md.AuthorizationEndpoint, TokenURL: md.TokenEndpoint, AuthStyle: style},
		},
		client:     oauthhttp.TokenClient(cfg.HTTPClient),
		discovery:  d,
		idVerifier: idv,
		metadata:   *md,
	}, nil
}

// Name returns [Config.Name].
func (p *Provider) Name() string { return p.cfg.Name }

// Issuer returns the issuer URL.
func (p *Provider) Issuer() string { return p.cfg.IssuerURL }

// Metadata returns the discovery document as [New] read it.
func (p *Provider) Metadata() verify.Metadata { return p.metadata }

// RequestedScopes returns the scopes requested, "openid" included.
func (p *Provider) RequestedScopes() []string { return slices.Clone(p.cfg.Scopes) }

// AuthCodeURL returns the authorization endpoint's URL (OIDC Core
// §3.1.2.1) with client_id, redirect_uri, response_type=code, scope
// (space-separated), state, nonce and PKCE (code_challenge,
// code_challenge_method=S256), after the extra parameters of
// [Config.AuthParams] and of this login.
func (p *Provider) AuthCodeURL(ap sso.AuthParams) string {
	q := sso.MergeAuthParams(p.cfg.AuthParams, ap.Extra)
	q.Set("client_id", p.cfg.ClientID)
	q.Set("redirect_uri", p.cfg.RedirectURL)
	q.Set("response_type", "code")
	q.Set("scope", strings.Join(p.cfg.Scopes, " "))
	if ap.State != "" {
		q.Set("state", ap.State)
	}
	if ap.Nonce != "" {
		q.Set("nonce", ap.Nonce)
	}
	if ap.CodeChallenge != "" {
		q.Set("code_challenge", ap.CodeChallenge)
		q.Set("code_challenge_method", "S256")
	}
	return query.Add(p.oauth.Endpoint.AuthURL, q)
}

// Exchange posts grant_type=authorization_code, code, redirect_uri and
// code_verifier to the token endpoint (OIDC Core §3.1.3.1), with the
// client's authentication.
func (p *Provider) Exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	return tokencall.Exchange(ctx, &p.oauth, p.client, code, verifier)
}

// Refresh posts grant_type=refresh_token and refresh_token to the token
// endpoint (RFC 6749 §6; OIDC Core §12.1), with the client's
// authentication.
func (p *Provider) Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	return tokencall.Refresh(ctx, &p.oauth, p.client, refreshToken)
}

// VerifyIDToken checks an ID token from the token endpoint (OIDC Core
// §3.1.3.7) through package verify — signature with the provider's keys,
// iss (exactly the issuer URL), aud, azp, exp, iat, algorithm — and the
// login's nonce (none for a refresh, §12.2).
func (p *Provider) VerifyIDToken(ctx context.Context, raw, nonce string) (*sso.Claims, error) {
	return tokencall.VerifyIDToken(ctx, "oidc", p.idVerifier, raw, nonce)
}

// EndSession implements [sso.EndSessioner]: with
// [Config.PostLogoutRedirectURL] set, the discovery document's
// end_session_endpoint (the latest document, refreshed on its lifetime).
// Without either, logout stays local (nil, nil).
func (p *Provider) EndSession(ctx context.Context) (*sso.EndSession, error) {
	if p.cfg.PostLogoutRedirectURL == "" {
		return nil, nil
	}
	ep := p.metadata.EndSessionEndpoint
	if md, err := p.discovery.Metadata(ctx); err == nil {
		ep = md.EndSessionEndpoint
	}
	if ep == "" {
		return nil, nil
	}
	if err := secureurl.Check(ep, p.cfg.InsecureAllowHTTP); err != nil {
		return nil, fmt.Errorf("oidc: end_session_endpoint: %w", err)
	}
	return &sso.EndSession{Endpoint: ep, ClientID: p.cfg.ClientID, PostLogoutRedirectURI: p.cfg.PostLogoutRedirectURL}, nil
}

// AccessTokenVerifier returns a verifier of this provider's JWT access
// tokens for [sso.BearerConfig]: signed with the provider's keys, issued
// by the issuer URL, for audience (this API's identifier at the
// provider). types lists the accepted "typ" headers; zero: RFC 9068's
// "at+jwt".
func (p *Provider) AccessTokenVerifier(audience string, types ...string) (*verify.Verifier, error) {
	return verify.New(verify.Config{
		Issuer:           p.cfg.IssuerURL,
		Discovery:        p.discovery,
		Audience:         audience,
		AccessTokenTypes: types,
		Now:              p.cfg.Now,
	})
}
