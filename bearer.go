package sso

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/shopsso/sso/verify"
)

// DefaultBearerCacheTTL is how long [Bearer] trusts a token it has verified
// before verifying it again, when [BearerConfig.CacheTTL] is zero.
const DefaultBearerCacheTTL = time.Minute

// maxCachedBearer bounds the verified-token cache. Only tokens that passed
// every check enter it, so a client cannot flush it with forged ones.
const maxCachedBearer = 10000

// BearerConfig configures [NewBearer].
type BearerConfig struct {
	// Provider names the identity service whose access tokens are
	// accepted, as [ProviderFromContext] and [Token.Provider] report it
	// and logs name it. Required.
	Provider string

	// Verifier checks each token: its signature against the provider's
	// keys (a JWKS URL or discovery), "iss" by the issuer rule of package
	// verify, "aud", "exp" and "nbf" with its leeway, the algorithm and
	// the "typ" header (RFC 9068 §4). Build it with [verify.New] and use
	// [verify.Verifier.AccessToken]'s rules. Required.
	Verifier *verify.Verifier

	// Realm is the realm of the WWW-Authenticate challenges. Zero:
	// [DefaultRealm].
	Realm string

	// CacheTTL is how long a verified token is trusted again without
	// verifying its signature, never past its "exp": the next requests
	// with the same token (an API client sends one token many times) cost
	// a map lookup. A key withdrawn from the provider's set stops
	// accepting its tokens at most this long after the verifier's key set
	// has been fetched again without it ([verify.KeySetConfig.Lifetime],
	// an hour by default; a key set that cannot be fetched keeps serving
	// the keys it had). Zero: [DefaultBearerCacheTTL]; negative: every
	// request is verified.
	CacheTTL time.Duration

	// Logger receives one record per refused request, naming the check
	// that failed; never the token. Zero: [slog.Default].
	Logger *slog.Logger

	// OnError is called with every refusal's error.
	OnError func(ctx context.Context, err error)

	// Now is the clock of the cache. Zero: [time.Now]. The verifier has
	// its own.
	Now func() time.Time
}

// Bearer is the API side of this package: middleware for single-page and
// mobile clients that send "Authorization: Bearer <JWT>" (RFC 6750 §2.1)
// with an access token they obtained from the provider themselves. It
// needs no session. Create it with [NewBearer]; it is safe for concurrent
// use.
type Bearer struct {
	provider  string
	verifier  *verify.Verifier
	realm     string // quoted, for challenges
	challenge string // Bearer realm="..."
	ttl       time.Duration
	log       *slog.Logger
	onError   func(context.Context, error)
	now       func() time.Time

	mu    sync.RWMutex
	cache map[string]*bearerEntry
}

// bearerEntry is a verified token: the login the context carries (with
// the token's claims) and until when it may be trusted without a new check.
type bearerEntry struct {
	l     login
	until time.Time
}

// NewBearer validates cfg and returns a Bearer.
func NewBearer(cfg BearerConfig) (*Bearer, error) {
	switch {
	case cfg.Provider == "":
		return nil, errors.New("sso: BearerConfig.Provider is required")
	case cfg.Verifier == nil:
		return nil, errors.New("sso: BearerConfig.Verifier is required")
	}
	realm := cfg.Realm
	if realm == "" {
		realm = DefaultRealm
	}
	if !validQuoted(realm) {
		return nil, errors.New("sso: BearerConfig.Realm must be printable ASCII without quotes or backslashes")
	}
	b := &Bearer{
		provider:  cfg.Provider,
		verifier:  cfg.Verifier,
		realm:     realm,
		challenge: `Bearer realm="` + realm + `"`,
		ttl:       cfg.CacheTTL,
		log:       cfg.Logger,
		onError:   cfg.OnError,
		now:       cfg.Now,
	}
	if b.ttl == 0 {
		b.ttl = DefaultBearerCacheTTL
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.now == nil {
		b.now = time.Now
	}
	return b, nil
}

// Require lets a request with a valid bearer access token through to next,
// with the token and its claims in the context exactly as [Auth.Require]
// puts a session's ([TokenFromContext], [ClaimsFromContext],
// [ProviderFromContext]); [CheckScopes] may follow it. It never redirects
// and never touches a session. Refusals (RFC 6750 §3):
//
//   - no bearer token: 401 with WWW-Authenticate: Bearer realm="..." and
//     no error code (§3.1);
//   - a malformed Authorization header, or several: 400, error="invalid_request";
//   - a token that fails a check: 401, error="invalid_token" and an
//     error_description naming the check, never the token or its values;
//   - the provider's keys or discovery document cannot be fetched: 503
//     with Retry-After, the token not judged.
//
// Each refusal is logged once, with the check and the values involved.
func (b *Bearer) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := b.authenticate(r)
		if err != nil {
			b.refuse(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(withBearer(r.Context(), b, &e.l)))
	})
}

// RequireScopes returns middleware that acts as [Bearer.Require] and then
// as [CheckScopes]: a token without every one of scopes gets 403 with
// error="insufficient_scope".
func (b *Bearer) RequireScopes(scopes ...string) func(http.Handler) http.Handler {
	check := CheckScopes(scopes...)
	return func(next http.Handler) http.Handler { return b.Require(check(next)) }
}

