package sso

import (
	"context"
	"fmt"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/shopsso/sso/internal/record"
)

// The login is kept in the session as one string, its record, which this
// file alone writes and reads, so the session codec needs to know nothing
// of it. A record starts with its version; a new field means a new version,
// and every version ever written stays readable.
const (
	// loginV1: provider, access token, token type, refresh token, ID
	// token, expiry, obtained, scopes.
	loginV1 = 1
)

// record encodes l as the value kept under loginKey.
func (l *login) record() string {
	w := record.NewWriter(loginV1, 64+len(l.Provider)+len(l.AccessToken)+len(l.TokenType)+
		len(l.RefreshToken)+len(l.IDToken)+scopesLen(l.Scopes))
	w.String(l.Provider)
	w.String(l.AccessToken)
	w.String(l.TokenType)
	w.String(l.RefreshToken)
	w.String(l.IDToken)
	w.Time(l.Expiry)
	w.Time(l.Obtained)
	w.Strings(l.Scopes)
	return w.Done()
}

func scopesLen(ss []string) int {
	n := 0
	for _, s := range ss {
		n += 2 + len(s)
	}
	return n
}

// parseLogin decodes a record written by [login.record]. The login's
// strings are substrings of s.
func parseLogin(s string) (login, error) {
	r, version := record.NewReader(s)
	if version != loginV1 {
		return login{}, fmt.Errorf("sso: login record of unknown version %d", version)
	}
	l := login{
		Provider:     r.Text(),
		AccessToken:  r.Text(),
		TokenType:    r.Text(),
		RefreshToken: r.Text(),
		IDToken:      r.Text(),
		Expiry:       r.Time(),
		Obtained:     r.Time(),
		Scopes:       r.Strings(),
	}
	if err := r.Done(); err != nil {
		return login{}, fmt.Errorf("sso: login record: %w", err)
	}
	return l, nil
}

// legacyLogin converts a login stored before logins had records: the login
// struct itself (scs.GobCodec) or its fields as sessioncodec reads version
// 1 of its format.
func legacyLogin(v any) (login, bool) {
	switch v := v.(type) {
	case login:
		return v, true
	case []any:
		if len(v) != 8 {
			return login{}, false
		}
		var l login
		var ok [8]bool
		l.Provider, ok[0] = v[0].(string)
		l.AccessToken, ok[1] = v[1].(string)
		l.TokenType, ok[2] = v[2].(string)
		l.RefreshToken, ok[3] = v[3].(string)
		l.IDToken, ok[4] = v[4].(string)
		l.Expiry, ok[5] = v[5].(time.Time)
		l.Obtained, ok[6] = v[6].(time.Time)
		l.Scopes, ok[7] = v[7].([]string)
		return l, ok == [8]bool{true, true, true, true, true, true, true, true}
	}
	return login{}, false
}

// loadLogin returns the login kept in the session of ctx, if any. A login
// stored in an older form is rewritten as a record; one that cannot be read
// is removed.
func loadLogin(ctx context.Context, sm *scs.SessionManager) (login, bool) {
	switch v := sm.Get(ctx, loginKey).(type) {
	case nil:
		return login{}, false
	case string:
		l, err := parseLogin(v)
		if err != nil {
			sm.Remove(ctx, loginKey)
			return login{}, false
		}
		return l, true
	default:
		l, ok := legacyLogin(v)
		if !ok {
			sm.Remove(ctx, loginKey)
			return login{}, false
		}
		sm.Put(ctx, loginKey, l.record())
		return l, true
	}
}

// storeLogin keeps l in the session of ctx.
func storeLogin(ctx context.Context, sm *scs.SessionManager, l *login) {
	sm.Put(ctx, loginKey, l.record())
}
