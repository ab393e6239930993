// Package multicart is the Multicart identity provider for [sso.Auth].
//
// Multicart customers log in with the authorization-code flow under
// non-standard parameter names (application, return); the app is a public
// client, so the code exchange sends no secret and PKCE (S256) binds the
// code to the browser. Responses carry an OpenID Connect ID token, checked
// per OIDC Core §3.1.3.7, and, with offline_access, a refresh token that
// [sso.Auth] uses before the access token expires. The Admin API is called
// with a service token from the client-credentials grant
// ([Provider.ServiceTokenSource]).
//
// Documented by Multicart: the authorize and token URLs, their parameters,
// the response fields and the client-credentials request. Assumed (not
// documented): the refresh grant is the standard grant_type=refresh_token
// and rotates the refresh token.
//
// Not documented, so not guessed: the ID token's issuer and key set. With
// [Config.Issuer] empty, the issuer rule of package
// [github.com/shopsso/sso/verify] applies: the issuer (and key set) of the
// OpenID Connect discovery document under the identity service's base URL
// when it is served, otherwise any "iss" that is an https URL on the token
// endpoint's own origin (scheme, host and port) — so whatever spelling the
// service uses for itself is accepted, and a token minted by another
// provider is refused (mix-up). ID-token signatures are checked whenever a
// key set is known ([Config.JWKSURL] or discovery's jwks_uri); without
// one, the token is trusted as received directly from the token endpoint
// over TLS (OIDC Core §3.1.3.7 (6)), with every claim still checked.
package multicart

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/internal/query"
	"github.com/shopsso/sso/internal/secureurl"
	"github.com/shopsso/sso/internal/tokencall"
	"github.com/shopsso/sso/oauthhttp"
	"github.com/shopsso/sso/verify"
)

// Name is the provider's name in sessions, logs and routes.
const Name = "multicart"

// The real endpoints.
const (
	AuthURL  = "https://identity.multicartshop.com/"
	TokenURL = "https://identity.multicartshop.com/api/connect/token"
)

// IssuerHint is added to an issuer refusal in the log, telling the operator
// what to set.
const IssuerHint = "if this issuer is the identity service's own, set multicart.Config.Issuer (MULTICART_ISSUER in the example) to it"

// Scopes Multicart documents.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeRoles         = "roles"
	ScopeOfflineAccess = "offline_access" // asks for a refresh token
	ScopeAPI           = "multicart.api"
)

// DefaultScopes returns the scopes requested when [Config.Scopes] is
// empty: the guide's example set.
func DefaultScopes() []string {
	return []string{ScopeEmail, ScopeProfile, ScopeOpenID, ScopeRoles, ScopeOfflineAccess, ScopeAPI}
}

