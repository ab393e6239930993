package sso

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/shopsso/sso/internal/record"
	"github.com/shopsso/sso/internal/tokenpack"
)

// The login is kept in the session as one string, its record, which this
// file alone writes and reads, so the session codec needs to know nothing
// of it. A record starts with its version; a new field means a new version,
// and every version ever written stays readable.
const (
	// loginV1: provider, access token, token type, refresh token, ID
	// token, expiry, obtained, scopes.
	loginV1 = 1
	// loginV2: loginV1's fields, then the claims of the access token and
	// of the ID token (see writeClaims).
	loginV2 = 2
	// loginV3: loginV2's fields with the small ones first (provider, token
	// type, expiry, obtained, scopes, the two claim sets) and the tokens
	// last (access, refresh, ID), so that reading a login touches a few
	// contiguous bytes, not every part of a 2 KB record: the tokens are
	// substrings nobody reads on most requests.
	loginV3 = 3
	// loginV4: loginV3's fields in fewer bytes (see record). A set of
	// flags comes first (loginBearer); the token type follows the provider
	// only when it is not Bearer; expiry and obtained are whole seconds;
	// the ID token's claims may take the access token's times
	// (claimsAccessTimes); the refresh token and the ID token are packed
	// (internal/tokenpack).
	loginV4 = 4
)

// Flags that start a loginV4 record.
const (
	loginBearer = 1 << 0 // the token type is "Bearer": not written
)

// errLoginVersion is returned (wrapped) by parseLogin for a record of a
// version this build does not know: written by a newer release.
var errLoginVersion = errors.New("sso: login record of unknown version")

// Flags that start a claim set in a record. Bits 3 and 4 hold the
// email_verified claim (a [verified]).
const (
	claimsJWT          = 1 << 0 // the token is a JWT: the fields follow
	claimsLoginScopes  = 1 << 1 // the scopes are the login's: not repeated
	claimsAccessIssuer = 1 << 2 // the issuer is the access token's: not repeated
	claimsVerifiedBit  = 3      // and 4
	claimsAccessSub    = 1 << 5 // the subject is the access token's: not repeated (v3)
	claimsAccessTimes  = 1 << 6 // exp and iat are the access token's: not repeated (v4)
)

// record encodes l as the value kept under loginKey.
//
// Expiry and Obtained are kept to the second, rounded down, which is on the
// safe side. Expiry moves back by less than a second: the login ends, and
// its refresh is due, that much sooner. Obtained serves only to size the
// refresh margin, min(RefreshMargin, (Expiry − Obtained)/2) (see
// needsRefresh), and to end a login that has no expiry (old records only)
// MaxTokenLifetime after it. Rounding both down can shrink the margin by
// at most half of what Expiry moved back, so a refresh is never due later
// than with the exact times; a login without an expiry ends no later.
func (l *login) record() string {
	refresh, id := l.packedRefreshToken(), l.packedIDToken()
	w := record.NewWriter(loginV4, 64+len(l.Provider)+len(l.AccessToken)+len(l.TokenType)+
		len(refresh)+len(id)+2*scopesLen(l.Scopes)+claimsLen(&l.access)+claimsLen(&l.id))
	var flags uint64
	if l.TokenType == "Bearer" {
		flags |= loginBearer
	}
	w.Uint(flags)
	w.String(l.Provider)
	if flags&loginBearer == 0 {
		w.String(l.TokenType)
	}
	w.Seconds(l.Expiry)
	w.Seconds(l.Obtained)
	w.Strings(l.Scopes)
	writeClaims(&w, &l.access, l.Scopes, nil)
	writeClaims(&w, &l.id, l.Scopes, &l.access)
	w.String(l.AccessToken)
	w.String(refresh)
	w.String(id)
	return w.Done()
}

// packedRefreshToken and packedIDToken return the tokens as a record
// keeps them (see internal/tokenpack): packed when their text allows it
// exactly, raw otherwise.
func (l *login) packedRefreshToken() string { return packedToken(l.RefreshToken, l.refreshPacked) }
func (l *login) packedIDToken() string      { return packedToken(l.IDToken, l.idPacked) }

func packedToken(raw, packed string) string {
	if packed != "" {
		return packed // read packed from a record: written back as it was
	}
	return tokenpack.Pack(raw)
}

