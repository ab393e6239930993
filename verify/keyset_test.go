package verify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopsso/sso/verify"
)

// verifierFor returns an ID-token verifier over set.
func verifierFor(t *testing.T, set verify.KeySource, c *clock) *verify.Verifier {
	t.Helper()
	v, err := verify.New(verify.Config{Issuer: testIssuer, Audience: testClient, Keys: set, Now: c.Now})
	require.NoError(t, err)
	return v
}

// TestKeyTypes: RSA (PKCS #1 v1.5 and PSS), EC P-256 and P-384 and Ed25519
// keys verify tokens of their algorithm; "use" and "alg" are honoured.
func TestKeyTypes(t *testing.T) {
	testKeys(t)
	c := newClock()
	tests := []struct {
		name    string
		publish signer // the key as published
		signAs  signer // the key and alg signing the token
		check   string // "" = accepted
	}{
		{name: "RSA RS256", publish: signer{kid: "r", alg: "RS256", priv: rsaKey, use: "sig", jwkAlg: "RS256"}},
		{name: "RSA PS256 without alg in the JWK", publish: signer{kid: "r", alg: "PS256", priv: rsaKey}},
		{name: "EC P-256 ES256", publish: signer{kid: "e", alg: "ES256", priv: p256Key, use: "sig", jwkAlg: "ES256"}},
		{name: "EC P-384 ES384", publish: signer{kid: "e", alg: "ES384", priv: p384Key, jwkAlg: "ES384"}},
		{name: "Ed25519 EdDSA", publish: signer{kid: "d", alg: "EdDSA", priv: edKey, use: "sig", jwkAlg: "EdDSA"}},
		{name: "use enc is not for signatures", publish: signer{kid: "r", alg: "RS256", priv: rsaKey, use: "enc"}, check: verify.CheckKid},
		{name: "JWK alg RS256, token RS384", publish: signer{kid: "r", alg: "RS384", priv: rsaKey, jwkAlg: "RS256"}, check: verify.CheckAlg},
		{name: "P-256 key, ES384 token", publish: signer{kid: "e", alg: "ES256", priv: p256Key}, signAs: signer{kid: "e", alg: "ES384", priv: p384Key}, check: verify.CheckAlg},
		{name: "EC key, RS256 token", publish: signer{kid: "e", alg: "ES256", priv: p256Key}, signAs: signer{kid: "e", alg: "RS256", priv: rsaKey}, check: verify.CheckAlg},
		{name: "no kid, one fitting key", publish: signer{kid: "r", alg: "RS256", priv: rsaKey}, signAs: signer{alg: "RS256", priv: rsaKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := newKeyServer(t, tt.publish.jwk(t), signer{kid: "other", alg: "ES256", priv: p384Key}.jwk(t))
			v := verifierFor(t, keySet(t, ks, c), c)
			s := tt.signAs
			if s.priv == nil {
				s = tt.publish
			}
			_, err := v.IDToken(context.Background(), s.sign(t, idClaims(c, nil), nil), "n-1")
			if tt.check == "" {
				assert.NoError(t, err)
				return
			}
			assert.Equal(t, tt.check, checkOf(t, err).Check)
		})
	}
}

// TestKeySetSkipsUnusableKeys: symmetric and malformed keys are ignored,
// the others still work.
func TestKeySetSkipsUnusableKeys(t *testing.T) {
	c := newClock()
	s := rsaSigner(t, "k1")
	ks := newKeyServer(t,
		json.RawMessage(`{"kty":"oct","kid":"k1","k":"c2VjcmV0"}`),
		json.RawMessage(`{"kty":"RSA","kid":"bad","n":"!!","e":"AQAB"}`),
		json.RawMessage(`{"kty":"OKP","crv":"X448","kid":"x","x":"AAAA"}`),
		s.jwk(t))
	_, err := verifierFor(t, keySet(t, ks, c), c).IDToken(context.Background(), s.sign(t, idClaims(c, nil), nil), "n-1")
	assert.NoError(t, err)
}

