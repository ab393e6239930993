package sso

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/shopsso/sso/internal/record"
	"github.com/shopsso/sso/sessioncodec"
	"github.com/shopsso/sso/ssotest"
)

// unpacked returns l with its tokens in the exported fields, as a login
// built from a token response holds them, to compare logins read from
// records with the logins they were written from.
func unpacked(l login) login {
	l.RefreshToken, l.IDToken = l.refreshToken(), l.idToken()
	l.refreshPacked, l.idPacked = "", ""
	return l
}

// toTheSecond returns l with Expiry and Obtained as a record keeps them.
func toTheSecond(l login) login {
	l.Expiry = time.Unix(l.Expiry.Unix(), 0).UTC()
	l.Obtained = time.Unix(l.Obtained.Unix(), 0).UTC()
	return l
}

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
		{"another token type", login{Provider: "istores", AccessToken: "opaque", TokenType: "bearer", Obtained: now}},
		{"with claims", login{Provider: "multicart", AccessToken: "a.b.c", Scopes: []string{"openid"},
			access: claimSet{jwt: true, subject: "c-1", issuer: "https://id.example", audience: listRecord([]string{"api"}),
				expiry: now.Add(time.Hour).UnixNano(), issued: now.UnixNano(), scopes: []string{"openid"}},
			id: claimSet{jwt: true, subject: "c-1", issuer: "https://id.example", audience: listRecord([]string{"client"}),
				expiry: now.Add(time.Hour).UnixNano(), issued: now.UnixNano(), scopes: []string{"other"}, name: "Ann", email: "ann@example.com", emailVerified: verifiedTrue}}},
		{"ID token times of its own", login{Provider: "multicart", AccessToken: "a.b.c",
			access: claimSet{jwt: true, subject: "c-1", expiry: now.Add(time.Hour).UnixNano(), issued: now.UnixNano()},
			id:     claimSet{jwt: true, subject: "c-1", expiry: now.Add(time.Hour).UnixNano(), issued: now.Add(-time.Second).UnixNano()}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := tt.l.record()
			got, old, err := parsed(rec)
			if err != nil || old {
				t.Fatalf("parseLogin = %v, old %v", err, old)
			}
			if want := toTheSecond(tt.l); !reflect.DeepEqual(unpacked(got), want) {
				t.Errorf("parseLogin(record) = %+v, want %+v", got, want)
			}
			if again := got.record(); again != rec {
				t.Errorf("a login read from its record writes another record:\n%q\n%q", again, rec)
			}
		})
	}
}

// TestLoginRecordTimesRoundedDown checks that the expiry and the time
// obtained are kept to the second, never later than they were.
func TestLoginRecordTimesRoundedDown(t *testing.T) {
	t.Parallel()
	for _, when := range []time.Time{
		time.Date(2030, 1, 2, 3, 4, 5, 999_999_999, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 500_000_000, time.UTC), // before 1970
		time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600)),
	} {
		l := login{Expiry: when, Obtained: when.Add(-time.Hour)}
		got, _, err := parsed(l.record())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name      string
			got, want time.Time
		}{{"Expiry", got.Expiry, l.Expiry}, {"Obtained", got.Obtained, l.Obtained}} {
			if c.got.After(c.want) || c.want.Sub(c.got) >= time.Second || c.got.Nanosecond() != 0 || c.got.Location() != time.UTC {
				t.Errorf("%s %v read back as %v; want it rounded down to the second, in UTC", c.name, c.want, c.got)
			}
		}
	}
}

