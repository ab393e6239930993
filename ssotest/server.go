package ssotest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Provider names, as used by [Failure.Provider], [Server.TokenCalls] and
// [Server.IssueAccessToken].
const (
	ProviderIstores   = "istores"
	ProviderMulticart = "multicart"
)

// Grant types (RFC 6749 §4.1.3, §4.4.2, §6), as used by [Failure.Grant] and
// [Server.TokenCalls].
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// MulticartAudience is the "aud" claim of every Multicart access token.
const MulticartAudience = "multicart.api"

// codeTTL is how long an authorization code stays redeemable, measured by
// [Options.Now].
const codeTTL = 60 * time.Second

// Client is an OAuth client registration: the ID and secret the stand-in
// accepts for one provider.
type Client struct {
	ID, Secret string
}

// DefaultIstoresClient is the registration used when [Options] leaves
// Istores' Client zero.
func DefaultIstoresClient() Client { return Client{ID: "istores-client", Secret: "istores-secret"} }

// DefaultMulticartClient is the registration used when [Options] leaves
// Multicart's Client zero.
func DefaultMulticartClient() Client {
	return Client{ID: "multicart-app", Secret: "multicart-secret"}
}

// Options configures [NewServer]. The zero value is a working server that shows
// the HTML approval page and uses the default clients.
type Options struct {
	// Istores is the registered Istores client. Zero means DefaultIstoresClient.
	Istores Client
	// Multicart is the registered Multicart client. Zero means
	// DefaultMulticartClient.
	Multicart Client
	// MulticartService, when set, is a separate confidential Multicart
	// client, the only one the client-credentials grant accepts, as a
	// standard provider that registers one authentication method per
	// client would have it. Zero means the Multicart client serves both.
	MulticartService Client
	// OIDC is the registered client of the OpenID Connect provider
	// ([ProviderOIDC]). Zero means DefaultOIDCClient; a Client with an
	// empty Secret is a public client, which must use PKCE.
	OIDC Client

	// AutoApprove makes the authorize endpoints redirect straight back with a
	// code, as if the customer had pressed Approve. False shows an HTML
	// approval page, for a human in a browser. See [Server.SetAutoApprove].
	AutoApprove bool

	// Subject is the customer's "sub" in access and ID tokens. Empty means
	// "customer-1".
	Subject string
	// Email and Name are the ID token's "email" and "name" claims. Empty means
	// "customer-1@example.com" and "Test Customer".
	Email, Name string
	// StoreID is the Istores access token's "store_id" claim. Empty means
	// "store-1".
	StoreID string

	// AccessTokenTTL is the lifetime of access and ID tokens; "expires_in" is
	// it in whole seconds. Zero or negative means one hour.
	AccessTokenTTL time.Duration

	// Now is the clock for "iat", "exp", "auth_time" and code expiry. Nil
	// means time.Now. Delays ([Failure.Delay]) always use real time.
	Now func() time.Time

	// IstoresScopesAsString makes the Istores access token's "scopes" claim
	// one space-separated string instead of a JSON list, as a client must
	// accept either.
	IstoresScopesAsString bool

	// KeyType is the type of the key that signs every token. Zero: KeyRSA
	// (RS256).
	KeyType KeyType

	// MulticartIssuer is the "iss" of Multicart's ID and access tokens and
	// of its discovery document. A value starting with "/" is a path on
	// the server's URL ("/multicart/", "/tenant/v2"); any other value is
	// used as is (for example a foreign origin, to prove it is refused).
	// Zero: the server's URL + "/multicart".
	MulticartIssuer string
	// NoDiscovery makes Multicart's discovery document answer 404, as a
	// provider that serves none.
	NoDiscovery bool

	// SkipReuseDetection turns off refresh-token reuse detection. By
	// default, as RFC 9700 §4.14.2 recommends, a refresh token that has
	// already been spent and is presented again revokes the whole grant:
	// the newest refresh token of it stops working too, so a client that
	// spends one refresh token twice logs its customer out at the next
	// expiry. [Server.Reuses] counts such attempts either way.
	SkipReuseDetection bool

	// Logf, if set, receives one line per authorize and token decision, from
	// concurrent handlers. It is never given a code, token, verifier or
	// secret. Nil means no logging.
	Logf func(format string, args ...any)
}