// setPackedTokens sets the tokens from their packed forms in a record: a
// raw one as its text (a substring), another left packed for
// refreshToken and idToken to unpack when asked.
func (l *login) setPackedTokens(refresh, id string) {
	if tokenpack.IsRaw(refresh) {
		l.RefreshToken = tokenpack.Unpack(refresh)
	} else {
		l.refreshPacked = refresh
	}
	if tokenpack.IsRaw(id) {
		l.IDToken = tokenpack.Unpack(id)
	} else {
		l.idPacked = id
	}
}

func claimsLen(s *claimSet) int {
	return len(s.subject) + len(s.issuer) + len(s.audience) + scopesLen(s.scopes) + len(s.name) + len(s.email)
}

// writeClaims appends s. Scopes equal to the login's, and an issuer or
// subject equal to the access token's (for the ID token), are written as a
// flag only.
func writeClaims(w *record.Writer, s *claimSet, loginScopes []string, access *claimSet) {
	if !s.jwt {
		w.Uint(0)
		return
	}
	flags := uint64(claimsJWT) | uint64(s.emailVerified)<<claimsVerifiedBit
	sameScopes := slices.Equal(s.scopes, loginScopes) && (s.scopes == nil) == (loginScopes == nil)
	if sameScopes {
		flags |= claimsLoginScopes
	}
	sameIssuer := access != nil && access.issuer != "" && s.issuer == access.issuer
	if sameIssuer {
		flags |= claimsAccessIssuer
	}
	sameSubject := access != nil && access.subject != "" && s.subject == access.subject
	if sameSubject {
		flags |= claimsAccessSub
	}
	sameTimes := access != nil && access.jwt && s.expiry == access.expiry && s.issued == access.issued
	if sameTimes {
		flags |= claimsAccessTimes
	}
	w.Uint(flags)
	if !sameSubject {
		w.String(s.subject)
	}
	if !sameIssuer {
		w.String(s.issuer)
	}
	w.String(s.audience)
	if !sameTimes {
		w.Time(fromUnixNano(s.expiry))
		w.Time(fromUnixNano(s.issued))
	}
	if !sameScopes {
		w.Strings(s.scopes)
	}
	w.String(s.name)
	w.String(s.email)
}

// readClaims reads what writeClaims wrote; access is the access token's
// set when s is the ID token's.
func readClaims(r *record.Reader, loginScopes []string, access *claimSet) claimSet {
	flags := r.Uint()
	if flags&claimsJWT == 0 {
		return claimSet{}
	}
	s := claimSet{jwt: true, emailVerified: verified(flags >> claimsVerifiedBit & 3)}
	if flags&claimsAccessSub != 0 && access != nil {
		s.subject = access.subject
	} else {
		s.subject = r.Text()
	}
	if flags&claimsAccessIssuer != 0 && access != nil {
		s.issuer = access.issuer
	} else {
		s.issuer = r.Text()
	}
	s.audience = r.Text()
	if flags&claimsAccessTimes != 0 && access != nil {
		s.expiry, s.issued = access.expiry, access.issued
	} else {
		s.expiry = unixNano(r.Time())
		s.issued = unixNano(r.Time())
	}
	if flags&claimsLoginScopes != 0 {
		s.scopes = loginScopes
	} else {
		s.scopes = r.Strings()
	}
	s.name = r.Text()
	s.email = r.Text()
	return s
}

func scopesLen(ss []string) int {
	n := 0
	for _, s := range ss {
		n += 2 + len(s)
	}
	return n
}