// TestKeyRotation: a new kid is fetched at once; a key withdrawn from the
// set stops verifying after the refetch.
func TestKeyRotation(t *testing.T) {
	testKeys(t)
	c := newClock()
	a := rsaSigner(t, "a")
	b := signer{kid: "b", alg: "ES256", priv: p256Key}
	ks := newKeyServer(t, a.jwk(t))
	v := verifierFor(t, keySet(t, ks, c), c)
	ctx := context.Background()

	_, err := v.IDToken(ctx, a.sign(t, idClaims(c, nil), nil), "n-1")
	require.NoError(t, err)
	require.Equal(t, 1, ks.fetches())

	ks.set(t, b.jwk(t)) // the provider rotates: a withdrawn, b published
	c.Advance(verify.DefaultUnknownKidInterval)
	_, err = v.IDToken(ctx, b.sign(t, idClaims(c, nil), nil), "n-1")
	require.NoError(t, err, "an unknown kid fetches the set again")
	assert.Equal(t, 2, ks.fetches())

	_, err = v.IDToken(ctx, a.sign(t, idClaims(c, nil), nil), "n-1")
	ce := checkOf(t, err)
	assert.Equal(t, verify.CheckKid, ce.Check, "the withdrawn key is gone")
	assert.Equal(t, "a", ce.Got)
	assert.Equal(t, "one of [b]", ce.Expected)
}

// TestKeySetLifetime: after its lifetime the set is fetched again even for
// a known kid, and a withdrawn key is dropped.
func TestKeySetLifetime(t *testing.T) {
	c := newClock()
	a := rsaSigner(t, "a")
	ks := newKeyServer(t, a.jwk(t))
	set, err := verify.NewKeySet(verify.KeySetConfig{URL: ks.URL, Now: c.Now, Lifetime: 10 * time.Minute})
	require.NoError(t, err)
	v := verifierFor(t, set, c)
	_, err = v.IDToken(context.Background(), a.sign(t, idClaims(c, nil), nil), "n-1")
	require.NoError(t, err)
	ks.set(t)
	c.Advance(9 * time.Minute)
	_, err = v.IDToken(context.Background(), a.sign(t, idClaims(c, nil), nil), "n-1")
	require.NoError(t, err, "still fresh")
	assert.Equal(t, 1, ks.fetches())
	c.Advance(2 * time.Minute)
	_, err = v.IDToken(context.Background(), a.sign(t, idClaims(c, nil), nil), "n-1")
	assert.Equal(t, verify.CheckKid, checkOf(t, err).Check)
	assert.Equal(t, 2, ks.fetches())
}

// TestUnknownKidRateLimit: tokens with unknown kids cause at most one fetch
// per interval, however many arrive.
func TestUnknownKidRateLimit(t *testing.T) {
	c := newClock()
	a := rsaSigner(t, "a")
	ks := newKeyServer(t, a.jwk(t))
	v := verifierFor(t, keySet(t, ks, c), c)
	ctx := context.Background()
	_, err := v.IDToken(ctx, a.sign(t, idClaims(c, nil), nil), "n-1")
	require.NoError(t, err)
	for i := range 50 {
		forged := a
		forged.kid = "forged-" + strings.Repeat("x", i)
		_, err := v.IDToken(ctx, forged.sign(t, idClaims(c, nil), nil), "n-1")
		require.Equal(t, verify.CheckKid, checkOf(t, err).Check)
	}
	assert.Equal(t, 1, ks.fetches(), "the first fetch was less than an interval ago")
	c.Advance(verify.DefaultUnknownKidInterval)
	for range 10 {
		forged := a
		forged.kid = "forged"
		_, err := v.IDToken(ctx, forged.sign(t, idClaims(c, nil), nil), "n-1")
		require.Equal(t, verify.CheckKid, checkOf(t, err).Check)
	}
	assert.Equal(t, 2, ks.fetches(), "one more fetch per interval")
}

// TestFetchSurvivesCancelledRequest: the request that triggered the fetch
// hangs up; the fetch still completes and the next request uses its result
// without fetching again.
func TestFetchSurvivesCancelledRequest(t *testing.T) {
	c := newClock()
	a := rsaSigner(t, "a")
	ks := newKeyServer(t, a.jwk(t))
	gate := make(chan struct{})
	ks.mu.Lock()
	ks.gate = gate
	ks.mu.Unlock()
	v := verifierFor(t, keySet(t, ks, c), c)
	raw := a.sign(t, idClaims(c, nil), nil)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := v.IDToken(ctx, raw, "n-1")
		errc <- err
	}()
	waitFor(t, func() bool { return ks.fetches() == 1 })
	cancel()
	err := <-errc
	require.ErrorIs(t, err, verify.ErrUnavailable)
	require.ErrorIs(t, err, context.Canceled)
	close(gate) // the provider answers after the client has gone

	waitFor(t, func() bool {
		_, err := v.IDToken(context.Background(), raw, "n-1")
		return err == nil
	})
	assert.Equal(t, 1, ks.fetches(), "the detached fetch was cached, not repeated")
}