// KeyType names a signing key type for [Options.KeyType].
type KeyType string

// Key types and the algorithm each signs with.
const (
	KeyRSA     KeyType = "RSA"      // RSA-2048, RS256
	KeyECP256  KeyType = "EC P-256" // ES256
	KeyECP384  KeyType = "EC P-384" // ES384
	KeyEd25519 KeyType = "Ed25519"  // EdDSA
)

// Endpoints is what a client needs to talk to one provider of the stand-in.
type Endpoints struct {
	AuthURL, TokenURL, JWKSURL, Issuer string
	// BaseURL is the provider's base URL; Multicart serves its OpenID
	// Connect discovery document under it (BaseURL +
	// "/.well-known/openid-configuration") unless [Options.NoDiscovery].
	BaseURL string
	Client  Client
	// ServiceClient is the client the client-credentials grant accepts
	// (Multicart only): [Options.MulticartService], else Client.
	ServiceClient Client
	// EndSessionURL is the end-session endpoint (OpenID Connect
	// RP-Initiated Logout 1.0 §2), Multicart only; discovery publishes it.
	EndSessionURL string
}

// provider describes one of the two stand-ins: its routes and the names its
// authorize endpoint gives to the standard parameters.
type provider struct {
	name, title string
	client      Client
	service     Client // the client-credentials client
	prefix      string // path prefix, e.g. "/istores"
	authPath    string
	tokenPath   string

	clientParam, redirectParam, scopeParam string
}

// Server is a running stand-in for both identity providers. Create one with
// [NewServer] and stop it with [Server.Close]. All methods are safe for
// concurrent use.
type Server struct {
	srv       *httptest.Server
	opts      Options // normalized: every default filled in
	signer    crypto.Signer
	alg, kid  string
	closed    chan struct{}
	closeOnce sync.Once

	istores, multicart, oidc *provider

	mu                 sync.Mutex
	autoApprove        bool
	failure            *Failure
	codes              map[string]*grant
	refreshTokens      map[string]*grant
	spent              map[string]*family // spent refresh tokens, for reuse detection
	reuses             int
	tokenRequests      []TokenRequest
	authorizeRequests  []url.Values
	redirectsFollowed  int
	endSessionRequests []url.Values
}

