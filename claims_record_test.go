package sso

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/shopsso/sso/ssotest"
)

// TestClaimsFromTheLoginRecord checks that the claims a handler reads come
// from the login record, decoded once at login, and agree with the token.
func TestClaimsFromTheLoginRecord(t *testing.T) {
	t.Parallel()
	stand := ssotest.NewServer(ssotest.Options{})
	t.Cleanup(stand.Close)
	access := stand.IssueAccessToken(ssotest.ProviderMulticart, map[string]any{"scope": "openid email", "roles": []string{"a"}})
	tests := []struct {
		name     string
		claims   map[string]any
		verified bool
	}{
		{"verified", map[string]any{"email_verified": true}, true},
		{"verified as a string", map[string]any{"email_verified": "true"}, true},
		{"not verified", map[string]any{"email_verified": false}, false},
		{"no email claims", map[string]any{"email": nil, "name": nil}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := stand.IssueIDToken(tt.claims)
			l := login{Provider: ssotest.ProviderMulticart, AccessToken: access, IDToken: id, Scopes: []string{"openid", "email"}}
			l.decodeClaims()
			stored, old, err := parsed(l.record())
			if err != nil || old {
				t.Fatalf("parseLogin = %v, old %v", err, old)
			}
			if stored.idPacked == "" {
				t.Fatal("the ID token is not packed in the record")
			}
			ctx := withLogin(context.Background(), stored)
			for _, c := range []struct {
				name string
				raw  string
				get  func(context.Context) (*Claims, bool)
			}{{"access", access, ClaimsFromContext}, {"ID", id, IDClaimsFromContext}} {
				got, ok := c.get(ctx)
				if !ok {
					t.Fatalf("%s claims missing", c.name)
				}
				want, err := ParseClaims(c.raw)
				if err != nil {
					t.Fatal(err)
				}
				if got.Subject() != want.Subject() || got.Issuer() != want.Issuer() ||
					!slices.Equal(got.Audience(), want.Audience()) || !slices.Equal(got.Scopes(), want.Scopes()) ||
					!got.Expiry().Equal(want.Expiry()) || !got.IssuedAt().Equal(want.IssuedAt()) ||
					got.Name() != want.Name() || got.Email() != want.Email() || got.EmailVerified() != want.EmailVerified() {
					t.Errorf("%s claims from the record differ from the token's", c.name)
				}
				if got.Expiry().Before(time.Now()) || got.Subject() == "" {
					t.Errorf("%s claims: expiry %v, subject %q", c.name, got.Expiry(), got.Subject())
				}
				if v, _ := got.Value("iss"); v != want.Issuer() {
					t.Errorf("%s Value(iss) = %v, want %q", c.name, v, want.Issuer())
				}
			}
			idc, _ := IDClaimsFromContext(ctx)
			if idc.EmailVerified() != tt.verified {
				t.Errorf("EmailVerified = %v, want %v", idc.EmailVerified(), tt.verified)
			}
			var own struct {
				Sub   string `json:"sub"`
				Email string `json:"email"`
				Name  string `json:"name"`
			}
			if err := idc.Decode(&own); err != nil {
				t.Fatal(err)
			}
			if own.Sub != idc.Subject() || own.Email != idc.Email() || own.Name != idc.Name() {
				t.Errorf("Decode = %+v, want the accessors' %q %q %q", own, idc.Subject(), idc.Email(), idc.Name())
			}
			if ac, _ := ClaimsFromContext(ctx); ac.Map()["roles"] == nil {
				t.Error("Map lacks the roles claim")
			}
			// The ID token's Value and Map read the packed payload.
			want, err := ParseClaims(id)
			if err != nil {
				t.Fatal(err)
			}
			if got := idc.Map(); !reflect.DeepEqual(got, want.Map()) || got["sub"] != want.Subject() {
				t.Errorf("ID token's Map = %v, want %v", got, want.Map())
			}
			if v, ok := idc.Value("email_verified"); ok != (tt.claims["email_verified"] != nil) || v != tt.claims["email_verified"] {
				t.Errorf("ID token's Value(email_verified) = %v, %v; want %v", v, ok, tt.claims["email_verified"])
			}
			if raw, ok := IDTokenFromContext(ctx); !ok || raw != id {
				t.Errorf("IDTokenFromContext = %q, %v; want the ID token %q", raw, ok, id)
			}
		})
	}
}
