package verify_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/shopsso/sso/internal/testkit"
)

// signer is one private key with the kid and alg it signs with.
type signer struct {
	kid, alg string
	priv     crypto.Signer
	// jwkAlg and use go into the published JWK ("" leaves them out).
	jwkAlg, use string
}

var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
	p256Key  *ecdsa.PrivateKey
	p384Key  *ecdsa.PrivateKey
	edKey    ed25519.PrivateKey
	rsaKey2  *rsa.PrivateKey
)

// testKeys generates the private keys once per test binary.
func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if rsaKey2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if p256Key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if p384Key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			panic(err)
		}
		if _, edKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
	})
}

func rsaSigner(t testing.TB, kid string) signer {
	testKeys(t)
	return signer{kid: kid, alg: "RS256", priv: rsaKey, jwkAlg: "RS256", use: "sig"}
}

// jwk returns s's public key as a JWK (RFC 7517 §4).
func (s signer) jwk(t testing.TB) json.RawMessage {
	t.Helper()
	j, err := jwkset.NewJWKFromKey(s.priv.Public(), jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: s.kid, ALG: jwkset.ALG(s.jwkAlg), USE: jwkset.USE(s.use)},
	})
	if err != nil {
		t.Fatalf("making JWK: %v", err)
	}
	b, err := json.Marshal(j.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign returns claims as a compact JWS signed by s, with extra header
// fields (nil deletes one).
func (s signer) sign(t testing.TB, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	m := jwt.GetSigningMethod(s.alg)
	if m == nil {
		t.Fatalf("unknown alg %s", s.alg)
	}
	tok := jwt.NewWithClaims(m, claims)
	if s.kid != "" {
		tok.Header["kid"] = s.kid
	}
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	out, err := tok.SignedString(s.priv)
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	return out
}

// keyServer serves a JWK Set that tests can change, counting fetches.
type keyServer struct {
	*httptest.Server
	mu    sync.Mutex
	body  []byte
	calls int
	gate  chan struct{} // when not nil, each fetch waits for it to close
}

func newKeyServer(t testing.TB, keys ...json.RawMessage) *keyServer {
	ks := &keyServer{}
	ks.set(t, keys...)
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.mu.Lock()
		ks.calls++
		body, gate := ks.body, ks.gate
		ks.mu.Unlock()
		if gate != nil {
			<-gate
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *keyServer) set(t testing.TB, keys ...json.RawMessage) {
	t.Helper()
	if keys == nil {
		keys = []json.RawMessage{}
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	ks.mu.Lock()
	ks.body = b
	ks.mu.Unlock()
}

func (ks *keyServer) fetches() int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.calls
}

// clock is the shared settable test clock (internal/testkit).
type clock = testkit.Clock

func newClock() *clock { return testkit.NewClockAt(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)) }