// NewServer starts a stand-in on a loopback address with a fresh signing
// key of [Options.KeyType]. The caller must call [Server.Close].
func NewServer(opts Options) *Server {
	if opts.Istores == (Client{}) {
		opts.Istores = DefaultIstoresClient()
	}
	if opts.Multicart == (Client{}) {
		opts.Multicart = DefaultMulticartClient()
	}
	if opts.OIDC == (Client{}) {
		opts.OIDC = DefaultOIDCClient()
	}
	if opts.MulticartService == (Client{}) {
		opts.MulticartService = opts.Multicart
	}
	if opts.Subject == "" {
		opts.Subject = "customer-1"
	}
	if opts.Email == "" {
		opts.Email = "customer-1@example.com"
	}
	if opts.Name == "" {
		opts.Name = "Test Customer"
	}
	if opts.StoreID == "" {
		opts.StoreID = "store-1"
	}
	if opts.AccessTokenTTL <= 0 {
		opts.AccessTokenTTL = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}

	if opts.KeyType == "" {
		opts.KeyType = KeyRSA
	}
	signer, alg, kid := newSigner(opts.KeyType)
	s := &Server{
		opts:          opts,
		signer:        signer,
		alg:           alg,
		kid:           kid,
		closed:        make(chan struct{}),
		autoApprove:   opts.AutoApprove,
		codes:         make(map[string]*grant),
		refreshTokens: make(map[string]*grant),
		spent:         make(map[string]*family),
		istores: &provider{
			name: ProviderIstores, title: "Istores", client: opts.Istores, service: opts.Istores,
			prefix: "/istores", authPath: "/istores/oauth/authorize", tokenPath: "/istores/oauth/token",
			clientParam: "client_id", redirectParam: "redirect_uri", scopeParam: "scopes",
		},
		multicart: &provider{
			name: ProviderMulticart, title: "Multicart", client: opts.Multicart, service: opts.MulticartService,
			prefix: "/multicart", authPath: "/multicart/", tokenPath: "/multicart/api/connect/token",
			clientParam: "application", redirectParam: "return", scopeParam: "scope",
		},
		oidc: &provider{
			name: ProviderOIDC, title: "OpenID Connect", client: opts.OIDC, service: opts.OIDC,
			prefix: "/oidc", authPath: "/oidc/authorize", tokenPath: "/oidc/token",
			clientParam: "client_id", redirectParam: "redirect_uri", scopeParam: "scope",
		},
	}
	s.srv = httptest.NewServer(s.routes())
	return s
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oidc/.well-known/openid-configuration", s.oidcDiscovery)
	mux.HandleFunc(oidcEndSessionPath, s.endSession(s.oidc))
	for _, p := range []*provider{s.istores, s.multicart, s.oidc} {
		auth := p.authPath
		if auth == p.prefix+"/" {
			auth += "{$}" // only the exact path, not the whole subtree
		}
		mux.HandleFunc("GET "+auth, s.authorize(p))
		mux.HandleFunc("POST "+auth, s.approval(p))
		mux.HandleFunc(p.tokenPath, s.token(p)) // every method, so every call is recorded
		mux.HandleFunc("GET "+p.prefix+"/.well-known/jwks.json", s.jwks)
		mux.HandleFunc(p.prefix+"/redirected-token", s.redirectedToken(p))
	}
	mux.HandleFunc("GET "+s.multicart.prefix+"/.well-known/openid-configuration", s.discovery(s.multicart))
	mux.HandleFunc(endSessionPath, s.endSession(s.multicart))
	return mux
}

// URL is the server's base URL, e.g. "http://127.0.0.1:38211".
func (s *Server) URL() string { return s.srv.URL }

// Close unblocks any handler waiting on [Failure.Delay], then shuts the server
// down and waits for outstanding requests. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.srv.Close()
	})
}

// Istores returns the Istores endpoints and registered client.
func (s *Server) Istores() Endpoints { return s.endpoints(s.istores) }

// Multicart returns the Multicart endpoints and registered client.
func (s *Server) Multicart() Endpoints { return s.endpoints(s.multicart) }

func (s *Server) endpoints(p *provider) Endpoints {
	return Endpoints{
		AuthURL:       s.URL() + p.authPath,
		TokenURL:      s.URL() + p.tokenPath,
		JWKSURL:       s.URL() + p.prefix + "/.well-known/jwks.json",
		Issuer:        s.issuer(p),
		BaseURL:       s.URL() + p.prefix,
		Client:        p.client,
		ServiceClient: p.service,
		EndSessionURL: s.endSessionURL(p),
	}
}

func (s *Server) issuer(p *provider) string {
	if p == s.multicart && s.opts.MulticartIssuer != "" {
		if strings.HasPrefix(s.opts.MulticartIssuer, "/") {
			return s.URL() + s.opts.MulticartIssuer
		}
		return s.opts.MulticartIssuer
	}
	return s.URL() + p.prefix
}

// endSessionURL is p's end-session endpoint, "" for Istores.
func (s *Server) endSessionURL(p *provider) string {
	switch p {
	case s.multicart:
		return s.URL() + endSessionPath
	case s.oidc:
		return s.URL() + oidcEndSessionPath
	}
	return ""
}