// Config configures the provider.
type Config struct {
	// ClientID is the application ID (the guide's "application"). Required.
	ClientID string
	// ClientSecret is used only by the client-credentials grant
	// ([Provider.ServiceTokenSource]) when ServiceClientSecret is empty;
	// customer logins never send it.
	ClientSecret string
	// ServiceClientID and ServiceClientSecret are the confidential client
	// of the client-credentials grant ([Provider.ServiceTokenSource]),
	// for a server that registers it apart from the public login client
	// (a standard provider gives each client one authentication method).
	// Zero: ClientID and ClientSecret. A ServiceClientID needs its own
	// ServiceClientSecret.
	ServiceClientID, ServiceClientSecret string
	// RedirectURL is the return URL (the guide's "return"); it may carry
	// a query of its own. Required, absolute.
	RedirectURL string
	// Scopes to request. Zero: [DefaultScopes].
	Scopes []string
	// AuthParams are extra authorize parameters sent with every login,
	// for example prompt=consent (which a standard provider needs before it
	// grants offline_access, OIDC Core §11), ui_locales or acr_values.
	// They may not name a parameter the login sets itself
	// ([sso.IsReservedAuthParam]); New refuses them. Per-login parameters
	// ([sso.Config.LoginParams]) override them. Zero: none.
	AuthParams url.Values
	// AuthURL and TokenURL override the real ones. Zero: [AuthURL],
	// [TokenURL].
	AuthURL, TokenURL string
	// Issuer, when set, must equal the ID token's "iss" exactly (OIDC Core
	// §3.1.3.7 (2)). Zero: the issuer of the discovery document when one
	// is served, otherwise any https URL on TokenURL's origin (see the
	// package documentation).
	Issuer string
	// DiscoveryURL is the base URL under which the OpenID Connect discovery
	// document is read (+ "/.well-known/openid-configuration"). It is
	// optional: a 404 or an error falls back to the rules without it.
	// Zero: AuthURL without query and trailing slash — the identity
	// service's base URL.
	DiscoveryURL string
	// SkipDiscovery never reads a discovery document.
	SkipDiscovery bool
	// JWKSURL, when set, is the key set that verifies ID-token signatures.
	// Zero: discovery's jwks_uri when served; otherwise signatures are not
	// checked (the token comes straight from the token endpoint over TLS,
	// OIDC Core §3.1.3.7 (6)); iss, aud, exp, iat, nonce and the algorithm
	// still are.
	JWKSURL string
	// InsecureAllowHTTP allows plain-http AuthURL, TokenURL, JWKSURL and
	// discovery URLs on hosts that are not loopback. Without it New refuses
	// them: without TLS anyone on the path can read the code and the
	// customer's password, answer in the provider's name (and an ID token
	// whose signature is not checked is trusted only because TLS
	// authenticated the token endpoint), or swap keys. Loopback hosts
	// (127.0.0.0/8, ::1, localhost) never need it.
	InsecureAllowHTTP bool
	// IDTokenAlgorithms allowed. Zero: [verify.DefaultAlgorithms] (every
	// asymmetric algorithm; a key only verifies the algorithm of its type).
	IDTokenAlgorithms []string
	// PostLogoutRedirectURL, when set, turns on logout at Multicart too
	// (OpenID Connect RP-Initiated Logout 1.0): [sso.Auth.Logout] sends
	// the browser to the end-session endpoint, which sends it back here.
	// It is the absolute URL at which the app mounts
	// [sso.Auth.LogoutCallback], registered with the provider as a
	// post-logout redirect URI. Zero: logout is local only (the
	// customer's session at Multicart stays).
	PostLogoutRedirectURL string
	// EndSessionURL is the end-session endpoint. Zero: discovery's
	// end_session_endpoint; without one, logout stays local.
	EndSessionURL string
	// HTTPClient makes token, JWKS and discovery calls, made safe by
	// [oauthhttp.TokenClient]. Zero: http.DefaultClient's settings.
	HTTPClient *http.Client
	// Now is the clock for ID-token checks and service-token caching.
	// Zero: time.Now.
	Now func() time.Time
}

// Provider implements [sso.Provider], [sso.Refresher],
// [sso.IDTokenVerifier] and [sso.EndSessioner] for Multicart.
type Provider struct {
	cfg       Config
	oauth     oauth2.Config // no secret: a public client
	client    *http.Client
	ids       *verify.Verifier
	discovery *verify.Discovery // nil with SkipDiscovery
	vc        verify.Config     // ids' config, shared by AccessTokenVerifier
}

