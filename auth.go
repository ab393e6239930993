package sso

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Defaults for [Config] fields left at their zero value.
const (
	DefaultStateTTL      = 10 * time.Minute
	DefaultMaxPending    = 5
	DefaultRefreshMargin = time.Minute
	DefaultRealm         = "shopsso"
	// DefaultMaxTokenLifetime is [Config.MaxTokenLifetime]'s zero value.
	DefaultMaxTokenLifetime = time.Hour
)

// Config configures an [Auth]. Sessions and Providers are required; every
// other field's zero value is the strict default documented on it.
type Config struct {
	// Sessions keeps logins server-side. Required. Set its Store before
	// calling New: New wraps it so that every store call has a deadline
	// (StoreTimeout), a store failure is answered 503 ([ErrStoreUnavailable])
	// and a destroyed session cannot be saved back by a request that still
	// holds a copy (see [Auth.Logout]). New also sets its ErrorFunc to one
	// that answers those two cases itself and passes any other error to the
	// ErrorFunc it had. Its cookie must be
	// HttpOnly and must not be SameSite=None; it must be Secure unless
	// InsecureCookie is set. (SameSite=Strict would drop the cookie on
	// the return from the provider; scs's default, Lax, is right.)
	Sessions *scs.SessionManager

	// Providers customers can log in through. Required; names unique.
	Providers []Provider

	// DefaultProvider names the provider [Auth.Require] sends browsers to
	// when they are not logged in. Zero: the first of Providers. Ignored
	// when LoginPath is set.
	DefaultProvider string

	// LoginPath, when set, is an application page (a relative path) that
	// lets the customer choose a provider: Require redirects browsers
	// there with ?return_to=<the page they asked for> instead of straight
	// to DefaultProvider.
	LoginPath string

	// LoginParams names extra authorize parameters (OIDC Core §3.1.2.1:
	// login_hint, prompt, ui_locales, ...) that [Auth.Login] copies from
	// its own query string into the provider's authorize URL, so a page
	// can link to /auth/multicart/login?login_hint=ann@example.com. They
	// override a provider's configured parameters of the same name. Names
	// reserved to the protocol ([IsReservedAuthParam]) are refused by
	// [New]. Zero: none is copied.
	LoginParams []string

	// AfterLogoutPath is where [Auth.Logout] sends browsers. Zero: "/".
	AfterLogoutPath string

	// StateTTL bounds how long a started login may take. Zero: 10 minutes.
	// A session that holds nothing but logins in progress (an anonymous
	// visitor's) ends after it too, instead of after the session
	// manager's Lifetime; a completed login brings the Lifetime back.
	// An application that keeps its own data in an anonymous visitor's
	// session should put it there before the login starts, or set the
	// session's deadline itself.
	StateTTL time.Duration

	// MaxPending is how many logins a session may have started and not
	// finished (several tabs); the oldest is dropped beyond it. Zero: 5.
	MaxPending int

	// RefreshMargin is how long before expiry a refreshable access token
	// is renewed. It never exceeds half the token's lifetime, so a
	// short-lived token is not refreshed on every request. Zero: 1 minute.
	RefreshMargin time.Duration

	// MaxTokenLifetime is how long a login lasts when the token response
	// says nothing usable about it: no expires_in (or one ≤ 0 or over a
	// year) and an access token that is not a JWT with "exp". A login
	// never lasts forever. Zero: [DefaultMaxTokenLifetime] (1 hour).
	MaxTokenLifetime time.Duration

	// Realm is the realm of the WWW-Authenticate challenge sent with 401
	// answers. Zero: "shopsso".
	Realm string

	// Logger receives one structured record per failure, with a reason and
	// never a code, token or secret. Zero: [slog.Default].
	Logger *slog.Logger

	// ErrorHandler writes the response for a failed login, callback,
	// logout or refresh. Zero: [DefaultErrorHandler]'s page (or JSON for
	// API clients) with the status from [StatusCode] and no detail, its
	// "try again" link going to LoginPath, rendered by ErrorTemplate when
	// that is set. It is called after the failure has been logged.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// ErrorTemplate, when set, renders the page browsers get for a
	// failure, executed with an [ErrorPage] (plain words, no error text),
	// instead of this package's own page; API clients still get JSON.
	// A template that fails to execute is logged and the default page is
	// shown. Zero: the default page. It is used only by the default
	// ErrorHandler, so setting both is an error from [New].
	ErrorTemplate *template.Template

	// OnLogin is called when a login has been verified, before it is
	// stored. Returning an error refuses it ([ErrLoginRejected]): nothing
	// is stored and the customer stays logged out.
	OnLogin func(ctx context.Context, info LoginInfo) error

	// OnLogout is called after a session with a login has been destroyed.
	OnLogout func(ctx context.Context, info LoginInfo)

	// OnRefresh is called after a token set has been refreshed and stored.
	OnRefresh func(ctx context.Context, info LoginInfo)

	// OnError is called with every failure this package handles, including
	// those that do not end in an error response (a refresh that failed
	// while the old token was still valid).
	OnError func(ctx context.Context, err error)

	// StoreTimeout bounds each call to the session store (through the
	// context of an [scs.CtxStore], by a bounded wait for other stores).
	// A store that does not answer in time is treated as down: the request
	// gets 503 with Retry-After. Zero: [DefaultStoreTimeout] (1 second).
	StoreTimeout time.Duration

	// Now is the clock. Zero: [time.Now]. Tests inject their own.
	Now func() time.Time

	// Locker serializes a session's refresh ("re-read the session, refresh,
	// store") so that one refresh token is spent once. Zero:
	// [NewLocalLocker], which is enough for one app instance; instances
	// sharing a session store need a Locker in a shared store (modules
	// redislock, pglock), else two of them may spend the same refresh token
	// and a provider that detects reuse revokes the whole grant. The
	// callback takes it too, around consuming a pending login, so that one
	// callback completes once however many instances receive copies of it.
	Locker Locker

	// MaxRefreshes bounds the provider refresh calls this Auth makes at
	// once; further refreshes queue (they are not refused) until a call
	// ends. Zero: [DefaultMaxRefreshes].
	MaxRefreshes int

	// InsecureCookie allows a session cookie without the Secure attribute,
	// for development over plain http on loopback.
	InsecureCookie bool
}

