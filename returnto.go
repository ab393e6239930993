package sso

import (
	"net/url"
	"strings"
)

// maxReturnTo bounds a return target kept in a pending login.
const maxReturnTo = 2048

// safeReturnTo reports whether target may be used as the place to send the
// customer after login. Only relative paths on this site qualify; anything
// else would make the login an open redirect (RFC 6749 §10.15).
//
// Rejected: absolute URLs and anything with a scheme or host; scheme-relative
// "//host" and its browser-equivalent "/\host"; backslashes anywhere
// (browsers read them as slashes); control characters and whitespace, which
// browsers strip ("/\t/host" becomes "//host"); and percent-encoded forms of
// all of these, since a later decode by the application or a proxy could
// turn "/%2F%2Fhost" into "//host".
func safeReturnTo(target string) bool {
	if target == "" || len(target) > maxReturnTo || target[0] != '/' {
		return false
	}
	if !safeRawForm(target) {
		return false
	}
	for s, i := target, 0; i < 3; i++ { // look through up to three layers of encoding
		d, err := url.PathUnescape(s)
		if err != nil {
			return false
		}
		if d == s {
			break
		}
		if !safePrefix(d) {
			return false
		}
		s = d
	}
	u, err := url.Parse(target)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && u.Opaque == ""
}

// safeRawForm checks the target as the browser will receive it.
func safeRawForm(s string) bool {
	if !safePrefix(s) || strings.ContainsRune(s, '\\') {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '\u00a0' || r == '\u2028' || r == '\u2029' || r == '\ufeff' {
			return false
		}
	}
	return true
}

// safePrefix checks that s, once browsers drop tabs and newlines, is a
// path-absolute reference and not "//host" or "/\host".
func safePrefix(s string) bool {
	s = strings.NewReplacer("\t", "", "\r", "", "\n", "").Replace(strings.TrimLeft(s, " \x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f"))
	if len(s) == 0 || s[0] != '/' {
		return false
	}
	return len(s) == 1 || (s[1] != '/' && s[1] != '\\')
}

// returnTarget returns target if it is safe, otherwise "/".
func returnTarget(target string) string {
	if safeReturnTo(target) {
		return target
	}
	return "/"
}
