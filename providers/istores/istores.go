// Package istores is the Istores identity provider for [sso.Auth].
//
// Istores is a confidential client: it sends client_id and client_secret in
// the token request body (not HTTP Basic), names the scope parameter
// "scopes" (plural), and issues no refresh token, so a customer whose access
// token expires logs in again.
//
// Documented by Istores: the authorize URL and its parameters, the token
// request's parameters and response. Assumed (not printed in the guide):
// the token URL [TokenURL] and the separator between several scopes (a
// space, the OAuth convention; see [Config.ScopeSeparator]). PKCE and state
// are sent although the guide does not mention them; a server that does not
// know them ignores them.
package istores

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/internal/query"
	"github.com/shopsso/sso/internal/secureurl"
	"github.com/shopsso/sso/internal/tokencall"
	"github.com/shopsso/sso/oauthhttp"
)

// Name is the provider's name in sessions, logs and routes.
const Name = "istores"

// The real endpoints.
const (
	AuthURL = "https://nova.istores.co.il/oauth/authorize"
	// TokenURL is an assumption: the guide does not print it.
	TokenURL = "https://nova.istores.co.il/oauth/token"
)

// Scopes Istores documents.
const (
	ScopeProductsRead    = "products:read"
	ScopeProductsCreate  = "products:create"
	ScopeProductsUpdate  = "products:update"
	ScopeProductsDelete  = "products:delete"
	ScopePagesRead       = "pages:read"
	ScopePagesCreate     = "pages:create"
	ScopePagesUpdate     = "pages:update"
	ScopePagesDelete     = "pages:delete"
	ScopeCustomersRead   = "customers:read"
	ScopeCustomersCreate = "customers:create"
	ScopeCustomersUpdate = "customers:update"
	ScopeCustomersDelete = "customers:delete"
	ScopeChargeWallet    = "charge:wallet"
	ScopeChargeCard      = "charge:card"
	ScopePBLRead         = "pbl:read" // pay-by-link
	ScopePBLCreate       = "pbl:create"
	ScopePBLUpdate       = "pbl:update"
	ScopePBLDelete       = "pbl:delete"
)

// Config configures the provider.
type Config struct {
	// ClientID and ClientSecret are the provider credentials Istores
	// issued. Required.
	ClientID, ClientSecret string
	// RedirectURL is this app's callback URL, registered with Istores.
	// Required, absolute.
	RedirectURL string
	// Scopes to request. Zero: none.
	Scopes []string
	// ScopeSeparator joins several scopes in the "scopes" parameter. Zero:
	// a single space (the guide shows only one scope).
	ScopeSeparator string
	// AuthParams are extra authorize parameters sent with every login, for
	// example prompt or ui_locales. They may not name a parameter the
	// login sets itself ([sso.IsReservedAuthParam]); New refuses them.
	// Per-login parameters ([sso.Config.LoginParams]) override them.
	// Zero: none.
	AuthParams url.Values
	// AuthURL and TokenURL override the endpoints (tests, staging). Zero:
	// [AuthURL], [TokenURL].
	AuthURL, TokenURL string
	// InsecureAllowHTTP allows a plain-http AuthURL or TokenURL on a host
	// that is not loopback. Without it New refuses them: the client
	// secret and the code travel to the token URL, and the customer's
	// password to the authorize page, and without TLS anyone on the path
	// reads them or answers in the provider's name. Loopback hosts
	// (127.0.0.0/8, ::1, localhost) never need it.
	InsecureAllowHTTP bool
	// HTTPClient makes token calls; it is made safe by [oauthhttp.TokenClient]
	// (no redirects, time-boxed, size-capped). Zero: http.DefaultClient's
	// settings.
	HTTPClient *http.Client
}

// Provider implements [sso.Provider] for Istores.
type Provider struct {
	cfg    Config
	oauth  oauth2.Config
	client *http.Client
}

// New validates cfg and returns the provider.
func New(cfg Config) (*Provider, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("istores: ClientID and ClientSecret are required")
	}
	if u, err := url.Parse(cfg.RedirectURL); err != nil || !u.IsAbs() {
		return nil, errors.New("istores: RedirectURL must be an absolute URL")
	}
	if err := sso.CheckAuthParams(cfg.AuthParams); err != nil {
		return nil, fmt.Errorf("istores: AuthParams: %w", err)
	}
	cfg.AuthParams = sso.MergeAuthParams(cfg.AuthParams, nil) // our own copy
	if cfg.AuthURL == "" {
		cfg.AuthURL = AuthURL
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = TokenURL
	}
	if cfg.ScopeSeparator == "" {
		cfg.ScopeSeparator = " "
	}
	for _, u := range []string{cfg.AuthURL, cfg.TokenURL} {
		if pu, err := url.Parse(u); err != nil || !pu.IsAbs() {
			return nil, errors.New("istores: AuthURL and TokenURL must be absolute URLs")
		}
	}
	for _, u := range [...][2]string{{"AuthURL", cfg.AuthURL}, {"TokenURL", cfg.TokenURL}} {
		if err := secureurl.Check(u[1], cfg.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("istores: %s: %w", u[0], err)
		}
	}
	cfg.Scopes = append([]string(nil), cfg.Scopes...)
	return &Provider{
		cfg: cfg,
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			RedirectURL:  cfg.RedirectURL,
			Endpoint:     oauth2.Endpoint{AuthURL: cfg.AuthURL, TokenURL: cfg.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
		},
		client: oauthhttp.TokenClient(cfg.HTTPClient),
	}, nil
}

// Name returns [Name].
func (p *Provider) Name() string { return Name }

// RequestedScopes returns the configured scopes.
func (p *Provider) RequestedScopes() []string { return append([]string(nil), p.cfg.Scopes...) }

// AuthCodeURL returns the authorize URL: client_id, redirect_uri,
// response_type=code and scopes as the guide names them, plus state and
// PKCE (code_challenge, code_challenge_method=S256), after the extra
// parameters of [Config.AuthParams] and of this login.
func (p *Provider) AuthCodeURL(ap sso.AuthParams) string {
	q := sso.MergeAuthParams(p.cfg.AuthParams, ap.Extra)
	q.Set("client_id", p.cfg.ClientID)
	q.Set("redirect_uri", p.cfg.RedirectURL)
	q.Set("response_type", "code")
	if len(p.cfg.Scopes) > 0 {
		q.Set("scopes", strings.Join(p.cfg.Scopes, p.cfg.ScopeSeparator))
	}
	if ap.State != "" {
		q.Set("state", ap.State)
	}
	if ap.CodeChallenge != "" {
		q.Set("code_challenge", ap.CodeChallenge)
		q.Set("code_challenge_method", "S256")
	}
	return query.Add(p.cfg.AuthURL, q)
}

// Exchange posts the form client_id, client_secret, code (and the standard
// grant_type, redirect_uri, code_verifier) to the token URL.
func (p *Provider) Exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	return tokencall.Exchange(ctx, &p.oauth, p.client, code, verifier)
}