// TestLoginRecordPacksTokens checks that the refresh token and the ID token
// come back exactly from the record, packed when their text is canonical
// base64url and kept raw otherwise, and that a packed ID token reaches
// IDTokenFromContext and the end-session request unchanged.
func TestLoginRecordPacksTokens(t *testing.T) {
	t.Parallel()
	fx := newBenchFixture(t)
	jwtID, refresh := fx.login.IDToken, fx.login.RefreshToken
	segs := strings.Split(jwtID, ".")
	tests := []struct {
		name                string
		refresh, id         string
		packRefresh, packID bool
	}{
		{"JWT and random refresh token", refresh, jwtID, true, true},
		{"empty", "", "", false, false},
		{"padded", base64.URLEncoding.EncodeToString([]byte("refresh!")), segs[0] + "==." + segs[1] + "." + segs[2], false, false},
		{"opaque", "rt 1/2", "not a JWT", false, false},
		{"ID token of one base64url segment", refresh, segs[1], true, true},
		{"ID token of two segments", refresh, segs[0] + "." + segs[1], true, false},
		{"ID token of four segments", refresh, jwtID + "." + segs[2], true, false},
		{"ID token not base64url", refresh, segs[0] + "." + segs[1] + "+/." + segs[2], true, false},
		{"stray bits in the last character", refresh[:42] + "Z", segs[0] + "." + segs[1] + "." + segs[2][:len(segs[2])-1] + "Z", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := fx.login
			l.RefreshToken, l.IDToken = tt.refresh, tt.id
			rec := l.record()
			got, old, err := parsed(rec)
			if err != nil || old {
				t.Fatalf("parseLogin = %v, old %v", err, old)
			}
			if got.refreshToken() != tt.refresh || got.idToken() != tt.id {
				t.Fatalf("tokens read back as %q and %q, want %q and %q", got.refreshToken(), got.idToken(), tt.refresh, tt.id)
			}
			if (got.refreshPacked != "") != tt.packRefresh || (got.idPacked != "") != tt.packID {
				t.Errorf("packed: refresh token %v, ID token %v; want %v, %v", got.refreshPacked != "", got.idPacked != "", tt.packRefresh, tt.packID)
			}
			if got.record() != rec {
				t.Error("a login read from its record writes another record")
			}
			raw := len(tt.refresh) + len(tt.id)
			packed := len(got.refreshPacked) + len(got.idPacked) + len(got.RefreshToken) + len(got.IDToken)
			if (tt.packRefresh || tt.packID) && packed >= raw {
				t.Errorf("packed tokens take %d bytes, raw %d", packed, raw)
			}
			id, ok := IDTokenFromContext(withLogin(context.Background(), got))
			if id != tt.id || ok != (tt.id != "") {
				t.Errorf("IDTokenFromContext = %q, %v; want %q", id, ok, tt.id)
			}
		})
	}
	if rec := fx.login.record(); len(rec) > len(fx.login.AccessToken)+(len(jwtID)+len(refresh))*3/4+300 {
		t.Errorf("a record of %d bytes for tokens of %d, %d and %d", len(rec), len(fx.login.AccessToken), len(jwtID), len(refresh))
	}
}

// endSessionProvider is a provider with an end-session endpoint.
type endSessionProvider struct{ benchLoginProvider }

func (*endSessionProvider) EndSession(context.Context) (*EndSession, error) {
	return &EndSession{Endpoint: "https://id.example/logout", ClientID: "shop"}, nil
}

