package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2/memstore"
	"github.com/redis/go-redis/v9"

	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/sessioncodec"
	"github.com/shopsso/sso/ssotest"
)

func TestSettingsSessionKeys(t *testing.T) {
	t.Parallel()
	k1 := bytes.Repeat([]byte{1}, sessioncodec.KeySize)
	k2 := bytes.Repeat([]byte{0xfb}, sessioncodec.KeySize) // "+" and "/" in standard base64
	tests := []struct {
		name    string
		env     string
		want    [][]byte
		wantErr bool
	}{
		{"unset", "", nil, false},
		{"one key", base64.StdEncoding.EncodeToString(k1), [][]byte{k1}, false},
		{"two keys, URL-safe unpadded second", base64.StdEncoding.EncodeToString(k1) + ", " + base64.RawURLEncoding.EncodeToString(k2), [][]byte{k1, k2}, false},
		{"short key", base64.StdEncoding.EncodeToString(k1[:16]), nil, true},
		{"not base64", "not a key!", nil, true},
		{"empty entry", base64.StdEncoding.EncodeToString(k1) + ",", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := settingsFromEnv(mapEnv(map[string]string{"SESSION_KEYS": tt.env}))
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "SESSION_KEYS") {
					t.Fatalf("err = %v, want one naming SESSION_KEYS", err)
				}
				if strings.Contains(err.Error(), tt.env) && tt.env != "" {
					t.Error("the error repeats the key material")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.SessionKeys) != len(tt.want) {
				t.Fatalf("%d keys, want %d", len(s.SessionKeys), len(tt.want))
			}
			for i := range tt.want {
				if !bytes.Equal(s.SessionKeys[i], tt.want[i]) {
					t.Errorf("key %d differs", i+1)
				}
			}
		})
	}
}

// TestUnsealedSharedStoreWarns: with a store outside the process and no
// SESSION_KEYS, the example says so once at start.
func TestUnsealedSharedStoreWarns(t *testing.T) {
	t.Parallel()
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, sessioncodec.KeySize))
	tests := []struct {
		name string
		env  map[string]string
		warn bool
	}{
		{"memory store", map[string]string{}, false},
		{"redis without keys", map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0"}, true},
		{"postgres without keys", map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1:1/db"}, true},
		{"redis with keys", map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0", "SESSION_KEYS": key}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := settingsFromEnv(mapEnv(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			stand := ssotest.NewServer(ssotest.Options{})
			t.Cleanup(stand.Close)
			var logs bytes.Buffer
			// The store itself is memory: the test is about the warning.
			a, err := newApp(s, "http://127.0.0.1:1", slog.New(slog.NewTextHandler(&logs, nil)), deps{Stand: stand, Store: memstore.New()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(a.close)
			if got := strings.Count(logs.String(), "check=SESSION_KEYS"); got != map[bool]int{true: 1}[tt.warn] {
				t.Errorf("%d warnings naming SESSION_KEYS, want warn=%v; logs:\n%s", got, tt.warn, logs.String())
			}
		})
	}
}

// rawSessions returns every scs session value in the cluster's Redis, as
// stored.
func (c *redisCluster) rawSessions() [][]byte {
	c.t.Helper()
	opts, err := redis.ParseURL(c.redisURL)
	if err != nil {
		c.t.Fatal(err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	keys, err := client.Keys(context.Background(), "scs:session:*").Result()
	if err != nil {
		c.t.Fatalf("listing Redis keys: %v", err)
	}
	var values [][]byte
	for _, k := range keys {
		v, err := client.Get(context.Background(), k).Bytes()
		if err != nil {
			c.t.Fatalf("reading %s: %v", k, err)
		}
		values = append(values, v)
	}
	return values
}

// tokenIn reports which sign of a token, if any, raw holds: a JWT (the
// base64 of `{"`), the access token's jti, or the customer's subject.
func tokenIn(raw []byte, jti string) string {
	for _, sign := range []string{"eyJ", jti, "customer-1"} {
		if sign != "" && bytes.Contains(raw, []byte(sign)) {
			return sign
		}
	}
	return ""
}

// TestRedisSessionsSealed reads the raw session values in a real Redis:
// with SESSION_KEYS no token is in them; a session written before the keys
// were set is still read, once, and rewritten sealed.
func TestRedisSessionsSealed(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{42}, sessioncodec.KeySize))
	keys, err := parseSessionKeys(key)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("sealed everywhere", func(t *testing.T) {
		c := newRedisClusterWith(t, func(_ int, s *settings) { s.SessionKeys = keys })
		jar := c.login(multicart.Name, "a")
		r := c.me(jar, "b")
		if r.status != http.StatusOK || r.jti() == "" {
			t.Fatalf("GET /me on b: status %d, jti %q", r.status, r.jti())
		}
		raws := c.rawSessions()
		if len(raws) == 0 {
			t.Fatal("no session in Redis")
		}
		for _, raw := range raws {
			if sign := tokenIn(raw, r.jti()); sign != "" {
				t.Errorf("a sealed session in Redis holds %q", sign)
			}
		}
	})
	t.Run("unsealed from before, rewritten sealed", func(t *testing.T) {
		// Instance a runs without keys (before), b with them (after).
		c := newRedisClusterWith(t, func(i int, s *settings) {
			if i == 1 {
				s.SessionKeys = keys
			}
		})
		jar := c.login(multicart.Name, "a")
		before := c.me(jar, "a")
		if before.status != http.StatusOK {
			t.Fatalf("GET /me on a: status %d", before.status)
		}
		found := false
		for _, raw := range c.rawSessions() {
			found = found || tokenIn(raw, before.jti()) != ""
		}
		if !found {
			t.Fatal("the unsealed session shows no token: this test could not tell sealed from unsealed")
		}
		after := c.me(jar, "b")
		if after.status != http.StatusOK || after.jti() != before.jti() {
			t.Fatalf("GET /me on b after the keys were set: status %d, jti %q, want 200 and %q", after.status, after.jti(), before.jti())
		}
		for _, raw := range c.rawSessions() {
			if sign := tokenIn(raw, before.jti()); sign != "" {
				t.Errorf("after one request with keys, a session in Redis still holds %q", sign)
			}
		}
		if again := c.me(jar, "b"); again.status != http.StatusOK {
			t.Errorf("GET /me on b once rewritten: status %d", again.status)
		}
	})
}

// mapEnv is a getenv over m.
func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
