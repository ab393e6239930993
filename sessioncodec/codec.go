// Package sessioncodec is an [scs.Codec] that encodes session data several
// times faster, and with far fewer allocations, than [scs.GobCodec], and
// that can seal what it writes (AES-GCM) so a copy of the store reveals
// nothing. It knows nothing of the values it carries:
//
//	sm := scs.New()
//	sm.Codec = sessioncodec.Codec{}            // or, sealed:
//	sm.Codec, err = sessioncodec.New(keys...)  // see [New]
//
// Values of these types are written natively: nil, string, []byte, bool,
// int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64,
// float32, float64, [time.Time], []string and map[string]string. Only those
// exact types are native: any other value, including one of a named type
// such as userID in
//
//	type userID string
//
// is gob-encoded on its own and comes back with its own type, so types
// registered with [gob.Register] keep working, at gob's speed. A value gob
// cannot encode (one of an unregistered type, say) makes Encode fail, as it
// does with [scs.GobCodec]. A library that keeps a record of its own in the
// session (as github.com/shopsso/sso keeps a login) does best to encode it
// into a string itself.
//
// Times keep their instant. A UTC time stays in [time.UTC], a time whose offset
// matches the local zone at that instant comes back in [time.Local], and any
// other comes back in a [time.FixedZone] with the same offset but no zone name,
// as with [time.Time.MarshalBinary]. Monotonic clock readings are dropped.
//
// Nil and empty slices and maps of the native types stay apart. Decoded
// strings point into the data given to Decode rather than being copied, so
// a [scs.Store] must not modify the bytes its Find returned (none of scs's
// stores do); decoded byte slices are copies of their own.
//
// The format starts with a magic byte and a version byte. Data without that
// header is decoded with [scs.GobCodec], so an application can switch to this
// codec without logging anyone out: sessions written by GobCodec stay
// readable (as long as the application still registers its types with gob)
// and are rewritten in the new format (see [RewriteKey]). The reverse does
// not hold: switching back to GobCodec makes sessions written by this codec
// unreadable, so clear the session store if you do. Data written by a later
// version of the format is refused with [ErrVersion]; in a rolling deploy,
// let every instance read a new version before any instance writes it.
//
// Version 1 of the format, as written by github.com/shopsso/sso's Codec
// before this package existed, also had two record types of that library
// (its login and its pending logins). They are still read: a login comes back
// as a []any of its fields (five strings, two times and a []string, in the
// order they were written) for that library to convert; pending logins,
// which live for minutes, are dropped.
//
// Truncated or corrupt data makes Decode return an error; it never panics.
// Gob data (a value on the gob path, or a session written by GobCodec) is
// checked only as far as encoding/gob checks it, which trusts the sizes it
// reads (golang/go#79539).
package sessioncodec

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Codec is the [scs.Codec] of this package. The zero value writes sessions
// unsealed; [New] returns one that seals them.
type Codec struct {
	seal       *sealer // nil: unsealed
	sealedOnly bool    // refuse data not sealed (see SealedOnly)
}

var _ scs.Codec = Codec{}

// ErrVersion is returned (wrapped) by [Codec.Decode] for data written in a
// format version this build does not know, typically by a newer release.
var ErrVersion = errors.New("sessioncodec: unsupported format version")

// errCodecCorrupt is wrapped by every error about malformed data.
var errCodecCorrupt = errors.New("sessioncodec: corrupt data")

// RewriteKey is a key that [Codec.Decode] adds, with the value true, to a
// session that is not stored the way this codec would store it now: written
// by [scs.GobCodec] or by version 1's record types, unsealed while keys are
// set, or sealed with a key other than the first. Encode never writes it.
// scs saves a session only when it has been modified, so removing this key
// (sm.Remove) is what gets such a session rewritten at the end of the
// request; github.com/shopsso/sso's middleware does that on every request.
const RewriteKey = "sessioncodec.rewrite"

const (
	// codecMagic starts every encoding. A gob stream starts with a message
	// length, whose first byte is in 0x00-0x7f or 0xf8-0xff, so the magic
	// byte tells the two formats apart.
	codecMagic = 0xc5
	// codecVersion is the plain format: the deadline, then the entries.
	codecVersion = 1
)

// Type tags. They are part of the stored format: never renumber or reuse one.
const (
	tagNil       = 1
	tagFalse     = 2
	tagTrue      = 3
	tagString    = 4
	tagBytes     = 5 // uvarint(len+1), 0 for nil, then the bytes
	tagInt       = 6 // varint
	tagInt8      = 7
	tagInt16     = 8
	tagInt32     = 9
	tagInt64     = 10
	tagUint      = 11 // uvarint
	tagUint8     = 12
	tagUint16    = 13
	tagUint32    = 14
	tagUint64    = 15
	tagFloat32   = 16 // IEEE 754 bits, little endian
	tagFloat64   = 17
	tagTime      = 18 // see appendTime
	tagStrings   = 19 // uvarint(len+1), 0 for nil, then the strings
	tagStringMap = 20 // uvarint(len+1), 0 for nil, then key and value pairs
	tagLogin1    = 21 // read only: shopsso's login of version 1 (see the package doc)
	tagPendings1 = 22 // read only: shopsso's pending logins of version 1
	tagGob       = 23 // uvarint(len), then gob of gobValue
)

