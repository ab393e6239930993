package sso_test

import (
	"fmt"
	"html/template"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/alexedwards/scs/v2"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
)

// Example mounts the login for both providers in a plain net/http app and
// logs a customer in through Multicart, against the ssotest stand-in.
func Example() {
	stand := ssotest.NewServer(ssotest.Options{AutoApprove: true})
	defer stand.Close()
	app := httptest.NewUnstartedServer(nil)
	base := "http://" + app.Listener.Addr().String()

	ie, me := stand.Istores(), stand.Multicart()
	ist, err := istores.New(istores.Config{
		ClientID: ie.Client.ID, ClientSecret: ie.Client.Secret,
		RedirectURL: base + "/auth/istores/callback",
		Scopes:      []string{istores.ScopeProductsRead},
		AuthURL:     ie.AuthURL, TokenURL: ie.TokenURL,
	})
	if err != nil {
		log.Fatal(err)
	}
	mc, err := multicart.New(multicart.Config{
		ClientID:    me.Client.ID,
		RedirectURL: base + "/auth/multicart/callback",
		AuthURL:     me.AuthURL, TokenURL: me.TokenURL, Issuer: me.Issuer, JWKSURL: me.JWKSURL,
	})
	if err != nil {
		log.Fatal(err)
	}

	sm := scs.New()
	auth, err := sso.New(sso.Config{
		Sessions:        sm,
		Providers:       []sso.Provider{ist, mc},
		DefaultProvider: multicart.Name,
		InsecureCookie:  true, // plain http on loopback, for this example only
		Logger:          slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /auth/istores/login", auth.Login(istores.Name))
	mux.Handle("GET /auth/istores/callback", auth.Callback(istores.Name))
	mux.Handle("GET /auth/multicart/login", auth.Login(multicart.Name))
	mux.Handle("GET /auth/multicart/callback", auth.Callback(multicart.Name))
	mux.Handle("POST /logout", auth.Logout())
	mux.Handle("GET /account", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := sso.TokenFromContext(r.Context())
		claims, _ := sso.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "%s via %s, may call the API: %v", claims.Subject(), tok.Provider, tok.HasScope(multicart.ScopeAPI))
	})))
	app.Config.Handler = sm.LoadAndSave(mux)
	app.Start()
	defer app.Close()

	// A browser opens a protected page, logs in, and comes back to it.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	req, _ := http.NewRequest(http.MethodGet, app.URL+"/account", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := browser.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Request.URL.Path, string(page))
	// Output: /account customer-1 via multicart, may call the API: true
}

// README:begin usage

// providersFromEnv configures both providers for a shop at base, e.g.
// "https://shop.example".
func providersFromEnv(base string) (*istores.Provider, *multicart.Provider, error) {
	ist, err := istores.New(istores.Config{
		ClientID:     os.Getenv("ISTORES_CLIENT_ID"),
		ClientSecret: os.Getenv("ISTORES_CLIENT_SECRET"),
		RedirectURL:  base + "/auth/istores/callback",
		Scopes:       []string{istores.ScopeProductsRead},
	})
	if err != nil {
		return nil, nil, err
	}
	mc, err := multicart.New(multicart.Config{
		ClientID:     os.Getenv("MULTICART_CLIENT_ID"),
		ClientSecret: os.Getenv("MULTICART_CLIENT_SECRET"), // only for the Admin API token
		RedirectURL:  base + "/auth/multicart/callback",
	})
	return ist, mc, err
}

// newShop mounts the logins and guards the shop's pages. storeAPI is an
// API the shop calls as the customer.
func newShop(ist *istores.Provider, mc *multicart.Provider, storeAPI string) (http.Handler, error) {
	sm := scs.New()         // any scs store: sm.Store = redisstore.New(pool) to share sessions
	sm.Cookie.Secure = true // required unless Config.InsecureCookie (plain-http development)
	auth, err := sso.New(sso.Config{Sessions: sm, Providers: []sso.Provider{ist, mc}})
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /auth/istores/login", auth.Login(istores.Name)) // ?return_to=/cart
	mux.Handle("GET /auth/istores/callback", auth.Callback(istores.Name))
	mux.Handle("GET /auth/multicart/login", auth.Login(multicart.Name))
	mux.Handle("GET /auth/multicart/callback", auth.Callback(multicart.Name))
	mux.Handle("POST /logout", auth.Logout())
	mux.Handle("GET /account", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := sso.TokenFromContext(r.Context())     // provider, expiry, scopes; prints redacted
		claims, _ := sso.ClaimsFromContext(r.Context()) // the access token's claims: Subject(), Scopes()...
		name := claims.Subject()
		if id, ok := sso.IDClaimsFromContext(r.Context()); ok && id.Name() != "" { // Multicart's ID token
			name = id.Name()
		}
		resp, err := auth.Client(r.Context()).Get(storeAPI) // Bearer token, refreshed when due
		if err != nil {
			http.Error(w, "the store API is not answering", http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		fmt.Fprintf(w, "Hello %s (via %s); the store API answered %d", name, tok.Provider, resp.StatusCode)
	})))
	return sm.LoadAndSave(mux), nil // every handler above runs inside LoadAndSave
}

// README:end usage

