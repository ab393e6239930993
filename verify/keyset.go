package verify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"

	"github.com/shopsso/sso/internal/secureurl"
)

// Defaults of a [KeySet].
const (
	// DefaultKeyLifetime is how long a fetched key set is used before it
	// is fetched again.
	DefaultKeyLifetime = time.Hour
	// DefaultUnknownKidInterval is the shortest time between two fetches
	// caused by a token whose kid is not in the set, so forged tokens
	// cannot make this package hammer the provider.
	DefaultUnknownKidInterval = time.Minute
	// DefaultRetryInterval is the wait after a failed fetch before the next
	// one; tokens needing a fetch meanwhile get [ErrUnavailable] at once.
	DefaultRetryInterval = 5 * time.Second
)

// KeySource finds the public keys that may verify a JWS with the given key
// ID and algorithm. *[KeySet] implements it; tests may supply their own.
type KeySource interface {
	// Keys returns the candidate keys, or a [*CheckError] for the kid or
	// alg check, or an error wrapping [ErrUnavailable]. An empty kid asks
	// for every key fit for alg.
	Keys(ctx context.Context, kid, alg string) ([]crypto.PublicKey, error)
}

// KeySetConfig configures [NewKeySet].
type KeySetConfig struct {
	// URL of the JSON Web Key Set (RFC 7517 §5). Required; https unless
	// the host is loopback or InsecureAllowHTTP is set.
	URL string
	// HTTPClient fetches the set. Its CheckRedirect is replaced: redirects
	// are never followed. Zero: http.DefaultClient's settings.
	HTTPClient *http.Client
	// InsecureAllowHTTP allows a plain-http URL on a host that is not
	// loopback. Without TLS anyone on the path can swap the keys.
	InsecureAllowHTTP bool
	// Lifetime of a fetched set. Zero: [DefaultKeyLifetime].
	Lifetime time.Duration
	// UnknownKidInterval: see [DefaultUnknownKidInterval].
	UnknownKidInterval time.Duration
	// RetryInterval: see [DefaultRetryInterval].
	RetryInterval time.Duration
	// MaxBytes caps the response. Zero: [DefaultMaxBytes].
	MaxBytes int64
	// Timeout bounds one fetch. Zero: the client's Timeout, or
	// [DefaultTimeout].
	Timeout time.Duration
	// Now is the clock. Zero: time.Now.
	Now func() time.Time
}

// KeySet is a provider's JSON Web Key Set, fetched from a URL and cached.
// Keys are parsed by github.com/MicahParks/jwkset: RSA, EC (P-256, P-384,
// P-521) and Ed25519 public keys; symmetric, private and unsupported keys
// are ignored. A key whose "use" is set must be "sig", whose "key_ops" is
// set must include "verify", and whose "alg" is set must equal the token's.
//
// The set is fetched when first needed, again after its lifetime, and
// again when a token names a kid the set lacks (at most once per
// UnknownKidInterval). Each fetch replaces the whole set, so a key
// withdrawn by the provider stops verifying tokens. Fetches run detached
// from the request that caused them; one fetch serves every waiting
// request. If a refresh fails, the previous set keeps serving.
type KeySet struct {
	url             string
	lifetime        time.Duration
	unknownInterval time.Duration
	retryInterval   time.Duration
	now             func() time.Time
	cache           cache[[]jwkset.JWK]
}

