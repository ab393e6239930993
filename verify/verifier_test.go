package verify_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopsso/sso/verify"
)

const (
	testIssuer = "https://id.example.com"
	testClient = "client-1"
)

// idClaims are valid ID-token claims at c's time, with overrides (nil
// deletes a claim).
func idClaims(c *clock, over map[string]any) jwt.MapClaims {
	now := c.Now()
	m := jwt.MapClaims{
		"iss":   testIssuer,
		"sub":   "customer-1",
		"aud":   testClient,
		"exp":   now.Add(time.Hour).Unix(),
		"iat":   now.Unix(),
		"nonce": "n-1",
	}
	for k, v := range over {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

func keySet(t *testing.T, ks *keyServer, c *clock) *verify.KeySet {
	t.Helper()
	set, err := verify.NewKeySet(verify.KeySetConfig{URL: ks.URL, Now: c.Now})
	require.NoError(t, err)
	return set
}

// checkOf returns the CheckError in err's chain.
func checkOf(t *testing.T, err error) *verify.CheckError {
	t.Helper()
	var ce *verify.CheckError
	require.ErrorAs(t, err, &ce)
	require.ErrorIs(t, err, verify.ErrInvalid)
	return ce
}

// TestIDTokenRejections covers every reason an ID token is refused, each
// with the check it must name and, where they may be shown, the values.
func TestIDTokenRejections(t *testing.T) {
	c := newClock()
	good := rsaSigner(t, "k1")
	testKeys(t)
	other := signer{kid: "k1", alg: "RS256", priv: rsaKey2}
	ec := signer{kid: "k1", alg: "ES256", priv: p256Key}
	ks := newKeyServer(t, good.jwk(t))
	v, err := verify.New(verify.Config{Issuer: testIssuer, Audience: testClient, Keys: keySet(t, ks, c), Now: c.Now, IssuerHint: "set Config.Issuer"})
	require.NoError(t, err)

	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, idClaims(c, nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	hs, err := jwt.NewWithClaims(jwt.SigningMethodHS256, idClaims(c, nil)).SignedString([]byte("public key bytes"))
	require.NoError(t, err)
	unknownKid := good
	allAlgs := strings.Join(verify.DefaultAlgorithms(), " ")
	unknownKid.kid = "k2"

	tests := []struct {
		name          string
		raw           string
		nonce         string
		check         string
		expected, got string
	}{
		{name: "not a JWS", raw: "abc.def", check: verify.CheckMalformed},
		{name: "garbage segments", raw: "a.b.c", check: verify.CheckMalformed},
		{name: "crit header", raw: good.sign(t, idClaims(c, nil), map[string]any{"crit": []string{"exp"}, "exp": 1}), check: verify.CheckCrit},
		{name: "typ of an access token", raw: good.sign(t, idClaims(c, nil), map[string]any{"typ": "at+jwt"}), check: verify.CheckTyp, expected: "JWT", got: "at+jwt"},
		{name: "alg none", raw: none, check: verify.CheckAlg, expected: allAlgs, got: "none"},
		{name: "alg HS256", raw: hs, check: verify.CheckAlg, expected: allAlgs, got: "HS256"},
		{name: "issuer differs by a slash", raw: good.sign(t, idClaims(c, map[string]any{"iss": testIssuer + "/"}), nil), check: verify.CheckIss, expected: testIssuer, got: testIssuer + "/"},
		{name: "no issuer", raw: good.sign(t, idClaims(c, map[string]any{"iss": nil}), nil), check: verify.CheckIss, expected: testIssuer, got: ""},
		{name: "no subject", raw: good.sign(t, idClaims(c, map[string]any{"sub": nil}), nil), check: verify.CheckSub},
		{name: "wrong audience", raw: good.sign(t, idClaims(c, map[string]any{"aud": "someone-else"}), nil), check: verify.CheckAud, expected: testClient, got: "someone-else"},
		{name: "no audience", raw: good.sign(t, idClaims(c, map[string]any{"aud": nil}), nil), check: verify.CheckAud, expected: testClient},
		{name: "several audiences without azp", raw: good.sign(t, idClaims(c, map[string]any{"aud": []string{testClient, "x"}}), nil), check: verify.CheckAzp, expected: testClient},
		{name: "azp of another client", raw: good.sign(t, idClaims(c, map[string]any{"azp": "x"}), nil), check: verify.CheckAzp, expected: testClient, got: "x"},
		{name: "unknown kid", raw: unknownKid.sign(t, idClaims(c, nil), nil), check: verify.CheckKid, expected: "one of [k1]", got: "k2"},
		{name: "signed by a foreign key", raw: other.sign(t, idClaims(c, nil), nil), check: verify.CheckSignature},
		{name: "EC alg against an RSA key", raw: ec.sign(t, idClaims(c, nil), nil), check: verify.CheckAlg, expected: "RS256", got: "ES256"},
		{name: "tampered claims", raw: tamper(good.sign(t, idClaims(c, nil), nil)), check: verify.CheckSignature},
		{name: "expired", raw: good.sign(t, idClaims(c, map[string]any{"exp": c.Now().Add(-2 * time.Minute).Unix()}), nil), check: verify.CheckExp},
		{name: "no exp", raw: good.sign(t, idClaims(c, map[string]any{"exp": nil}), nil), check: verify.CheckExp},
		{name: "issued in the future", raw: good.sign(t, idClaims(c, map[string]any{"iat": c.Now().Add(10 * time.Minute).Unix()}), nil), check: verify.CheckIat},
		{name: "no iat", raw: good.sign(t, idClaims(c, map[string]any{"iat": nil}), nil), check: verify.CheckIat},
		{name: "not yet valid", raw: good.sign(t, idClaims(c, map[string]any{"nbf": c.Now().Add(10 * time.Minute).Unix()}), nil), check: verify.CheckNbf},
		{name: "nonce of another login", raw: good.sign(t, idClaims(c, nil), nil), nonce: "n-2", check: verify.CheckNonce},
		{name: "nonce missing", raw: good.sign(t, idClaims(c, map[string]any{"nonce": nil}), nil), nonce: "n-1", check: verify.CheckNonce},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.IDToken(context.Background(), tt.raw, tt.nonce)
			ce := checkOf(t, err)
			assert.Equal(t, tt.check, ce.Check)
			assert.Equal(t, "ID token", ce.Token)
			if tt.expected != "" || tt.got != "" {
				assert.Equal(t, tt.expected, ce.Expected)
				assert.Equal(t, tt.got, ce.Got)
			}
			if tt.check == verify.CheckIss {
				assert.Equal(t, "set Config.Issuer", ce.Fix)
				assert.Contains(t, err.Error(), "set Config.Issuer")
			}
			if tt.check == verify.CheckNonce {
				assert.Empty(t, ce.Expected+ce.Got, "a nonce is never shown")
			}
			assert.NotContains(t, err.Error(), tt.raw, "the token is never in the error")
		})
	}

	t.Run("valid", func(t *testing.T) {
		tok, err := v.IDToken(context.Background(), good.sign(t, idClaims(c, map[string]any{"aud": []string{testClient, "x"}, "azp": testClient}), nil), "n-1")
		require.NoError(t, err)
		assert.Equal(t, "customer-1", tok.Subject)
		assert.Equal(t, testIssuer, tok.Issuer)
		assert.Equal(t, "k1", tok.KeyID)
		assert.True(t, tok.SignatureChecked)
		assert.WithinDuration(t, c.Now().Add(time.Hour), tok.Expiry, time.Second)
	})
	t.Run("refresh without nonce", func(t *testing.T) {
		_, err := v.IDToken(context.Background(), good.sign(t, idClaims(c, map[string]any{"nonce": nil}), nil), "")
		require.NoError(t, err)
	})
	t.Run("within leeway", func(t *testing.T) {
		_, err := v.IDToken(context.Background(), good.sign(t, idClaims(c, map[string]any{"exp": c.Now().Add(-30 * time.Second).Unix(), "iat": c.Now().Add(30 * time.Second).Unix()}), nil), "n-1")
		require.NoError(t, err)
	})
}

// tamper replaces the subject in the claims segment, keeping the signature.
func tamper(raw string) string {
	parts := strings.Split(raw, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	b = bytes.Replace(b, []byte("customer-1"), []byte("admin"), 1)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// TestAccessTokenRules checks RFC 9068 tokens: typ at+jwt, audience, and
// that an ID token cannot pass as an access token.
func TestAccessTokenRules(t *testing.T) {
	c := newClock()
	s := rsaSigner(t, "k1")
	ks := newKeyServer(t, s.jwk(t))
	v, err := verify.New(verify.Config{Issuer: testIssuer, Audience: "api", Keys: keySet(t, ks, c), Now: c.Now})
	require.NoError(t, err)
	claims := func(over map[string]any) jwt.MapClaims {
		return idClaims(c, merge(map[string]any{"aud": "api", "nonce": nil, "client_id": testClient}, over))
	}
	at := map[string]any{"typ": "at+jwt"}
	tests := []struct {
		name, raw, check string
	}{
		{"an ID token (typ JWT)", s.sign(t, claims(nil), nil), verify.CheckTyp},
		{"no typ", s.sign(t, claims(nil), map[string]any{"typ": nil}), verify.CheckTyp},
		{"wrong audience", s.sign(t, claims(map[string]any{"aud": testClient}), at), verify.CheckAud},
		{"wrong issuer", s.sign(t, claims(map[string]any{"iss": "https://evil.example"}), at), verify.CheckIss},
		{"no subject", s.sign(t, claims(map[string]any{"sub": nil}), at), verify.CheckSub},
		{"empty subject", s.sign(t, claims(map[string]any{"sub": ""}), at), verify.CheckSub},
		{"expired", s.sign(t, claims(map[string]any{"exp": c.Now().Add(-time.Hour).Unix()}), at), verify.CheckExp},
		{"crit", s.sign(t, claims(nil), map[string]any{"typ": "at+jwt", "crit": []string{"x"}, "x": true}), verify.CheckCrit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.AccessToken(context.Background(), tt.raw)
			assert.Equal(t, tt.check, checkOf(t, err).Check)
			assert.Equal(t, "access token", checkOf(t, err).Token)
		})
	}
	for _, typ := range []string{"at+jwt", "application/at+jwt", "AT+JWT"} {
		t.Run("valid typ "+typ, func(t *testing.T) {
			tok, err := v.AccessToken(context.Background(), s.sign(t, claims(map[string]any{"iat": nil}), map[string]any{"typ": typ}))
			require.NoError(t, err)
			assert.Equal(t, testClient, tok.Claims["client_id"])
		})
	}
}

func merge(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}

// TestSkipSignatureWithoutKeys: no keys is a configuration error unless
// opted out explicitly, and then only for ID tokens.
func TestSkipSignatureWithoutKeys(t *testing.T) {
	c := newClock()
	_, err := verify.New(verify.Config{Issuer: testIssuer, Audience: testClient})
	require.Error(t, err, "no keys and no opt-out")
	assert.Contains(t, err.Error(), "InsecureSkipSignatureCheckWithoutKeys")

	v, err := verify.New(verify.Config{Issuer: testIssuer, Audience: testClient, InsecureSkipSignatureCheckWithoutKeys: true, Now: c.Now})
	require.NoError(t, err)
	testKeys(t)
	foreign := signer{kid: "x", alg: "RS256", priv: rsaKey2}
	tok, err := v.IDToken(context.Background(), foreign.sign(t, idClaims(c, nil), nil), "n-1")
	require.NoError(t, err)
	assert.False(t, tok.SignatureChecked)

	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, idClaims(c, nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	_, err = v.IDToken(context.Background(), none, "n-1")
	assert.Equal(t, verify.CheckAlg, checkOf(t, err).Check, "alg none stays refused")
	_, err = v.IDToken(context.Background(), foreign.sign(t, idClaims(c, map[string]any{"iss": "https://evil.example"}), nil), "n-1")
	assert.Equal(t, verify.CheckIss, checkOf(t, err).Check, "the other checks still apply")

	_, err = v.AccessToken(context.Background(), foreign.sign(t, idClaims(c, nil), map[string]any{"typ": "at+jwt"}))
	assert.ErrorIs(t, err, verify.ErrUnavailable, "access tokens always need a key")
}

// TestNewRefuses lists configurations New refuses.
func TestNewRefuses(t *testing.T) {
	keys := verify.KeySource(nil)
	set, err := verify.NewKeySet(verify.KeySetConfig{URL: "https://id.example.com/jwks"})
	require.NoError(t, err)
	keys = set
	tests := []struct {
		name string
		cfg  verify.Config
	}{
		{"no audience", verify.Config{Issuer: testIssuer, Keys: keys}},
		{"no issuer rule", verify.Config{Audience: "a", Keys: keys}},
		{"http origin off loopback", verify.Config{IssuerOrigin: "http://id.example.com/token", Audience: "a", Keys: keys}},
		{"alg none", verify.Config{Issuer: testIssuer, Audience: "a", Keys: keys, Algorithms: []string{"none"}}},
		{"alg HS256", verify.Config{Issuer: testIssuer, Audience: "a", Keys: keys, Algorithms: []string{"RS256", "HS256"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verify.New(tt.cfg)
			assert.Error(t, err)
		})
	}
	_, err = verify.New(verify.Config{IssuerOrigin: "http://id.example.com/token", InsecureAllowHTTP: true, Audience: "a", Keys: keys})
	assert.NoError(t, err, "explicit opt-in")
}

// TestCheckErrorText: values from a token are quoted and capped.
func TestCheckErrorText(t *testing.T) {
	e := &verify.CheckError{Token: "ID token", Check: "iss", Expected: "https://a", Got: "x\nlevel=ERROR " + strings.Repeat("y", 500), Fix: "set Issuer"}
	s := e.Error()
	assert.NotContains(t, s, "\n")
	assert.Less(t, len(s), 350)
	assert.True(t, strings.HasPrefix(s, `sso: ID token failed the iss check: expected "https://a", got "x\nlevel=ERROR yyy`), s)
	assert.True(t, strings.HasSuffix(s, "; set Issuer"), s)
	assert.True(t, errors.Is(e, verify.ErrInvalid))
}

// TestSignatureSpellingIsCanonical: base64url leaves the low bits of a
// segment's last character unused (RFC 4648 §3.5), so a signature has
// several spellings that decode to the same bytes. Only the canonical one
// (unused bits zero) is accepted; otherwise anyone holding one valid token
// could mint byte-different copies of it, which defeats every cache or
// replay list keyed on the token's text.
func TestSignatureSpellingIsCanonical(t *testing.T) {
	c := newClock()
	good := rsaSigner(t, "k1")
	v, err := verify.New(verify.Config{Issuer: testIssuer, Audience: testClient, Keys: keySet(t, newKeyServer(t, good.jwk(t)), c), Now: c.Now})
	require.NoError(t, err)
	raw := good.sign(t, idClaims(c, nil), nil)
	_, err = v.IDToken(context.Background(), raw, "n-1")
	require.NoError(t, err)

	parts := strings.Split(raw, ".")
	sig := parts[2]
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, sig[len(sig)-1])
	require.GreaterOrEqual(t, last, 0)
	parts[2] = sig[:len(sig)-1] + string(alphabet[last^1]) // flip an unused bit
	respelled := strings.Join(parts, ".")
	a, _ := base64.RawURLEncoding.DecodeString(sig)
	b, err := base64.RawURLEncoding.DecodeString(parts[2])
	require.NoError(t, err)
	require.Equal(t, a, b, "the test needs a spelling that lenient decoding reads as the same signature")

	_, err = v.IDToken(context.Background(), respelled, "n-1")
	assert.Equal(t, verify.CheckSignature, checkOf(t, err).Check)
}

// TestTokenSizeCap: a token is refused before anything in it is decoded
// when it is larger than verify.MaxTokenBytes, even one validly signed, so
// a client cannot make every request decode (or split) a megabyte.
func TestTokenSizeCap(t *testing.T) {
	c := newClock()
	good := rsaSigner(t, "k1")
	v, err := verify.New(verify.Config{Issuer: testIssuer, Audience: testClient, Keys: keySet(t, newKeyServer(t, good.jwk(t)), c), Now: c.Now})
	require.NoError(t, err)
	big := good.sign(t, idClaims(c, map[string]any{"pad": strings.Repeat("x", verify.MaxTokenBytes)}), nil)
	require.Greater(t, len(big), verify.MaxTokenBytes)
	tests := []struct{ name, raw string }{
		{"signed, too large", big},
		{"dots", strings.Repeat(".", 1<<20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.IDToken(context.Background(), tt.raw, "n-1")
			ce := checkOf(t, err)
			assert.Equal(t, verify.CheckMalformed, ce.Check)
			assert.Equal(t, fmt.Sprintf("at most %d bytes", verify.MaxTokenBytes), ce.Expected)
			_, err = v.AccessToken(context.Background(), tt.raw)
			assert.Equal(t, verify.CheckMalformed, checkOf(t, err).Check)
		})
	}
	_, err = v.IDToken(context.Background(), good.sign(t, idClaims(c, map[string]any{"pad": strings.Repeat("x", 8<<10)}), nil), "n-1")
	assert.NoError(t, err, "a large but plausible token still passes")
}