// New validates cfg and returns the provider.
func New(cfg Config) (*Provider, error) {
	if cfg.ClientID == "" {
		return nil, errors.New("multicart: ClientID is required")
	}
	if u, err := url.Parse(cfg.RedirectURL); err != nil || !u.IsAbs() {
		return nil, errors.New("multicart: RedirectURL must be an absolute URL")
	}
	if err := sso.CheckAuthParams(cfg.AuthParams); err != nil {
		return nil, fmt.Errorf("multicart: AuthParams: %w", err)
	}
	cfg.AuthParams = sso.MergeAuthParams(cfg.AuthParams, nil) // our own copy
	switch {
	case cfg.ServiceClientID != "" && cfg.ServiceClientSecret == "":
		return nil, errors.New("multicart: ServiceClientID needs ServiceClientSecret")
	case cfg.ServiceClientID == "":
		cfg.ServiceClientID = cfg.ClientID
		if cfg.ServiceClientSecret == "" {
			cfg.ServiceClientSecret = cfg.ClientSecret
		}
	}
	if cfg.AuthURL == "" {
		cfg.AuthURL = AuthURL
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = TokenURL
	}
	if cfg.DiscoveryURL == "" {
		cfg.DiscoveryURL = baseURL(cfg.AuthURL)
	}
	for _, u := range []string{cfg.AuthURL, cfg.TokenURL} {
		if pu, err := url.Parse(u); err != nil || !pu.IsAbs() {
			return nil, errors.New("multicart: AuthURL and TokenURL must be absolute URLs")
		}
	}
	for _, u := range [...][2]string{{"AuthURL", cfg.AuthURL}, {"TokenURL", cfg.TokenURL}} {
		if err := secureurl.Check(u[1], cfg.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("multicart: %s: %w", u[0], err)
		}
	}
	if cfg.PostLogoutRedirectURL != "" {
		if u, err := url.Parse(cfg.PostLogoutRedirectURL); err != nil || !u.IsAbs() {
			return nil, errors.New("multicart: PostLogoutRedirectURL must be an absolute URL")
		}
	}
	if cfg.EndSessionURL != "" {
		if err := secureurl.Check(cfg.EndSessionURL, cfg.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("multicart: EndSessionURL: %w", err)
		}
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = DefaultScopes()
	}
	cfg.Scopes = append([]string(nil), cfg.Scopes...)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Provider{
		cfg: cfg,
		oauth: oauth2.Config{
			ClientID:    cfg.ClientID,
			RedirectURL: cfg.RedirectURL,
			Endpoint:    oauth2.Endpoint{AuthURL: cfg.AuthURL, TokenURL: cfg.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
		},
		client: oauthhttp.TokenClient(cfg.HTTPClient),
	}
	vc := verify.Config{
		Issuer:            cfg.Issuer,
		IssuerOrigin:      cfg.TokenURL,
		InsecureAllowHTTP: cfg.InsecureAllowHTTP,
		IssuerHint:        IssuerHint,
		Audience:          cfg.ClientID,
		Algorithms:        cfg.IDTokenAlgorithms,
		// The ID token comes straight from the token endpoint (OIDC Core
		// §3.1.3.7 (6)); a key set, when known, is always used.
		InsecureSkipSignatureCheckWithoutKeys: true,
		Now:                                   cfg.Now,
	}
	if cfg.JWKSURL != "" {
		ks, err := verify.NewKeySet(verify.KeySetConfig{URL: cfg.JWKSURL, HTTPClient: cfg.HTTPClient,
			InsecureAllowHTTP: cfg.InsecureAllowHTTP, Now: cfg.Now})
		if err != nil {
			return nil, fmt.Errorf("multicart: JWKSURL: %w", err)
		}
		vc.Keys = ks
	}
	if !cfg.SkipDiscovery {
		d, err := verify.NewDiscovery(verify.DiscoveryConfig{BaseURL: cfg.DiscoveryURL, Issuer: cfg.Issuer,
			HTTPClient: cfg.HTTPClient, InsecureAllowHTTP: cfg.InsecureAllowHTTP, Now: cfg.Now})
		if err != nil {
			return nil, fmt.Errorf("multicart: DiscoveryURL: %w", err)
		}
		vc.Discovery = d
		p.discovery = d
	}
	ids, err := verify.New(vc)
	if err != nil {
		return nil, fmt.Errorf("multicart: %w", err)
	}
	p.ids, p.vc = ids, vc
	return p, nil
}

// Name returns [Name].
func (p *Provider) Name() string { return Name }

// RequestedScopes returns the configured scopes.
func (p *Provider) RequestedScopes() []string { return append([]string(nil), p.cfg.Scopes...) }

// AuthCodeURL returns the authorize URL: application, return, scope
// (space-separated) and state as the guide names them, plus PKCE
// (code_challenge, code_challenge_method=S256) and the OIDC nonce, after
// the extra parameters of [Config.AuthParams] and of this login.
func (p *Provider) AuthCodeURL(ap sso.AuthParams) string {
	q := sso.MergeAuthParams(p.cfg.AuthParams, ap.Extra)
	q.Set("application", p.cfg.ClientID)
	q.Set("return", p.cfg.RedirectURL)
	q.Set("scope", strings.Join(p.cfg.Scopes, " "))
	if ap.State != "" {
		q.Set("state", ap.State)
	}
	if ap.CodeChallenge != "" {
		q.Set("code_challenge", ap.CodeChallenge)
		q.Set("code_challenge_method", "S256")
	}
	if ap.Nonce != "" {
		q.Set("nonce", ap.Nonce)
	}
	return query.Add(p.cfg.AuthURL, q)
}

func (p *Provider) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, p.client)
}

// Exchange posts grant_type=authorization_code, client_id, code,
// redirect_uri and code_verifier — no secret — to the token URL.
func (p *Provider) Exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	return tokencall.Exchange(ctx, &p.oauth, p.client, code, verifier)
}

// Refresh posts grant_type=refresh_token, refresh_token and client_id to
// the token URL (RFC 6749 §6). The response's refresh token replaces the
// used one, which Multicart is assumed to invalidate.
func (p *Provider) Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	return tokencall.Refresh(ctx, &p.oauth, p.client, refreshToken)
}

