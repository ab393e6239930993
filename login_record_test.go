package sso

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/shopsso/sso/internal/record"
	"github.com/shopsso/sso/sessioncodec"
)

func TestLoginRecordRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	tests := []struct {
		name string
		l    login
	}{
		{"full", login{Provider: "multicart", AccessToken: "a.b.c", TokenType: "Bearer", RefreshToken: "r",
			IDToken: "i.d.t", Expiry: now.Add(time.Hour), Obtained: now, Scopes: []string{"openid", "email"}}},
		{"no expiry, no ID token", login{Provider: "istores", AccessToken: "opaque", TokenType: "Bearer", Obtained: now, Scopes: []string{}}},
		{"zero", login{}},
		{"with claims", login{Provider: "multicart", AccessToken: "a.b.c", Scopes: []string{"openid"},
			access: claimSet{jwt: true, subject: "c-1", issuer: "https://id.example", audience: listRecord([]string{"api"}),
				expiry: now.Add(time.Hour).UnixNano(), issued: now.UnixNano(), scopes: []string{"openid"}},
			id: claimSet{jwt: true, subject: "c-1", issuer: "https://id.example", audience: listRecord([]string{"client"}),
				expiry: now.Add(time.Hour).UnixNano(), issued: now.UnixNano(), scopes: []string{"other"}, name: "Ann", email: "ann@example.com", emailVerified: verifiedTrue}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, old, err := parsed(tt.l.record())
			if err != nil || old {
				t.Fatalf("parseLogin = %v, old %v", err, old)
			}
			if !reflect.DeepEqual(got, tt.l) {
				t.Errorf("parseLogin(record) = %+v, want %+v", got, tt.l)
			}
		})
	}
}

func TestLoginRecordRefused(t *testing.T) {
	t.Parallel()
	l := login{Provider: "multicart", AccessToken: "a.b.c", Scopes: []string{"openid"}}
	good := l.record()
	tests := []struct {
		name string
		rec  string
	}{
		{"empty", ""},
		{"unknown version", "\x7f" + good[1:]},
		{"truncated", good[:len(good)-2]},
		{"trailing bytes", good + "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, _, err := parsed(tt.rec); err == nil {
				t.Error("parseLogin succeeded, want an error")
			}
		})
	}
	if _, _, err := parsed(good[:len(good)-2]); !errors.Is(err, record.ErrCorrupt) {
		t.Errorf("truncated record: err = %v, want record.ErrCorrupt", err)
	}
}

// legacyV1Session encodes a session holding l the way sso.Codec wrote it
// before logins had records (format version 1, tag 21).
func legacyV1Session(deadline time.Time, l login) []byte {
	str := func(b []byte, s string) []byte { return append(binary.AppendUvarint(b, uint64(len(s))), s...) }
	tm := func(b []byte, t time.Time) []byte {
		b = binary.AppendVarint(b, t.Unix())
		return binary.AppendUvarint(b, uint64(t.Nanosecond())<<1|1) // UTC
	}
	b := tm([]byte{0xc5, 1}, deadline)
	b = append(str(append(b, 1), loginKey), 21)
	for _, s := range []string{l.Provider, l.AccessToken, l.TokenType, l.RefreshToken, l.IDToken} {
		b = str(b, s)
	}
	b = tm(tm(b, l.Expiry), l.Obtained)
	b = binary.AppendUvarint(b, uint64(len(l.Scopes))+1)
	for _, s := range l.Scopes {
		b = str(b, s)
	}
	return b
}

// TestLegacyLoginsStayLoggedIn stores logins the way earlier releases did
// and checks that Require still lets the customer in and rewrites the
// session with the login as a record. Not parallel: the bench handlers
// write a shared sink.
func TestLegacyLoginsStayLoggedIn(t *testing.T) {
	fx := newBenchFixture(t)
	fx.login.Expiry = fx.login.Expiry.UTC()
	fx.login.Obtained = fx.login.Obtained.UTC()
	deadline := time.Now().Add(time.Hour).UTC()
	gobData, err := scs.GobCodec{}.Encode(deadline, map[string]any{loginKey: fx.login})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"scs.GobCodec", gobData},
		{"sso.Codec version 1", legacyV1Session(deadline, fx.login)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := newBenchApp(t, fx, sessioncodec.Codec{})
			const token = "legacy-session-0123456789abcdefghijklmnopq"
			if err := app.sm.Store.Commit(token, tt.data, deadline); err != nil {
				t.Fatal(err)
			}
			c := newBenchClient(&http.Cookie{Name: app.sm.Cookie.Name, Value: token})
			if !c.get(app.sso) {
				t.Fatalf("status %d, want 200 for a login stored by an earlier release", c.w.code)
			}
			data, found, err := app.sm.Store.Find(token)
			if err != nil || !found {
				t.Fatalf("session gone from the store: %v", err)
			}
			_, values, err := sessioncodec.Codec{}.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			rec, ok := values[loginKey].(string)
			if !ok {
				t.Fatalf("stored login is a %T, want its record (a string)", values[loginKey])
			}
			if _, again := values[sessioncodec.RewriteKey]; again {
				t.Error("the rewritten session is still marked for rewriting")
			}
			l, old, err := parsed(rec)
			if err != nil || old {
				t.Fatalf("parseLogin = %v, old %v", err, old)
			}
			if l.record() != fx.login.record() {
				t.Errorf("rewritten login = %+v, want %+v", l, fx.login)
			}
			if l.access.subject == "" || l.id.subject == "" {
				t.Errorf("rewritten login lacks its claims: %+v", l)
			}
		})
	}
}

// TestLoginRecordOlderVersions reads records in the layouts of versions 1
// and 2 and finds the same login, marked for rewriting.
func TestLoginRecordOlderVersions(t *testing.T) {
	t.Parallel()
	fx := newBenchFixture(t)
	l := fx.login
	l.Expiry, l.Obtained = l.Expiry.UTC(), l.Obtained.UTC()
	old := func(version byte) string {
		w := record.NewWriter(version, 0)
		w.String(l.Provider)
		w.String(l.AccessToken)
		w.String(l.TokenType)
		w.String(l.RefreshToken)
		w.String(l.IDToken)
		w.Time(l.Expiry)
		w.Time(l.Obtained)
		w.Strings(l.Scopes)
		if version == loginV2 {
			writeClaims(&w, &l.access, l.Scopes, nil)
			writeClaims(&w, &l.id, l.Scopes, nil)
		}
		return w.Done()
	}
	for _, version := range []byte{loginV1, loginV2} {
		t.Run(fmt.Sprint("version ", version), func(t *testing.T) {
			t.Parallel()
			got, isOld, err := parsed(old(version))
			if err != nil || !isOld {
				t.Fatalf("parseLogin = %v, old %v; want no error, old", err, isOld)
			}
			if got.record() != l.record() {
				t.Errorf("version %d read as %+v, want %+v", version, got, l)
			}
		})
	}
	if rec := l.record(); rec[0] != loginV3 || len(rec) >= len(old(loginV2)) {
		t.Errorf("a new record is version %d and %d bytes; want %d and fewer than version 2's %d", rec[0], len(rec), loginV3, len(old(loginV2)))
	}
}

// parsed is parseLogin returning the login.
func parsed(s string) (login, bool, error) {
	var l login
	old, err := parseLogin(s, &l)
	return l, old, err
}