// discovery serves p's OpenID Connect Discovery document (Discovery 1.0
// §3), or 404 with [Options.NoDiscovery].
func (s *Server) discovery(p *provider) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.NoDiscovery {
			http.NotFound(w, r)
			return
		}
		ep := s.endpoints(p)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                ep.Issuer,
			"authorization_endpoint":                ep.AuthURL,
			"token_endpoint":                        ep.TokenURL,
			"jwks_uri":                              ep.JWKSURL,
			"end_session_endpoint":                  ep.EndSessionURL,
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{s.alg},
			"code_challenge_methods_supported":      []string{"S256"},
			"grant_types_supported":                 []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials},
		})
	}
}

func (s *Server) provider(name string) *provider {
	switch name {
	case ProviderIstores:
		return s.istores
	case ProviderMulticart:
		return s.multicart
	case ProviderOIDC:
		return s.oidc
	}
	return nil
}

// SetAutoApprove switches between redirecting straight back with a code
// (true) and showing the HTML approval page (false).
func (s *Server) SetAutoApprove(on bool) {
	s.mu.Lock()
	s.autoApprove = on
	s.mu.Unlock()
}

func (s *Server) autoApproving() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.autoApprove
}

// PublicKey is the RSA key that signs every token, or nil when
// [Options.KeyType] is not KeyRSA (see [Server.SigningKey]); both JWKS
// endpoints serve it.
func (s *Server) PublicKey() *rsa.PublicKey {
	k, _ := s.signer.Public().(*rsa.PublicKey)
	return k
}

// SigningKey is the public key that signs every token, of any
// [Options.KeyType], and its JWS algorithm.
func (s *Server) SigningKey() (key crypto.PublicKey, alg string) { return s.signer.Public(), s.alg }

// TokenRequest is one recorded call to a token endpoint.
type TokenRequest struct {
	Provider string // ProviderIstores, ProviderMulticart or ProviderOIDC
	// Grant is the form's grant_type; for Istores, whose grant_type is
	// optional, an absent one is recorded as GrantAuthorizationCode.
	Grant  string
	Form   url.Values  // the form body (empty if it could not be read)
	Header http.Header // the request headers
}

func (s *Server) recordToken(req TokenRequest) {
	s.mu.Lock()
	s.tokenRequests = append(s.tokenRequests, req)
	s.mu.Unlock()
}

// TokenCalls counts the token-endpoint calls for provider and grant, failed
// ones included; "" matches any.
func (s *Server) TokenCalls(provider, grant string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.tokenRequests {
		if (provider == "" || r.Provider == provider) && (grant == "" || r.Grant == grant) {
			n++
		}
	}
	return n
}

// Reuses counts the refresh requests that presented an already spent
// refresh token, whether or not reuse detection revoked the grant.
func (s *Server) Reuses() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reuses
}

// TokenRequests returns a copy of every token-endpoint call so far, in order.
func (s *Server) TokenRequests() []TokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TokenRequest, len(s.tokenRequests))
	for i, r := range s.tokenRequests {
		out[i] = TokenRequest{Provider: r.Provider, Grant: r.Grant, Form: cloneValues(r.Form), Header: r.Header.Clone()}
	}
	return out
}

func (s *Server) recordAuthorize(q url.Values) {
	s.mu.Lock()
	s.authorizeRequests = append(s.authorizeRequests, cloneValues(q))
	s.mu.Unlock()
}

// AuthorizeRequests returns a copy of the query of every GET to an authorize
// endpoint so far, in order. Istores queries carry "client_id", Multicart ones
// "application".
func (s *Server) AuthorizeRequests() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]url.Values, len(s.authorizeRequests))
	for i, q := range s.authorizeRequests {
		out[i] = cloneValues(q)
	}
	return out
}

// RedirectsFollowed counts requests to the target of a [Failure.Redirect]
// answer. A client that never follows token-endpoint redirects keeps it at 0.
func (s *Server) RedirectsFollowed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.redirectsFollowed
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf("ssotest: "+format, args...)
	}
}

// cloneValues deep-copies v; nil stays nil.
func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never returns an error (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
