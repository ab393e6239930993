package sso

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwksMinRefetch limits how often an unknown key ID makes [JWKS] fetch the
// set again, so forged tokens cannot make us hammer the provider; after a
// failed fetch, jwksRetry is the wait before the next try.
const (
	jwksMinRefetch = time.Minute
	jwksRetry      = 5 * time.Second
)

// JWKS is a provider's JSON Web Key Set (RFC 7517) fetched from a URL and
// cached; an unknown key ID fetches it again (at most once a minute), so
// key rotation works. Only RSA keys are used.
type JWKS struct {
	url    string
	client *http.Client

	mu      sync.Mutex
	keys    map[string]*rsa.PublicKey
	fetched time.Time // last successful fetch
	failed  time.Time // last failed fetch
}

// NewJWKS returns a key set read from url with client (made safe by
// [TokenHTTPClient]).
func NewJWKS(url string, client *http.Client) *JWKS {
	return &JWKS{url: url, client: TokenHTTPClient(client)}
}

func (j *JWKS) keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		return j.key(ctx, kid)
	}
}

func (j *JWKS) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if k := j.lookup(kid); k != nil {
		return k, nil
	}
	if !j.fetched.IsZero() && time.Since(j.fetched) < jwksMinRefetch {
		return nil, errors.New("sso: unknown signing key")
	}
	if !j.failed.IsZero() && time.Since(j.failed) < jwksRetry {
		return nil, fail(ErrProviderUnavailable, "JWKS fetch failed recently", nil)
	}
	if err := j.fetch(ctx); err != nil {
		j.failed = time.Now()
		return nil, fail(ErrProviderUnavailable, "fetching JWKS", err)
	}
	j.fetched, j.failed = time.Now(), time.Time{}
	if k := j.lookup(kid); k != nil {
		return k, nil
	}
	return nil, errors.New("sso: unknown signing key")
}

// lookup finds kid, or the only key when the token names none.
func (j *JWKS) lookup(kid string) *rsa.PublicKey {
	if kid == "" && len(j.keys) == 1 {
		for _, k := range j.keys {
			return k
		}
	}
	return j.keys[kid]
}

func (j *JWKS) fetch(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return err
	}
	resp, err := j.client.Do(req)
	if err != nil {
		return fmt.Errorf("sso: fetching JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("sso: fetching JWKS: status %d", resp.StatusCode)
	}
	var set struct {
		Keys []struct {
			Kty, Kid, N, E string
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return fmt.Errorf("sso: JWKS is not valid JSON: %w", err)
	}
	keys := make(map[string]*rsa.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.Kty != "RSA" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			continue
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	j.keys = keys
	return nil
}
