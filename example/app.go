package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
	"golang.org/x/oauth2"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/sessioncodec"
	"github.com/shopsso/sso/ssotest"
)

// deps are what tests inject into an instance of the app.
type deps struct {
	Stand *ssotest.Server  // the stand-in, for providers without a client ID
	Store scs.Store        // session store; nil: REDIS_URL's, or memory
	Now   func() time.Time // clock; nil: time.Now
}

// app is one instance of the example: a handler and what it is made of.
type app struct {
	handler http.Handler
	auth    *sso.Auth
	service oauth2.TokenSource // Multicart Admin API token; nil without a secret
	close   func()
}

// run serves the example until ctx ends. ready is called with the URL to
// open once the server accepts connections.
func run(ctx context.Context, s settings, logger *slog.Logger, ready func(url string)) error {
	if _, _, err := s.configured(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	base := s.baseURLFor(ln.Addr())
	var d deps
	if s.usesStandIn() {
		d.Stand = ssotest.NewServer(ssotest.Options{})
		defer d.Stand.Close()
		logger.Warn("NO PROVIDER IS CONFIGURED: serving the built-in stand-in for Istores and Multicart, "+
			"which logs ANYONE in as a test customer WITHOUT A PASSWORD. For development only: never expose this "+
			"instance. Set ISTORES_* and/or MULTICART_* to use real providers.", "stand_in", d.Stand.URL())
	}
	a, err := newApp(s, base, logger, d)
	if err != nil {
		ln.Close()
		return err
	}
	defer a.close()
	srv := newServer(a.handler, logger)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	ready(base + "/")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newServer returns the example's HTTP server. Every phase of a request
// has a deadline, so a slow or idle client cannot hold a connection (and
// its goroutine and buffers) for ever: headers within 10 s, the whole
// request within 30 s, the response within 60 s (room for a token call
// and a refresh), an idle keep-alive connection for 2 minutes.
func newServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// newApp builds one instance serving at base (its public URL).
func newApp(s settings, base string, logger *slog.Logger, d deps) (*app, error) {
	a := &app{close: func() {}}
	sm := scs.New()
	sm.Cookie.Name = "shopsso_session"
	secure, err := s.cookieSecure(base)
	if err != nil {
		return nil, err
	}
	sm.Cookie.Secure = secure
	sm.Codec = sessioncodec.Codec{}
	if len(s.SessionKeys) > 0 {
		codec, err := sessioncodec.New(s.SessionKeys...)
		if err != nil {
			return nil, err
		}
		sm.Codec = codec
	} else if s.sharedStore {
		logger.Warn("sessions are stored unsealed: anyone who can read the session store can read customers' tokens; set SESSION_KEYS to seal them",
			"check", "SESSION_KEYS")
	}
	var locker sso.Locker // nil: in this process only
	switch {
	case d.Store != nil:
		sm.Store = d.Store
	case s.RedisURL != "":
		store, closeStore, err := redisStore(s.RedisURL)
		if err != nil {
			return nil, err
		}
		l, closeLocker, err := redisLocker(s.RedisURL)
		if err != nil {
			closeStore()
			return nil, err
		}
		sm.Store, locker = store, l
		a.close = func() { closeLocker(); closeStore() }
	case s.DatabaseURL != "":
		store, l, closeStore, err := postgresStore(s.DatabaseURL)
		if err != nil {
			return nil, err
		}
		sm.Store, locker = store, l
		a.close = closeStore
	}

	ps, mc, err := providers(s, base, d)
	if err != nil {
		return nil, err
	}
	a.auth, err = sso.New(sso.Config{
		Sessions:        sm,
		Providers:       ps,
		Logger:          logger,
		Now:             d.Now,
		StoreTimeout:    storeTimeout,
		Locker:          locker,
		InsecureCookie:  !sm.Cookie.Secure,
		LoginPath:       loginPath,
		AfterLogoutPath: loginPath + "?logged_out=1",
	})
	if err != nil {
		return nil, err
	}
	var api *sso.Bearer // GET /api/me, for Multicart's access tokens
	if mc != nil {
		if src, err := mc.ServiceTokenSource(multicart.ScopeAPI); err == nil {
			a.service = src
		}
		if api, err = multicartAPI(mc, s, d, logger); err != nil {
			return nil, err
		}
	}

	mux := http.NewServeMux()
	choices := choicesOf(ps)
	mux.Handle("GET /{$}", a.auth.Identify(home(choices)))
	for _, p := range ps {
		mux.Handle("GET /auth/"+p.Name()+"/login", a.auth.Login(p.Name()))
		mux.Handle("GET /auth/"+p.Name()+"/callback", a.auth.Callback(p.Name()))
	}
	mux.HandleFunc("GET "+loginPath, choose(choices))
	mux.Handle("POST /logout", a.auth.Logout())
	mux.Handle("GET /logout", a.auth.Identify(http.HandlerFunc(logoutForm)))
	mux.Handle("GET "+logoutReturnPath, a.auth.LogoutCallback())
	mux.Handle("GET /me", a.auth.Require(http.HandlerFunc(me)))
	if api != nil {
		mux.Handle("GET /api/me", api.Require(http.HandlerFunc(me)))
	}
	mux.HandleFunc("GET /admin/whoami", a.whoami)
	a.handler = sm.LoadAndSave(securityHeaders(withPages(mux)))
	return a, nil
}

// providers configures the providers the settings name — both on the
// stand-in when none is configured — and returns them, with Multicart's
// (nil when it is not served) for the Admin API token.
func providers(s settings, base string, d deps) ([]sso.Provider, *multicart.Provider, error) {
	useIstores, useMulticart, err := s.configured()
	if err != nil {
		return nil, nil, err
	}
	standIn := !useIstores && !useMulticart
	if standIn && d.Stand == nil {
		return nil, nil, errors.New("no provider is configured and no stand-in is running")
	}
	var ps []sso.Provider
	if useIstores || standIn {
		ic := istores.Config{
			ClientID:     s.IstoresClientID,
			ClientSecret: s.IstoresClientSecret,
			RedirectURL:  base + "/auth/istores/callback",
			Scopes:       []string{istores.ScopeProductsRead, istores.ScopeCustomersRead},
			AuthURL:      s.IstoresAuthURL,
			TokenURL:     s.IstoresTokenURL,
		}
		if standIn {
			e := d.Stand.Istores()
			ic.ClientID, ic.ClientSecret, ic.AuthURL, ic.TokenURL = e.Client.ID, e.Client.Secret, e.AuthURL, e.TokenURL
		}
		ist, err := istores.New(ic)
		if err != nil {
			return nil, nil, fmt.Errorf("istores: %w", err)
		}
		ps = append(ps, ist)
	}
	var mc *multicart.Provider
	if useMulticart || standIn {
		mcfg := multicart.Config{
			ClientID:     s.MulticartClientID,
			ClientSecret: s.MulticartClientSecret,
			RedirectURL:  base + "/auth/multicart/callback",
			AuthURL:      s.MulticartAuthURL,
			TokenURL:     s.MulticartTokenURL,
			Issuer:       s.MulticartIssuer,
			JWKSURL:      s.MulticartJWKSURL,
			Now:          d.Now,

			ServiceClientID:     s.MulticartServiceClientID,
			ServiceClientSecret: s.MulticartServiceClientSecret,

			AuthParams: s.MulticartAuthParams,
		}
		logoutAtProvider := s.MulticartLogoutAtProvider
		if standIn {
			e := d.Stand.Multicart()
			mcfg.ClientID, mcfg.ClientSecret, mcfg.AuthURL, mcfg.TokenURL = e.Client.ID, e.Client.Secret, e.AuthURL, e.TokenURL
			mcfg.Issuer, mcfg.JWKSURL = e.Issuer, e.JWKSURL
			logoutAtProvider = true // the stand-in publishes an end-session endpoint
		}
		if logoutAtProvider {
			mcfg.PostLogoutRedirectURL = base + logoutReturnPath
		}
		if mc, err = multicart.New(mcfg); err != nil {
			return nil, nil, fmt.Errorf("multicart: %w", err)
		}
		ps = append(ps, mc)
	}
	return ps, mc, nil
}

// securityHeaders sets headers every page of the example should carry.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}
