// Package tokenpack keeps a token in fewer bytes than its text when that
// text is base64url: a refresh token of random bytes, or a JWT (RFC 7519)
// in the compact serialization of a JWS (RFC 7515 §7.1), whose three
// segments are base64url. Packing decodes the base64url, a quarter of the
// text; unpacking encodes it again and gives back exactly the token that
// was packed.
//
// A token is packed only when that round trip is exact: each segment
// unpadded base64url (RFC 7515 §2) with no stray bits or characters that
// decoding would forget. Any other token is kept as it is, so packing
// never changes a token.
//
// A packed token is one string: a form byte, then the token in that form.
// The empty token packs to the empty string.
package tokenpack

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
)

// The forms of a packed token.
const (
	// Raw: the token itself follows.
	Raw byte = 0
	// Base64: the bytes of a token that is one base64url segment follow.
	Base64 byte = 1
	// JWT: the bytes of a three-segment token's header and payload follow,
	// each as a uvarint length and the bytes, then the bytes of its
	// signature up to the end.
	JWT byte = 2
)

// ErrCorrupt is returned by [Check] for a packed token that [Pack] cannot
// have written.
var ErrCorrupt = errors.New("tokenpack: corrupt")

var enc = base64.RawURLEncoding

// Pack returns token packed: in form JWT or Base64 when token is one of
// those exactly, in form Raw otherwise.
func Pack(token string) string {
	if token == "" {
		return ""
	}
	switch segs := strings.Split(token, "."); len(segs) {
	case 1:
		if b, ok := decodeExactly(token); ok {
			return string(append([]byte{Base64}, b...))
		}
	case 3:
		header, ok1 := decodeExactly(segs[0])
		payload, ok2 := decodeExactly(segs[1])
		sig, ok3 := decodeExactly(segs[2])
		if ok1 && ok2 && ok3 {
			b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(header)+len(payload)+len(sig))
			b = append(b, JWT)
			b = append(binary.AppendUvarint(b, uint64(len(header))), header...)
			b = append(binary.AppendUvarint(b, uint64(len(payload))), payload...)
			return string(append(b, sig...))
		}
	}
	return string(append([]byte{Raw}, token...))
}

// decodeExactly returns the bytes of seg if seg is exactly their unpadded
// base64url encoding (decoding alone would also take padding-free text
// with stray bits in its last character, or line breaks).
func decodeExactly(seg string) ([]byte, bool) {
	b, err := enc.DecodeString(seg)
	if err != nil || enc.EncodeToString(b) != seg {
		return nil, false
	}
	return b, true
}

// Check returns an error unless packed is well formed: empty, or a known
// form whose lengths fit. It does not allocate.
func Check(packed string) error {
	if packed == "" {
		return nil
	}
	switch packed[0] {
	case Raw, Base64:
		return nil
	case JWT:
		if _, _, _, ok := jwtParts(packed); ok {
			return nil
		}
		return ErrCorrupt
	}
	return ErrCorrupt
}

// IsRaw reports whether packed holds its token as it is (or is empty):
// the token is then packed[1:], with no need to unpack it.
func IsRaw(packed string) bool { return packed == "" || packed[0] == Raw }

// Unpack returns the token that packed was made from. packed must have
// passed [Check]; an empty string is returned for one that would not.
func Unpack(packed string) string {
	if packed == "" {
		return ""
	}
	switch packed[0] {
	case Raw:
		return packed[1:]
	case Base64:
		return enc.EncodeToString([]byte(packed[1:]))
	case JWT:
		header, payload, sig, ok := jwtParts(packed)
		if !ok {
			return ""
		}
		b := make([]byte, 0, enc.EncodedLen(len(header))+enc.EncodedLen(len(payload))+enc.EncodedLen(len(sig))+2)
		b = append(enc.AppendEncode(b, []byte(header)), '.')
		b = append(enc.AppendEncode(b, []byte(payload)), '.')
		return string(enc.AppendEncode(b, []byte(sig)))
	}
	return ""
}

// Payload returns the decoded payload of a token packed in form JWT (the
// JSON of a JWT's claims), without allocating.
func Payload(packed string) (string, bool) {
	if packed == "" || packed[0] != JWT {
		return "", false
	}
	_, payload, _, ok := jwtParts(packed)
	return payload, ok
}

// jwtParts splits a token packed in form JWT into its decoded segments.
func jwtParts(packed string) (header, payload, sig string, ok bool) {
	rest := packed[1:]
	if header, rest, ok = cut(rest); !ok {
		return "", "", "", false
	}
	if payload, rest, ok = cut(rest); !ok {
		return "", "", "", false
	}
	return header, payload, rest, true
}

// cut splits a uvarint-length-prefixed string off s.
func cut(s string) (head, rest string, ok bool) {
	var n uint64
	var shift uint
	for i := 0; ; i++ {
		if i >= len(s) || i == binary.MaxVarintLen64 {
			return "", "", false
		}
		c := s[i]
		if i == binary.MaxVarintLen64-1 && c > 1 {
			return "", "", false
		}
		n |= uint64(c&0x7f) << shift
		shift += 7
		if c < 0x80 {
			s = s[i+1:]
			break
		}
	}
	if n > uint64(len(s)) {
		return "", "", false
	}
	return s[:n], s[n:], true
}