// NewKeySet validates cfg and returns a key set. It fetches nothing yet.
func NewKeySet(cfg KeySetConfig) (*KeySet, error) {
	if cfg.URL == "" {
		return nil, errors.New("sso: key set URL is required")
	}
	if err := secureurl.Check(cfg.URL, cfg.InsecureAllowHTTP); err != nil {
		return nil, fmt.Errorf("sso: key set URL: %w", err)
	}
	k := &KeySet{
		url:             cfg.URL,
		lifetime:        orDefault(cfg.Lifetime, DefaultKeyLifetime),
		unknownInterval: orDefault(cfg.UnknownKidInterval, DefaultUnknownKidInterval),
		retryInterval:   orDefault(cfg.RetryInterval, DefaultRetryInterval),
		now:             cfg.Now,
	}
	if k.now == nil {
		k.now = time.Now
	}
	f := newFetcher(cfg.HTTPClient, cfg.MaxBytes, cfg.Timeout)
	k.cache = cache[[]jwkset.JWK]{
		timeout: f.timeout,
		now:     k.now,
		fetch: func(ctx context.Context) ([]jwkset.JWK, error) {
			body, err := f.get(ctx, "key set", k.url)
			if err != nil {
				return nil, err
			}
			return parseKeySet(body)
		},
	}
	return k, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// URL returns the key set's URL.
func (k *KeySet) URL() string { return k.url }

// Keys implements [KeySource].
func (k *KeySet) Keys(ctx context.Context, kid, alg string) ([]crypto.PublicKey, error) {
	st := k.cache.snapshot()
	now := k.now()
	fresh := st.have && now.Sub(st.fetched) < k.lifetime
	if fresh {
		keys, err := pick(st.val, kid, alg)
		if err == nil || !isUnknownKid(err) || now.Sub(st.attempted) < k.unknownInterval {
			return keys, err
		}
	} else if st.err != nil && now.Sub(st.attempted) < k.retryInterval {
		if st.have { // stale but usable while the provider is failing
			return pick(st.val, kid, alg)
		}
		return nil, st.err
	}
	if err := k.cache.refresh(ctx); err != nil {
		if st.have && !errors.Is(err, context.Canceled) {
			if keys, perr := pick(st.val, kid, alg); perr == nil {
				return keys, nil
			}
		}
		return nil, err
	}
	return pick(k.cache.snapshot().val, kid, alg)
}

func isUnknownKid(err error) bool {
	var ce *CheckError
	return errors.As(err, &ce) && ce.Check == CheckKid
}

// parseKeySet reads a JWK Set document, keeping the keys jwkset can parse
// as public keys and skipping the others (RFC 7517 §5: unsupported members
// are ignored).
func parseKeySet(body []byte) ([]jwkset.JWK, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("%w: key set is not JSON: %w", ErrUnavailable, err)
	}
	if doc.Keys == nil {
		return nil, fmt.Errorf("%w: key set has no \"keys\" member", ErrUnavailable)
	}
	out := make([]jwkset.JWK, 0, len(doc.Keys))
	for _, raw := range doc.Keys {
		jwk, err := jwkset.NewJWKFromRawJSON(raw, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			continue
		}
		switch jwk.Key().(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			out = append(out, jwk)
		}
	}
	return out, nil
}

// pick returns the keys of set that may verify a JWS with kid and alg.
func pick(set []jwkset.JWK, kid, alg string) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	var refused *CheckError
	for _, j := range set {
		m := j.Marshal()
		if kid != "" && m.KID != kid {
			continue
		}
		if m.USE != "" && m.USE != jwkset.UseSig {
			continue
		}
		if len(m.KEYOPS) > 0 && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify) {
			continue
		}
		if m.ALG != "" && string(m.ALG) != alg {
			refused = &CheckError{Check: CheckAlg, Expected: string(m.ALG), Got: alg}
			continue
		}
		if want := keyTypeFor(alg); want != "" && want != keyType(j.Key()) {
			refused = &CheckError{Check: CheckAlg, Expected: "an algorithm for a " + keyType(j.Key()) + " key", Got: alg}
			continue
		}
		keys = append(keys, j.Key())
	}
	switch {
	case len(keys) > 0:
		return keys, nil
	case refused != nil:
		return nil, refused
	}
	kids := make([]string, 0, len(set))
	for _, j := range set {
		if id := j.Marshal().KID; id != "" && len(kids) < 5 {
			kids = append(kids, id)
		}
	}
	return nil, &CheckError{Check: CheckKid, Expected: "one of [" + strings.Join(kids, " ") + "]", Got: kid}
}

// keyTypeFor names the key type alg needs (RFC 7518 §3.1, RFC 8037 §3.1).
func keyTypeFor(alg string) string {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return "RSA"
	case "ES256":
		return "EC P-256"
	case "ES384":
		return "EC P-384"
	case "ES512":
		return "EC P-521"
	case "EdDSA":
		return "Ed25519"
	}
	return ""
}

func keyType(k any) string {
	switch k := k.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "EC P-256"
		case elliptic.P384():
			return "EC P-384"
		case elliptic.P521():
			return "EC P-521"
		}
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return "unsupported"
}
