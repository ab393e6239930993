package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shopsso/sso/internal/secureurl"
)

// WellKnownPath is where OpenID Connect Discovery 1.0 §4 puts a provider's
// metadata, under its issuer (or base) URL.
const WellKnownPath = "/.well-known/openid-configuration"

// Defaults of a [Discovery].
const (
	// DefaultDiscoveryLifetime is how long a fetched document is used before
	// it is fetched again.
	DefaultDiscoveryLifetime = 24 * time.Hour
	// DefaultNotFoundInterval is how long a 404 (no discovery served) is
	// remembered before asking again.
	DefaultNotFoundInterval = time.Hour
)

// Metadata is the part of a provider's discovery document (OpenID Connect
// Discovery 1.0 §3) this module uses.
type Metadata struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
	UserinfoEndpoint      string `json:"userinfo_endpoint,omitempty"`
	// EndSessionEndpoint is from OpenID Connect RP-Initiated Logout 1.0 §2.1.
	EndSessionEndpoint               string   `json:"end_session_endpoint,omitempty"`
	ScopesSupported                  []string `json:"scopes_supported,omitempty"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported,omitempty"`
	CodeChallengeMethodsSupported    []string `json:"code_challenge_methods_supported,omitempty"`
}

// DiscoveryConfig configures [NewDiscovery].
type DiscoveryConfig struct {
	// BaseURL is the issuer or base URL of the identity service; the
	// document is read from BaseURL + [WellKnownPath] (a trailing slash of
	// BaseURL is dropped first). Required; https unless the host is
	// loopback or InsecureAllowHTTP is set.
	BaseURL string
	// Issuer, when set, must equal the document's "issuer" exactly
	// (Discovery §4.3); a document that names another issuer is refused.
	// Zero: the document's issuer must be an https URL (http on loopback)
	// on BaseURL's origin — scheme, host and port — with any path.
	Issuer string
	// HTTPClient fetches the document and, through [Discovery.KeySet], the
	// key set. Redirects are never followed. Zero: http.DefaultClient's
	// settings.
	HTTPClient *http.Client
	// InsecureAllowHTTP allows plain-http URLs on hosts that are not
	// loopback, for the document and the key set it names.
	InsecureAllowHTTP bool
	// Lifetime of a fetched document. Zero: [DefaultDiscoveryLifetime].
	Lifetime time.Duration
	// NotFoundInterval: see [DefaultNotFoundInterval].
	NotFoundInterval time.Duration
	// RetryInterval is the wait after another failure. Zero:
	// [DefaultRetryInterval].
	RetryInterval time.Duration
	// MaxBytes caps the document (and the key set). Zero: [DefaultMaxBytes].
	MaxBytes int64
	// Timeout bounds one fetch. Zero: the client's Timeout, or
	// [DefaultTimeout].
	Timeout time.Duration
	// KeySet configures the key set made from the document's jwks_uri;
	// its URL, HTTPClient, InsecureAllowHTTP, MaxBytes, Timeout and Now are
	// taken from this config.
	KeySet KeySetConfig
	// Now is the clock. Zero: time.Now.
	Now func() time.Time
}

// Discovery is a provider's OpenID Connect Discovery document, fetched
// when first needed, cached for its lifetime and refreshed after it. It is
// optional by design: [Discovery.Metadata] reports [ErrNoDiscovery] (a 404)
// or [ErrUnavailable] (any other failure), and callers fall back to
// configured values. A refresh that fails keeps the previous document.
type Discovery struct {
	cfg   DiscoveryConfig
	url   string
	cache cache[*Metadata]

	mu   sync.Mutex
	keys *KeySet // for the current jwks_uri
}

// NewDiscovery validates cfg and returns a discovery client. It fetches
// nothing yet.
func NewDiscovery(cfg DiscoveryConfig) (*Discovery, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("sso: discovery base URL is required")
	}
	if err := secureurl.Check(cfg.BaseURL, cfg.InsecureAllowHTTP); err != nil {
		return nil, fmt.Errorf("sso: discovery base URL: %w", err)
	}
	cfg.Lifetime = orDefault(cfg.Lifetime, DefaultDiscoveryLifetime)
	cfg.NotFoundInterval = orDefault(cfg.NotFoundInterval, DefaultNotFoundInterval)
	cfg.RetryInterval = orDefault(cfg.RetryInterval, DefaultRetryInterval)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Discovery{cfg: cfg, url: strings.TrimSuffix(cfg.BaseURL, "/") + WellKnownPath}
	f := newFetcher(cfg.HTTPClient, cfg.MaxBytes, cfg.Timeout)
	d.cache = cache[*Metadata]{
		timeout: f.timeout,
		now:     cfg.Now,
		fetch: func(ctx context.Context) (*Metadata, error) {
			body, err := f.get(ctx, "discovery document", d.url)
			if err != nil {
				if errors.Is(err, errNotFound) {
					return nil, fmt.Errorf("%w: %w", ErrNoDiscovery, err)
				}
				return nil, err
			}
			return d.parse(body)
		},
	}
	return d, nil
}