// LoginInfo describes a login to the hooks.
type LoginInfo struct {
	Provider string
	Subject  string  // "sub" of the ID token or, failing that, the access token
	Token    Token   // the access token
	Claims   *Claims // access-token claims; nil when it is not a JWT
	IDClaims *Claims // ID-token claims; nil without an ID token
}

// Auth logs customers in and guards handlers. Create it with [New]; it is
// safe for concurrent use.
type Auth struct {
	// cfg is the caller's Config normalized once by New: every zero field
	// that has a default holds it, so the rest of the package reads
	// a.cfg.X and never repeats a default.
	cfg Config

	// Derived from cfg by New.
	providers map[string]Provider // by Name
	defaultP  Provider            // where Require sends browsers without LoginPath
	challenge string              // the WWW-Authenticate value of a 401

	crossOrigin *http.CrossOriginProtection // Logout's check

	flights flights
	slots   chan struct{} // one per provider refresh call under way
	rotated rotatedTokens
}

// New validates cfg and returns an Auth.
func New(cfg Config) (*Auth, error) {
	sm := cfg.Sessions
	switch {
	case sm == nil:
		return nil, errors.New("sso: Config.Sessions is required")
	case !sm.Cookie.HttpOnly:
		return nil, errors.New("sso: the session cookie must be HttpOnly")
	case sm.Cookie.SameSite == http.SameSiteNoneMode:
		return nil, errors.New("sso: the session cookie must not be SameSite=None")
	case sm.Cookie.SameSite == http.SameSiteStrictMode:
		return nil, errors.New("sso: the session cookie must not be SameSite=Strict: the browser would not send it " +
			"on the return from the provider, and no login could complete; use SameSite=Lax (scs's default)")
	case !sm.Cookie.Secure && !cfg.InsecureCookie:
		return nil, errors.New("sso: the session cookie must be Secure (set Config.InsecureCookie for plain-http development)")
	case len(cfg.Providers) == 0:
		return nil, errors.New("sso: Config.Providers is empty")
	}
	cfg.Providers = slices.Clone(cfg.Providers) // the caller may reuse its slice
	a := &Auth{providers: make(map[string]Provider, len(cfg.Providers))}
	for _, p := range cfg.Providers {
		if p == nil || p.Name() == "" {
			return nil, errors.New("sso: a provider is nil or has no name")
		}
		if _, dup := a.providers[p.Name()]; dup {
			return nil, fmt.Errorf("sso: provider %q listed twice", p.Name())
		}
		a.providers[p.Name()] = p
	}
	for _, name := range cfg.LoginParams {
		if err := CheckAuthParams(url.Values{name: nil}); err != nil {
			return nil, fmt.Errorf("sso: Config.LoginParams: %w", err)
		}
	}
	cfg.LoginParams = slices.Clone(cfg.LoginParams)
	a.defaultP = cfg.Providers[0]
	if cfg.DefaultProvider != "" {
		if a.defaultP = a.providers[cfg.DefaultProvider]; a.defaultP == nil {
			return nil, fmt.Errorf("sso: DefaultProvider %q is not among Providers", cfg.DefaultProvider)
		}
	}
	if cfg.LoginPath != "" && !safeReturnTo(cfg.LoginPath) {
		return nil, errors.New("sso: LoginPath must be a relative path")
	}
	if cfg.AfterLogoutPath == "" {
		cfg.AfterLogoutPath = "/"
	} else if !safeReturnTo(cfg.AfterLogoutPath) {
		return nil, errors.New("sso: AfterLogoutPath must be a relative path")
	}
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = DefaultStateTTL
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.RefreshMargin <= 0 {
		cfg.RefreshMargin = DefaultRefreshMargin
	}
	a.crossOrigin = http.NewCrossOriginProtection()
	if cfg.MaxTokenLifetime <= 0 {
		cfg.MaxTokenLifetime = DefaultMaxTokenLifetime
	}
	if cfg.Realm == "" {
		cfg.Realm = DefaultRealm
	}
	a.challenge = fmt.Sprintf("Session realm=%q", cfg.Realm)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch {
	case cfg.ErrorHandler != nil && cfg.ErrorTemplate != nil:
		return nil, errors.New("sso: set Config.ErrorHandler or Config.ErrorTemplate, not both")
	case cfg.ErrorHandler == nil:
		cfg.ErrorHandler = a.errorHandler
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Locker == nil {
		cfg.Locker = NewLocalLocker()
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	if cfg.MaxRefreshes <= 0 {
		cfg.MaxRefreshes = DefaultMaxRefreshes
	}
	a.slots = make(chan struct{}, cfg.MaxRefreshes)
	a.cfg = cfg
	sm.Store = newStoreGuard(sm, cfg.StoreTimeout, cfg.Locker, cfg.Logger, cfg.Now)
	sm.ErrorFunc = a.sessionErrorFunc(sm.ErrorFunc)
	if _, wrapped := sm.Codec.(safeCodec); !wrapped {
		sm.Codec = safeCodec{Codec: sm.Codec, a: a}
	}
	return a, nil
}

// provider returns the named provider or panics: naming an unconfigured
// provider when mounting a handler is a programming error, like an invalid
// pattern given to [http.ServeMux.Handle].
func (a *Auth) provider(name string) Provider {
	p, ok := a.providers[name]
	if !ok {
		panic(fmt.Sprintf("sso: no provider named %q is configured", name))
	}
	return p
}

// info describes l to the hooks.
func (a *Auth) info(l *login) LoginInfo {
	info := LoginInfo{Provider: l.Provider, Token: l.token()}
	info.Token.Scopes = slices.Clone(l.Scopes) // the hook's own copy
	if l.access.jwt {
		info.Claims = &Claims{set: &l.access, raw: l.AccessToken}
	}
	if l.id.jwt {
		info.IDClaims = &Claims{set: &l.id}
		info.IDClaims.raw, info.IDClaims.packed = l.idTokenForClaims()
	}
	switch {
	case info.IDClaims != nil && info.IDClaims.Subject() != "":
		info.Subject = info.IDClaims.Subject()
	case info.Claims != nil:
		info.Subject = info.Claims.Subject()
	}
	return info
}