// Minimum encoded sizes, used to cap declared lengths against the input left
// before anything is allocated.
const (
	minString   = 1                     // length
	minTime     = 2                     // seconds, nanoseconds and UTC flag
	minEntry    = minString + 1         // key and tag
	minPending1 = 5*minString + minTime // five strings and a time
)

// gobValue wraps a value on the gob path. Encoding it as an interface field
// makes gob record the concrete type's registered name, so the value comes
// back with its own type.
type gobValue struct {
	V any
}

// Encode implements [scs.Codec].
func (c Codec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	n := len(values)
	if _, ok := values[RewriteKey]; ok {
		n--
	}
	var scratch [maxTimeLen]byte
	size := 2 + len(appendTime(scratch[:0], deadline)) + uvarintLen(uint64(n))
	for k, v := range values {
		if k != RewriteKey {
			size += stringSize(k) + valueSize(v)
		}
	}
	if c.seal != nil {
		size += sealOverhead
	}
	b := make([]byte, 0, size)
	if c.seal != nil {
		b = c.seal.header(b)
	}
	start := len(b)
	b = append(b, codecMagic, codecVersion)
	b = appendTime(b, deadline)
	b = binary.AppendUvarint(b, uint64(n))
	for k, v := range values {
		if k == RewriteKey {
			continue
		}
		b = appendString(b, k)
		var err error
		if b, err = appendValue(b, v); err != nil {
			return nil, fmt.Errorf("sessioncodec: encode %q (%T): %w", k, v, err)
		}
	}
	if c.seal != nil {
		b = c.seal.seal(b, start)
	}
	if cap(b)-len(b) > 64 { // numbers or the gob path: don't keep the slack
		b = bytes.Clone(b)
	}
	return b, nil
}

// Decode implements [scs.Codec]. Data that starts with neither this format's
// magic byte nor a sealed header is handed to [scs.GobCodec].
func (c Codec) Decode(b []byte) (time.Time, map[string]any, error) {
	if c.sealedOnly && (len(b) < 2 || b[0] != codecMagic || b[1] != sealedVersion) {
		return time.Time{}, nil, fmt.Errorf("%w: the session is not sealed", ErrUnsealed)
	}
	if len(b) == 0 || b[0] != codecMagic {
		deadline, values, err := scs.GobCodec{}.Decode(b)
		if err != nil {
			return time.Time{}, nil, fmt.Errorf("sessioncodec: decode gob session: %w", err)
		}
		if values == nil {
			// gob leaves an empty map out; scs needs one to Put into.
			values = make(map[string]any)
		}
		values[RewriteKey] = true
		return deadline, values, nil
	}
	rewrite := false
	if len(b) >= 2 && b[1] == sealedVersion {
		var err error
		if b, rewrite, err = c.seal.open(b); err != nil {
			return time.Time{}, nil, err
		}
	} else if c.seal != nil {
		rewrite = true // unsealed, from before keys were set
	}
	deadline, values, legacy, err := decodeSession(b, decodeGob)
	if err != nil {
		return time.Time{}, nil, err
	}
	if rewrite || legacy {
		values[RewriteKey] = true
	}
	return deadline, values, nil
}

// decodeGob decodes the payload of a value on the gob path.
//
// encoding/gob trusts the sizes it reads: corrupt data can make it allocate
// far more memory than its length (golang/go#79539, maps), so the fuzz test
// swaps this function out.
func decodeGob(p []byte) (any, error) {
	r := bytes.NewReader(p)
	var gv gobValue
	if err := gob.NewDecoder(r).Decode(&gv); err != nil {
		return nil, err
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%d trailing bytes after the value", r.Len())
	}
	return gv.V, nil
}

// decodeSession decodes plain data (starting with the magic byte), handing
// the payloads of values on the gob path to decodeGob. legacy reports that
// it held version 1's record types.
func decodeSession(b []byte, decodeGob func([]byte) (any, error)) (deadline time.Time, values map[string]any, legacy bool, err error) {
	if len(b) < 2 {
		return time.Time{}, nil, false, fmt.Errorf("%w: truncated header", errCodecCorrupt)
	}
	if b[1] != codecVersion {
		return time.Time{}, nil, false, fmt.Errorf("%w %d (this build reads versions %d and %d)", ErrVersion, b[1], codecVersion, sealedVersion)
	}
	d := decoder{b: b, off: 2, decodeGob: decodeGob}
	deadline = d.time()
	n := d.count(minEntry)
	values = make(map[string]any, min(n, 64)+1) // +1: room for RewriteKey
	for i := 0; i < n && d.err == nil; i++ {
		k := d.string()
		v := d.value()
		if d.err != nil {
			break
		}
		if _, dup := values[k]; dup {
			d.fail("duplicate key")
			break
		}
		if v == dropped {
			continue
		}
		values[k] = v
	}
	if d.err == nil && d.off != len(b) {
		d.fail(fmt.Sprintf("%d trailing bytes", len(b)-d.off))
	}
	if d.err != nil {
		return time.Time{}, nil, false, d.err
	}
	return deadline, values, d.legacy, nil
}