// URL returns the document's URL.
func (d *Discovery) URL() string { return d.url }

// Metadata returns the provider's metadata, fetching it when the cache
// holds none or has outlived its lifetime. After a 404 it answers
// [ErrNoDiscovery] for NotFoundInterval without asking again; after
// another failure, [ErrUnavailable] for RetryInterval. The result is a
// copy of its own: changing it changes nothing a [Verifier] goes by.
func (d *Discovery) Metadata(ctx context.Context) (*Metadata, error) {
	md, err := d.metadata(ctx)
	if err != nil {
		return nil, err
	}
	cp := *md
	cp.ScopesSupported = slices.Clone(md.ScopesSupported)
	cp.IDTokenSigningAlgValuesSupported = slices.Clone(md.IDTokenSigningAlgValuesSupported)
	cp.CodeChallengeMethodsSupported = slices.Clone(md.CodeChallengeMethodsSupported)
	return &cp, nil
}

// metadata is [Discovery.Metadata] without the copy: the cached document,
// which nobody may change.
func (d *Discovery) metadata(ctx context.Context) (*Metadata, error) {
	st := d.cache.snapshot()
	now := d.cfg.Now()
	if st.have && now.Sub(st.fetched) < d.cfg.Lifetime {
		return st.val, nil
	}
	if st.err != nil {
		wait := d.cfg.RetryInterval
		if errors.Is(st.err, ErrNoDiscovery) {
			wait = d.cfg.NotFoundInterval
		}
		if now.Sub(st.attempted) < wait {
			if st.have {
				return st.val, nil
			}
			return nil, st.err
		}
	}
	if err := d.cache.refresh(ctx); err != nil {
		if st.have && !errors.Is(err, context.Canceled) {
			return st.val, nil
		}
		return nil, err
	}
	return d.cache.snapshot().val, nil
}

// KeySet returns the key set named by the document's jwks_uri. It fails
// like [Discovery.Metadata], or when the document names no key set.
func (d *Discovery) KeySet(ctx context.Context) (*KeySet, error) {
	md, err := d.metadata(ctx)
	if err != nil {
		return nil, err
	}
	if md.JWKSURI == "" {
		return nil, fmt.Errorf("%w: the discovery document names no jwks_uri", ErrUnavailable)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.keys != nil && d.keys.URL() == md.JWKSURI {
		return d.keys, nil
	}
	kc := d.cfg.KeySet
	kc.URL, kc.HTTPClient, kc.InsecureAllowHTTP = md.JWKSURI, d.cfg.HTTPClient, d.cfg.InsecureAllowHTTP
	kc.MaxBytes, kc.Timeout, kc.Now = d.cfg.MaxBytes, d.cfg.Timeout, d.cfg.Now
	ks, err := NewKeySet(kc)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery's jwks_uri: %w", ErrUnavailable, err)
	}
	d.keys = ks
	return ks, nil
}

// parse reads and checks a discovery document: its issuer (see
// [DiscoveryConfig.Issuer]) and the transport rule for jwks_uri.
func (d *Discovery) parse(body []byte) (*Metadata, error) {
	var md Metadata
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, fmt.Errorf("%w: discovery document is not JSON: %w", ErrUnavailable, err)
	}
	if d.cfg.Issuer != "" {
		if md.Issuer != d.cfg.Issuer {
			return nil, fmt.Errorf("%w: discovery document: %w", ErrUnavailable,
				&CheckError{Token: "discovery document", Check: CheckIss, Expected: d.cfg.Issuer, Got: md.Issuer})
		}
	} else if !sameOrigin(md.Issuer, d.cfg.BaseURL) {
		return nil, fmt.Errorf("%w: discovery document: %w", ErrUnavailable,
			&CheckError{Token: "discovery document", Check: CheckIss, Expected: "a URL on " + origin(d.cfg.BaseURL), Got: md.Issuer})
	}
	if md.JWKSURI != "" {
		if err := secureurl.Check(md.JWKSURI, d.cfg.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("%w: discovery document's jwks_uri: %w", ErrUnavailable, err)
		}
	}
	return &md, nil
}
