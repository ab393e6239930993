package sessioncodec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// sealedVersion is the version byte of sealed data: after the header come
// a 12-byte random nonce and the AES-GCM sealing of the plain encoding,
// with the two header bytes as additional data.
const sealedVersion = 2

const (
	nonceSize    = 12
	sealOverhead = 2 + nonceSize + 16 // header, nonce, GCM tag
)

// KeySize is the length of a key for [New]: AES-256.
const KeySize = 32

// ErrUnsealed is returned (wrapped) by [Codec.Decode] for sealed data that
// none of the codec's keys opens: it was sealed with a key that has been
// dropped from the list, or altered, or the codec has no keys at all.
var ErrUnsealed = errors.New("sessioncodec: no key opens the sealed session")

// sealer seals with its first AEAD and opens with any of them.
type sealer struct {
	aeads []cipher.AEAD
}

// New returns a Codec that seals everything it writes with AES-256-GCM
// under keys[0], and opens what was sealed under any of keys, so that keys
// can rotate without logging anyone out: put the new key first, keep the
// old one after it until every session has been written again (at most the
// session lifetime), then drop it. Each key is [KeySize] random bytes.
//
// Sessions it finds unsealed (written before keys were set) are still read
// and are marked with [RewriteKey], as are sessions sealed under a key other
// than the first. So that sessions migrate, this codec therefore does not
// stop someone who can write to the store from writing an unsealed session
// of their own making: once every session has been rewritten sealed (at
// most the session lifetime after keys were set), switch to
// [Codec.SealedOnly], which refuses them. Sealing authenticates a sealed
// session's content but does not bind it to its session ID: someone who
// can write to the store could swap two sealed values (and could as well
// delete them); someone who can only read it learns nothing but sizes. Every write draws a random nonce, which
// is safe for far more writes per key than a session store sees between
// rotations (NIST SP 800-38D §8.3 allows 2^32).
//
// With no keys, New returns an error: use the zero Codec for unsealed
// sessions.
func New(keys ...[]byte) (Codec, error) {
	if len(keys) == 0 {
		return Codec{}, errors.New("sessioncodec: New needs at least one key")
	}
	s := &sealer{aeads: make([]cipher.AEAD, len(keys))}
	for i, k := range keys {
		if len(k) != KeySize {
			return Codec{}, fmt.Errorf("sessioncodec: key %d is %d bytes, want %d", i, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return Codec{}, fmt.Errorf("sessioncodec: key %d: %w", i, err)
		}
		if s.aeads[i], err = cipher.NewGCM(block); err != nil {
			return Codec{}, fmt.Errorf("sessioncodec: key %d: %w", i, err)
		}
	}
	return Codec{seal: s}, nil
}

// SealedOnly returns a copy of c that refuses, with [ErrUnsealed], every
// session not sealed under one of its keys: plain ones and those written by
// [scs.GobCodec]. A store writer without a key can then forge nothing. Use
// it once the sessions written before keys were set have expired or been
// rewritten (see [New]). On a codec without keys it refuses everything.
func (c Codec) SealedOnly() Codec {
	c.sealedOnly = true
	return c
}

// Sealed reports whether c seals what it writes.
func (c Codec) Sealed() bool { return c.seal != nil }

// header appends the sealed header and a fresh nonce to b.
func (s *sealer) header(b []byte) []byte {
	b = append(b, codecMagic, sealedVersion)
	var nonce [nonceSize]byte
	_, _ = rand.Read(nonce[:]) // never fails (crypto/rand's contract since Go 1.24)
	return append(b, nonce[:]...)
}

// seal encrypts b[start:] in place (GCM allows it) and appends the tag;
// b[:start] is the header written by header.
func (s *sealer) seal(b []byte, start int) []byte {
	nonce := b[2:start]
	plain := b[start:]
	return s.aeads[0].Seal(b[:start], nonce, plain, b[:2])
}

// open returns the plain encoding inside sealed data b, in a buffer of its
// own, and whether it was sealed under a key other than the first. A nil
// sealer opens nothing.
func (s *sealer) open(b []byte) (plain []byte, rotated bool, err error) {
	if s == nil {
		return nil, false, fmt.Errorf("%w (the codec has no keys)", ErrUnsealed)
	}
	if len(b) < sealOverhead {
		return nil, false, fmt.Errorf("%w: truncated sealed data", errCodecCorrupt)
	}
	nonce, sealed := b[2:2+nonceSize], b[2+nonceSize:]
	for i, aead := range s.aeads {
		plain, err := aead.Open(nil, nonce, sealed, b[:2])
		if err == nil {
			return plain, i > 0, nil
		}
	}
	return nil, false, ErrUnsealed
}