// TestEndSessionHintFromPackedIDToken sends a login read from its record,
// with its ID token packed, to the end-session endpoint: id_token_hint is
// the ID token as the provider issued it.
func TestEndSessionHintFromPackedIDToken(t *testing.T) {
	t.Parallel()
	fx := newBenchFixture(t)
	l, _, err := parsed(fx.login.record())
	if err != nil || l.idPacked == "" {
		t.Fatalf("parseLogin = %v; ID token packed: %v", err, l.idPacked != "")
	}
	sm := scs.New()
	a, err := New(Config{Sessions: sm, Providers: []Provider{&endSessionProvider{}},
		Logger: slog.New(slog.DiscardHandler), InsecureCookie: true})
	if err != nil {
		t.Fatal(err)
	}
	h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.logoutAtProvider(w, r, &l) {
			t.Error("logoutAtProvider did not answer")
		}
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/logout", nil))
	to, err := url.Parse(w.Result().Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if hint := to.Query().Get("id_token_hint"); hint != fx.login.IDToken {
		t.Errorf("id_token_hint = %q, want the ID token %q", hint, fx.login.IDToken)
	}
}

func TestLoginRecordRefused(t *testing.T) {
	t.Parallel()
	l := login{Provider: "multicart", AccessToken: "a.b.c", Scopes: []string{"openid"}}
	good := l.record()
	// withTokens is good with its last two fields, the refresh token and
	// the ID token (both empty in good), as given.
	withTokens := func(refresh, id string) string {
		w := record.NewWriter(0, 0)
		w.String(refresh)
		w.String(id)
		return good[:len(good)-2] + w.Done()[1:]
	}
	if _, _, err := parsed(withTokens("", "")); err != nil {
		t.Fatalf("withTokens: %v", err)
	}
	tests := []struct {
		name string
		rec  string
	}{
		{"empty", ""},
		{"unknown version", "\x7f" + good[1:]},
		{"truncated", good[:len(good)-2]},
		{"trailing bytes", good + "x"},
		{"packed ID token of unknown form", withTokens("", "\x09abc")},
		{"packed refresh token of unknown form", withTokens("\x7f", "")},
		{"packed ID token's header past its end", withTokens("", "\x02\x40{}")},
		{"packed ID token's payload past its end", withTokens("", "\x02\x02{}\x40{}")},
		{"packed ID token cut in its length", withTokens("", "\x02\x80")},
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
	v3Data, err := sessioncodec.Codec{}.Encode(deadline, map[string]any{loginKey: loginRecordV3(&fx.login)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"scs.GobCodec", gobData},
		{"sso.Codec version 1", legacyV1Session(deadline, fx.login)},
		{"login record version 3", v3Data},
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
			if err != nil || old || rec[0] != loginV4 {
				t.Fatalf("parseLogin = %v, old %v, version %d; want version %d", err, old, rec[0], loginV4)
			}
			if l.idPacked == "" || l.refreshPacked == "" {
				t.Error("the rewritten record does not pack the tokens")
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

// loginRecordV3 writes l as version 3 of the login record did.
func loginRecordV3(l *login) string {
	w := record.NewWriter(loginV3, 0)
	w.String(l.Provider)
	w.String(l.TokenType)
	w.Time(l.Expiry)
	w.Time(l.Obtained)
	w.Strings(l.Scopes)
	writeClaims(&w, &l.access, l.Scopes, nil)
	writeClaimsV3(&w, &l.id, l.Scopes, &l.access)
	w.String(l.AccessToken)
	w.String(l.RefreshToken)
	w.String(l.IDToken)
	return w.Done()
}

// writeClaimsV3 writes s as versions 2 and 3 did, with no times taken
// from the access token's.
func writeClaimsV3(w *record.Writer, s *claimSet, loginScopes []string, access *claimSet) {
	if access != nil {
		a := *access
		a.expiry, a.issued = s.expiry+1, s.issued+1 // never the same
		access = &a
	}
	writeClaims(w, s, loginScopes, access)
}

// TestLoginRecordOlderVersions reads records in the layouts of versions 1,
// 2 and 3 and finds the same login, marked for rewriting.
func TestLoginRecordOlderVersions(t *testing.T) {
	t.Parallel()
	fx := newBenchFixture(t)
	l := fx.login
	l.Expiry, l.Obtained = l.Expiry.UTC(), l.Obtained.UTC()
	old := func(version byte) string {
		if version == loginV3 {
			return loginRecordV3(&l)
		}
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
			writeClaimsV3(&w, &l.access, l.Scopes, nil)
			writeClaimsV3(&w, &l.id, l.Scopes, nil)
		}
		return w.Done()
	}
	for _, version := range []byte{loginV1, loginV2, loginV3} {
		t.Run(fmt.Sprint("version ", version), func(t *testing.T) {
			t.Parallel()
			got, isOld, err := parsed(old(version))
			if err != nil || !isOld {
				t.Fatalf("parseLogin = %v, old %v; want no error, old", err, isOld)
			}
			if !reflect.DeepEqual(got, l) {
				t.Errorf("version %d read as %+v, want %+v", version, got, l)
			}
			if got.record() != l.record() {
				t.Errorf("version %d is rewritten as another record than the login's", version)
			}
		})
	}
	if rec := l.record(); rec[0] != loginV4 || len(rec) > len(old(loginV3))-200 {
		t.Errorf("a new record is version %d and %d bytes; want %d and at least 200 fewer than version 3's %d", rec[0], len(rec), loginV4, len(old(loginV3)))
	}
}

// parsed is parseLogin returning the login.
func parsed(s string) (login, bool, error) {
	var l login
	old, err := parseLogin(s, &l)
	return l, old, err
}

// FuzzLoginRecord checks that reading any string as a login record never
// panics, and that a login read from one is written and read back as the
// same login: to the second, with the same tokens.
func FuzzLoginRecord(f *testing.F) {
	stand := ssotest.NewServer(ssotest.Options{})
	defer stand.Close()
	id := stand.IssueIDToken(map[string]any{"nonce": "n"})
	access := stand.IssueAccessToken(ssotest.ProviderMulticart, map[string]any{"scope": "openid email"})
	now := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	l := login{Provider: "multicart", AccessToken: access, TokenType: "Bearer", RefreshToken: "cmVmcmVzaA",
		IDToken: id, Expiry: now.Add(time.Hour), Obtained: now, Scopes: []string{"openid", "email"}}
	l.decodeClaims()
	f.Add(l.record())
	f.Add(loginRecordV3(&l))
	other := l
	other.TokenType, other.RefreshToken, other.IDToken = "mac", "r t", "a.b"
	f.Add(other.record())
	f.Add((&login{}).record())
	f.Add("")
	f.Add("\x04")
	f.Fuzz(func(t *testing.T, rec string) {
		l, _, err := parsed(rec)
		if err != nil {
			return
		}
		refresh, id := l.refreshToken(), l.idToken()
		ctx := withLogin(context.Background(), l)
		if c, ok := IDClaimsFromContext(ctx); ok {
			_ = c.Map()
			_ = c.Decode(&map[string]any{})
		}
		again, old, err := parsed(l.record())
		if err != nil || old {
			t.Fatalf("the record of a login read from %q: parseLogin = %v, old %v", rec, err, old)
		}
		if again.refreshToken() != refresh || again.idToken() != id {
			t.Fatalf("tokens %q and %q read back as %q and %q", refresh, id, again.refreshToken(), again.idToken())
		}
		if want := toTheSecond(unpacked(l)); !reflect.DeepEqual(unpacked(again), want) {
			t.Fatalf("login %+v read back as %+v", want, unpacked(again))
		}
	})
}

// TestLoginRecordOfNewerVersionKept: a login record this build cannot read
// because a newer release wrote it (a rolling deploy) is left in the
// session — the request is treated as logged out — while a corrupt record
// is removed.
func TestLoginRecordOfNewerVersionKept(t *testing.T) {
	t.Parallel()
	good := (&login{Provider: "multicart", AccessToken: "a.b.c", TokenType: "Bearer"}).record()
	tests := []struct {
		name string
		rec  string
		kept bool
	}{
		{"newer version", "\x7f" + good[1:], true},
		{"corrupt", good[:len(good)-2], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sm := scs.New()
			var after any
			h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sm.Put(r.Context(), loginKey, tt.rec)
				var l login
				if loadLogin(r.Context(), sm, &l) {
					t.Error("loadLogin read the record, want no login")
				}
				after = sm.Get(r.Context(), loginKey)
			}))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
			if kept := after == tt.rec; kept != tt.kept {
				t.Errorf("record kept = %v, want %v", kept, tt.kept)
			}
		})
	}
}