// TestFetchFailureRetry: a failed fetch is not retried for RetryInterval
// (requests get ErrUnavailable at once), then it is.
func TestFetchFailureRetry(t *testing.T) {
	c := newClock()
	a := rsaSigner(t, "a")
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"keys":[` + string(a.jwk(t)) + `]}`))
	}))
	defer srv.Close()
	set, err := verify.NewKeySet(verify.KeySetConfig{URL: srv.URL, Now: c.Now})
	require.NoError(t, err)
	v := verifierFor(t, set, c)
	raw := a.sign(t, idClaims(c, nil), nil)
	for range 3 {
		_, err = v.IDToken(context.Background(), raw, "n-1")
		assert.ErrorIs(t, err, verify.ErrUnavailable)
		assert.Contains(t, err.Error(), "status 503")
	}
	assert.EqualValues(t, 1, calls.Load())
	c.Advance(verify.DefaultRetryInterval)
	_, err = v.IDToken(context.Background(), raw, "n-1")
	assert.NoError(t, err)
	assert.EqualValues(t, 2, calls.Load())
}

// TestKeySetTransport: oversized sets, redirects, malformed JSON and plain
// http off loopback are refused.
func TestKeySetTransport(t *testing.T) {
	c := newClock()
	a := rsaSigner(t, "a")
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
		_, _ = w.Write([]byte(`{"keys":[` + string(a.jwk(t)) + `]}`))
	}))
	defer target.Close()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    error
		text    string
	}{
		{"oversized", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"keys":[` + string(a.jwk(t)) + `],"pad":"` + strings.Repeat("x", verify.DefaultMaxBytes) + `"}`))
		}, verify.ErrTooLarge, "too large"},
		{"oversized without length", func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush() // chunked: no Content-Length
			_, _ = w.Write([]byte(`{"keys":[` + string(a.jwk(t)) + `],"pad":"` + strings.Repeat("x", verify.DefaultMaxBytes) + `"}`))
		}, verify.ErrTooLarge, "too large"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL, http.StatusFound)
		}, verify.ErrRedirect, "redirect"},
		{"not JSON", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("<html>"))
		}, verify.ErrUnavailable, "not JSON"},
		{"no keys member", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("{}"))
		}, verify.ErrUnavailable, "no \"keys\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			v := verifierFor(t, keySet(t, &keyServer{Server: srv}, c), c)
			_, err := v.IDToken(context.Background(), a.sign(t, idClaims(c, nil), nil), "n-1")
			assert.ErrorIs(t, err, verify.ErrUnavailable)
			assert.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.text)
		})
	}
	assert.Zero(t, followed.Load(), "a redirect is never followed")

	for _, u := range []string{"http://keys.example.com/jwks", "ftp://keys.example.com/jwks", "/jwks", ""} {
		_, err := verify.NewKeySet(verify.KeySetConfig{URL: u})
		assert.Error(t, err, u)
	}
	for _, u := range []string{"https://keys.example.com/jwks", "http://127.0.0.1:1/jwks", "http://[::1]:1/jwks", "http://localhost/jwks"} {
		_, err := verify.NewKeySet(verify.KeySetConfig{URL: u})
		assert.NoError(t, err, u)
	}
	_, err := verify.NewKeySet(verify.KeySetConfig{URL: "http://keys.example.com/jwks", InsecureAllowHTTP: true})
	assert.NoError(t, err, "explicit opt-in")
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met before the deadline")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestConcurrentWaitersOneFetch: many requests needing the key set at once
// cause one fetch; a waiter whose own context ends leaves without
// disturbing the others.
func TestConcurrentWaitersOneFetch(t *testing.T) {
	c := newClock()
	a := rsaSigner(t, "a")
	ks := newKeyServer(t, a.jwk(t))
	gate := make(chan struct{})
	ks.mu.Lock()
	ks.gate = gate
	ks.mu.Unlock()
	v := verifierFor(t, keySet(t, ks, c), c)
	raw := a.sign(t, idClaims(c, nil), nil)

	const n = 20
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := v.IDToken(context.Background(), raw, "n-1")
			errs <- err
		}()
	}
	impatient, cancel := context.WithCancel(context.Background())
	impatientErr := make(chan error, 1)
	go func() {
		_, err := v.IDToken(impatient, raw, "n-1")
		impatientErr <- err
	}()
	waitFor(t, func() bool { return ks.fetches() == 1 })
	cancel()
	assert.ErrorIs(t, <-impatientErr, context.Canceled)
	close(gate)
	for range n {
		assert.NoError(t, <-errs)
	}
	assert.Equal(t, 1, ks.fetches())
}