// parseLogin decodes a record written by [login.record], or by an earlier
// version of it (old is then true, and the claims have been decoded from
// the tokens). The login's strings are substrings of s; a packed refresh
// or ID token stays packed until it is asked for. It is decoded into *l
// (zeroed on error), not returned: a login is some 400 bytes, and every
// copy on the request path adds to the stack a request's goroutine grows.
func parseLogin(s string, l *login) (old bool, err error) {
	*l = login{}
	r, version := record.NewReader(s)
	switch version {
	case loginV4:
		flags := r.Uint()
		l.Provider = r.Text()
		if flags&loginBearer != 0 {
			l.TokenType = "Bearer"
		} else {
			l.TokenType = r.Text()
		}
		l.Expiry = r.Seconds()
		l.Obtained = r.Seconds()
		l.Scopes = r.Strings()
		l.access = readClaims(&r, l.Scopes, nil)
		l.id = readClaims(&r, l.Scopes, &l.access)
		l.AccessToken = r.Text()
		refresh, id := r.Text(), r.Text()
		if err := cmp.Or(r.Done(), tokenpack.Check(refresh), tokenpack.Check(id)); err != nil {
			*l = login{}
			return false, fmt.Errorf("sso: login record: %w", err)
		}
		l.setPackedTokens(refresh, id)
		return false, nil
	case loginV3:
		l.Provider = r.Text()
		l.TokenType = r.Text()
		l.Expiry = r.Time()
		l.Obtained = r.Time()
		l.Scopes = r.Strings()
		l.access = readClaims(&r, l.Scopes, nil)
		l.id = readClaims(&r, l.Scopes, &l.access)
		l.AccessToken = r.Text()
		l.RefreshToken = r.Text()
		l.IDToken = r.Text()
		if err := r.Done(); err != nil {
			*l = login{}
			return false, fmt.Errorf("sso: login record: %w", err)
		}
		return true, nil // rewritten as loginV4
	case loginV1, loginV2:
	default:
		return false, fmt.Errorf("%w %d", errLoginVersion, version)
	}
	*l = login{
		Provider:     r.Text(),
		AccessToken:  r.Text(),
		TokenType:    r.Text(),
		RefreshToken: r.Text(),
		IDToken:      r.Text(),
		Expiry:       r.Time(),
		Obtained:     r.Time(),
		Scopes:       r.Strings(),
	}
	if version == loginV2 {
		l.access = readClaims(&r, l.Scopes, nil)
		l.id = readClaims(&r, l.Scopes, &l.access)
	}
	if err := r.Done(); err != nil {
		*l = login{}
		return false, fmt.Errorf("sso: login record: %w", err)
	}
	if version == loginV1 {
		l.decodeClaims()
	}
	return true, nil // rewritten as loginV4
}

// decodeClaims decodes the claims of l's tokens.
func (l *login) decodeClaims() {
	l.access = tokenClaims(l.AccessToken)
	l.id = tokenClaims(l.IDToken)
}

// legacyLogin converts a login stored before logins had records: the login
// struct itself (scs.GobCodec) or its fields as sessioncodec reads version
// 1 of its format. It is decoded into *l.
func legacyLogin(v any, l *login) bool {
	*l = login{}
	switch v := v.(type) {
	case login:
		*l = v
		l.decodeClaims()
		return true
	case []any:
		if len(v) != 8 {
			return false
		}
		var ok [8]bool
		l.Provider, ok[0] = v[0].(string)
		l.AccessToken, ok[1] = v[1].(string)
		l.TokenType, ok[2] = v[2].(string)
		l.RefreshToken, ok[3] = v[3].(string)
		l.IDToken, ok[4] = v[4].(string)
		l.Expiry, ok[5] = v[5].(time.Time)
		l.Obtained, ok[6] = v[6].(time.Time)
		l.Scopes, ok[7] = v[7].([]string)
		l.decodeClaims()
		if ok != [8]bool{true, true, true, true, true, true, true, true} {
			*l = login{}
			return false
		}
		return true
	}
	return false
}

// loadLogin reads the login kept in the session of ctx into *l, and
// reports whether there is one. A login
// stored in an older form is rewritten as a record; one that cannot be read
// is removed.
//
// A record of a version this build does not know is left in the session:
// during a rolling deploy a newer instance may have written it, and the
// customer's next request may reach an instance that reads it. This
// instance treats the request as logged out, and a new login here
// replaces the record.
func loadLogin(ctx context.Context, sm *scs.SessionManager, l *login) bool {
	switch v := sm.Get(ctx, loginKey).(type) {
	case nil:
		*l = login{}
		return false
	case string:
		old, err := parseLogin(v, l)
		if err != nil {
			if !errors.Is(err, errLoginVersion) {
				sm.Remove(ctx, loginKey)
			}
			return false
		}
		if old {
			sm.Put(ctx, loginKey, l.record())
		}
		return true
	default:
		if !legacyLogin(v, l) {
			sm.Remove(ctx, loginKey)
			return false
		}
		sm.Put(ctx, loginKey, l.record())
		return true
	}
}

// newerLogin reports whether the session of ctx holds a login record of a
// version this build does not know, which loadLogin leaves in place.
func newerLogin(ctx context.Context, sm *scs.SessionManager) bool {
	s, ok := sm.Get(ctx, loginKey).(string)
	if !ok {
		return false
	}
	var l login
	_, err := parseLogin(s, &l)
	return errors.Is(err, errLoginVersion)
}

// storeLogin keeps l in the session of ctx.
func storeLogin(ctx context.Context, sm *scs.SessionManager, l *login) {
	sm.Put(ctx, loginKey, l.record())
}