// Bearer errors, wrapped with the detail by [Bearer.Require]'s refusals.
var (
	// ErrBearerMissing: the request carries no bearer token.
	ErrBearerMissing = errors.New("sso: no bearer token")
	// ErrBearerMalformed: the Authorization header is not one well-formed
	// "Bearer <token>" (RFC 6750 §2.1).
	ErrBearerMalformed = errors.New("sso: malformed bearer authorization")
)

// authenticate returns the verified token of r.
func (b *Bearer) authenticate(r *http.Request) (*bearerEntry, error) {
	raw, err := bearerToken(r.Header)
	if err != nil {
		return nil, err
	}
	now := b.now()
	if b.ttl > 0 {
		b.mu.RLock()
		e := b.cache[raw]
		b.mu.RUnlock()
		if e != nil && now.Before(e.until) {
			return e, nil
		}
	}
	t, err := b.verifier.AccessToken(r.Context(), raw)
	if err != nil {
		return nil, err
	}
	set := claimSetOf(t.Claims)
	e := &bearerEntry{
		l: login{
			Provider:    b.provider,
			AccessToken: raw,
			TokenType:   "Bearer",
			Expiry:      t.Expiry,
			Scopes:      set.scopes,
			access:      set,
		},
		until: now.Add(b.ttl),
	}
	if t.Expiry.Before(e.until) {
		e.until = t.Expiry
	}
	if b.ttl > 0 {
		b.mu.Lock()
		if b.cache == nil || len(b.cache) >= maxCachedBearer {
			b.cache = make(map[string]*bearerEntry)
		}
		b.cache[strings.Clone(raw)] = e
		b.mu.Unlock()
	}
	return e, nil
}

// bearerToken returns the token of the request's one Authorization header
// with the Bearer scheme (RFC 6750 §2.1: b64token syntax). Another scheme,
// or no header, is [ErrBearerMissing].
func bearerToken(h http.Header) (string, error) {
	vs := h["Authorization"]
	switch {
	case len(vs) == 0:
		return "", ErrBearerMissing
	case len(vs) > 1:
		return "", fmt.Errorf("%w: several Authorization headers", ErrBearerMalformed)
	}
	scheme, tok, _ := strings.Cut(vs[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", ErrBearerMissing
	}
	if !isB64Token(tok) {
		return "", fmt.Errorf("%w: the token is not b64token syntax", ErrBearerMalformed)
	}
	return tok, nil
}

// isB64Token checks RFC 6750 §2.1's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	n := len(s)
	for n > 0 && s[n-1] == '=' {
		n--
	}
	if n == 0 {
		return false
	}
	for i := 0; i < n; i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// refuse logs err once and answers it as RFC 6750 §3 asks.
func (b *Bearer) refuse(w http.ResponseWriter, r *http.Request, err error) {
	level := slog.LevelWarn
	switch {
	case errors.Is(err, ErrBearerMissing):
		level = slog.LevelInfo
	case errors.Is(err, verify.ErrUnavailable):
		level = slog.LevelError
	}
	b.log.LogAttrs(r.Context(), level, "sso: bearer token refused",
		slog.String("reason", err.Error()), slog.String("provider", b.provider))
	if b.onError != nil {
		b.onError(r.Context(), err)
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	var ce *verify.CheckError
	switch {
	case errors.Is(err, ErrBearerMissing):
		h.Set("WWW-Authenticate", b.challenge)
		writeJSONError(w, http.StatusUnauthorized, "login_required")
	case errors.Is(err, ErrBearerMalformed):
		h.Set("WWW-Authenticate", b.challenge+`, error="invalid_request", error_description="malformed Authorization header"`)
		writeJSONError(w, http.StatusBadRequest, "invalid_request")
	case errors.As(err, &ce):
		desc := "the access token is invalid"
		if isCheckName(ce.Check) {
			desc = "the access token failed the " + ce.Check + " check"
		}
		h.Set("WWW-Authenticate", b.challenge+`, error="invalid_token", error_description="`+desc+`"`)
		writeJSONError(w, http.StatusUnauthorized, "invalid_token")
	case errors.Is(err, verify.ErrUnavailable):
		h.Set("Retry-After", "5")
		writeJSONError(w, http.StatusServiceUnavailable, "provider_unavailable")
	default:
		h.Set("WWW-Authenticate", b.challenge+`, error="invalid_token"`)
		writeJSONError(w, http.StatusUnauthorized, "invalid_token")
	}
}

// insufficientScope answers a bearer request whose token lacks scopes
// (RFC 6750 §3.1).
func (b *Bearer) insufficientScope(w http.ResponseWriter, r *http.Request, scopes []string) {
	b.log.LogAttrs(r.Context(), slog.LevelWarn, "sso: bearer token refused",
		slog.String("reason", ErrInsufficientScope.Error()+": needs "+strings.Join(scopes, " ")),
		slog.String("provider", b.provider))
	if b.onError != nil {
		b.onError(r.Context(), ErrInsufficientScope)
	}
	challenge := b.challenge + `, error="insufficient_scope"`
	if s := strings.Join(scopes, " "); validQuoted(s) {
		challenge += `, scope="` + s + `"`
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("WWW-Authenticate", challenge)
	writeJSONError(w, http.StatusForbidden, "insufficient_scope")
}

// isCheckName reports whether s is safe to put into an error_description:
// a short lower-case word, as verify's check names are.
func isCheckName(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// validQuoted reports whether s may stand inside a quoted-string of a
// challenge as RFC 6750 §3 restricts them: %x20-21 / %x23-5B / %x5D-7E.
func validQuoted(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