// VerifyIDToken checks the ID token of a login or refresh with
// [verify.Verifier.IDToken]: the header (no crit, an allowed alg), iss by
// the rule of the package documentation, sub, aud (the client ID), azp,
// the signature when a key set is known, exp, iat, nbf and the nonce. A
// refusal wraps a [*verify.CheckError] naming the check; a key set or
// discovery document that cannot be fetched is
// [sso.ErrProviderUnavailable].
func (p *Provider) VerifyIDToken(ctx context.Context, raw, nonce string) (*sso.Claims, error) {
	return tokencall.VerifyIDToken(ctx, "multicart", p.ids, raw, nonce)
}

// Metadata returns the identity service's OpenID Connect discovery
// document (fetched once and cached; see [verify.Discovery]), for example
// its end_session_endpoint. Without one (a 404, or [Config.SkipDiscovery])
// it returns [verify.ErrNoDiscovery]; when it cannot be fetched,
// [verify.ErrUnavailable].
func (p *Provider) Metadata(ctx context.Context) (*verify.Metadata, error) {
	if p.discovery == nil {
		return nil, fmt.Errorf("multicart: %w: discovery is switched off", verify.ErrNoDiscovery)
	}
	return p.discovery.Metadata(ctx)
}

// EndSession implements [sso.EndSessioner]: with
// [Config.PostLogoutRedirectURL] set, the end-session endpoint
// ([Config.EndSessionURL], else discovery's end_session_endpoint). It
// returns nil, and logout stays local, without PostLogoutRedirectURL or
// without an endpoint (no discovery document, or one that publishes
// none); an error when the discovery document cannot be fetched.
func (p *Provider) EndSession(ctx context.Context) (*sso.EndSession, error) {
	if p.cfg.PostLogoutRedirectURL == "" {
		return nil, nil
	}
	ep := p.cfg.EndSessionURL
	if ep == "" {
		md, err := p.Metadata(ctx)
		switch {
		case errors.Is(err, verify.ErrNoDiscovery):
			return nil, nil
		case err != nil:
			return nil, err
		}
		ep = md.EndSessionEndpoint
		if ep == "" {
			return nil, nil
		}
		if err := secureurl.Check(ep, p.cfg.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("multicart: end_session_endpoint: %w", err)
		}
	}
	return &sso.EndSession{Endpoint: ep, ClientID: p.cfg.ClientID, PostLogoutRedirectURI: p.cfg.PostLogoutRedirectURL}, nil
}

// ServiceTokenSource returns the Admin API's service token source: the
// client-credentials grant (grant_type=client_credentials, client_id,
// client_secret, scope in the form body) of the service client
// ([Config.ServiceClientID], by default the login client). The token is cached and shared by
// every goroutine, and renewed one minute (at most half its lifetime)
// before it expires; one renewal serves all concurrent callers.
func (p *Provider) ServiceTokenSource(scopes ...string) (oauth2.TokenSource, error) {
	if p.cfg.ServiceClientSecret == "" {
		return nil, errors.New("multicart: the client-credentials grant needs ServiceClientSecret or ClientSecret")
	}
	cc := clientcredentials.Config{
		ClientID:     p.cfg.ServiceClientID,
		ClientSecret: p.cfg.ServiceClientSecret,
		TokenURL:     p.cfg.TokenURL,
		Scopes:       scopes,
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	return oauthhttp.CachedTokenSource(ccSource{cc: cc, ctx: p.ctx(context.Background())}, time.Minute, p.cfg.Now), nil
}

// ServiceClient returns an [http.Client] that sends the service token from
// src (see [Provider.ServiceTokenSource]) on every request.
// Redirects are followed only within the same origin ([oauthhttp.BearerClient]).
func ServiceClient(src oauth2.TokenSource) *http.Client {
	return oauthhttp.BearerClient(src)
}

// ccSource fetches a new client-credentials token on every call; the cache
// in front of it decides when to call.
type ccSource struct {
	cc  clientcredentials.Config
	ctx context.Context
}

// Token also refuses a token_type other than Bearer (RFC 6749 §7.1): the
// token would be sent as a bearer token all the same.
func (s ccSource) Token() (*oauth2.Token, error) {
	tok, err := s.cc.Token(s.ctx)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(tok.TokenType, "bearer") {
		return nil, fmt.Errorf("multicart: service token: %w: token_type is not Bearer", sso.ErrTokenResponse)
	}
	return tok, nil
}

// baseURL is the base URL of an identity service whose authorize URL is
// authURL: without query or trailing slash.
func baseURL(authURL string) string {
	u, err := url.Parse(authURL)
	if err != nil {
		return authURL
	}
	u.RawQuery, u.Fragment = "", ""
	return strings.TrimSuffix(u.String(), "/")
}