// Example_netHTTP runs the README's usage (providersFromEnv, newShop)
// against the ssotest stand-in, over TLS as the Secure cookie needs: a
// browser opens a protected page, logs in through Multicart, and comes
// back to it.
func Example_netHTTP() {
	stand := ssotest.NewServer(ssotest.Options{AutoApprove: true})
	defer stand.Close()
	storeAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer storeAPI.Close()
	app := httptest.NewUnstartedServer(nil)
	base := "https://" + app.Listener.Addr().String()

	// providersFromEnv with the stand-in's endpoints instead of the real ones.
	ie, me := stand.Istores(), stand.Multicart()
	for k, v := range map[string]string{"ISTORES_CLIENT_ID": ie.Client.ID, "ISTORES_CLIENT_SECRET": ie.Client.Secret,
		"MULTICART_CLIENT_ID": me.Client.ID} {
		os.Setenv(k, v)
	}
	ist, _, err := providersFromEnv(base)
	if err != nil {
		log.Fatal(err)
	}
	mc, err := multicart.New(multicart.Config{ClientID: me.Client.ID, RedirectURL: base + "/auth/multicart/callback",
		AuthURL: me.AuthURL, TokenURL: me.TokenURL, DiscoveryURL: me.BaseURL})
	if err != nil {
		log.Fatal(err)
	}
	app.Config.Handler, err = newShop(ist, mc, storeAPI.URL)
	if err != nil {
		log.Fatal(err)
	}
	app.StartTLS()
	defer app.Close()

	browser := app.Client()
	browser.Jar, _ = cookiejar.New(nil)
	req, _ := http.NewRequest(http.MethodGet, app.URL+"/auth/multicart/login?return_to=/account", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := browser.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Request.URL.Path+":", string(page))
	// Output: /account: Hello Test Customer (via multicart); the store API answered 200
}

// ExampleAuth_Require shows what a client that is not logged in gets: API
// clients a 401, never a redirect.
func ExampleAuth_Require() {
	stand := ssotest.NewServer(ssotest.Options{})
	defer stand.Close()
	e := stand.Istores()
	ist, _ := istores.New(istores.Config{
		ClientID: e.Client.ID, ClientSecret: e.Client.Secret, RedirectURL: "http://127.0.0.1/cb",
		AuthURL: e.AuthURL, TokenURL: e.TokenURL,
	})
	sm := scs.New()
	auth, _ := sso.New(sso.Config{Sessions: sm, Providers: []sso.Provider{ist}, InsecureCookie: true})
	h := sm.LoadAndSave(auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "secret")
	})))

	req := httptest.NewRequest(http.MethodGet, "/orders", nil)
	req.Header.Set("Accept", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body.String())

	req = httptest.NewRequest(http.MethodGet, "/orders", nil)
	req.Header.Set("Accept", "text/html")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("Location")[:len(e.AuthURL)] == e.AuthURL)
	// Output:
	// 401 Session realm="shopsso" {"error":"login_required"}
	//
	// 302 true
}

// ExampleToken_String shows that printing a Token leaves the token out.
func ExampleToken_String() {
	tok := sso.Token{Provider: "istores", AccessToken: "eyJhbGciOi...", TokenType: "Bearer", Scopes: []string{"products:read"}}
	fmt.Println(tok)
	// Output: sso.Token{Provider:"istores" TokenType:"Bearer" Expiry:0001-01-01T00:00:00Z Scopes:["products:read"] AccessToken:[redacted]}
}

// ExampleConfig_errorTemplate replaces the built-in error page with the
// shop's own template; API clients still get JSON.
func ExampleConfig_errorTemplate() {
	stand := ssotest.NewServer(ssotest.Options{})
	defer stand.Close()
	e := stand.Istores()
	ist, _ := istores.New(istores.Config{
		ClientID: e.Client.ID, ClientSecret: e.Client.Secret, RedirectURL: "http://127.0.0.1/cb",
		AuthURL: e.AuthURL, TokenURL: e.TokenURL,
	})
	page := template.Must(template.New("error").Parse(
		`<h1>{{.Title}}</h1><p>{{.Message}}</p>{{if .RetryURL}}<a href="{{.RetryURL}}">Try again</a>{{end}}`))
	sm := scs.New()
	auth, _ := sso.New(sso.Config{Sessions: sm, Providers: []sso.Provider{ist}, InsecureCookie: true,
		ErrorTemplate: page, LoginPath: "/login", Logger: slog.New(slog.DiscardHandler)})
	h := sm.LoadAndSave(auth.Callback(istores.Name))

	for _, accept := range []string{"text/html", "application/json"} {
		req := httptest.NewRequest(http.MethodGet, "/auth/istores/callback?state=forged&code=x", nil)
		req.Header.Set("Accept", accept)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String(), "\n")
	}
	// Output:
	// 400 <h1>We couldn&#39;t log you in</h1><p>The login could not be completed. Please start again.</p><a href="/login">Try again</a>
	// 400 {"error":"login_failed"}
}

// ExampleClaims_Decode reads the ID token's claims into the app's own
// struct, and the common ones through accessors.
func ExampleClaims_Decode() {
	stand := ssotest.NewServer(ssotest.Options{Name: "Ada Lovelace"})
	defer stand.Close()
	claims, err := sso.ParseClaims(stand.IssueIDToken(map[string]any{"given_name": "Ada", "tier": "gold"}))
	if err != nil {
		log.Fatal(err)
	}
	var customer struct {
		ID   string `json:"sub"`
		Tier string `json:"tier"`
	}
	if err := claims.Decode(&customer); err != nil {
		log.Fatal(err)
	}
	fmt.Println(customer.ID, customer.Tier, claims.Name(), claims.GivenName(), claims.Email())
	// Output: customer-1 gold Ada Lovelace Ada customer-1@example.com
}
