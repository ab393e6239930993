package sso

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Codec is an [scs.Codec] that encodes session data several times faster, and
// with far fewer allocations, than [scs.GobCodec], which builds gob's type
// information afresh on every request. It is opt-in:
//
//	sm := scs.New()
//	sm.Codec = sso.Codec{}
//
// Values of these types are written natively: nil, string, []byte, bool, int,
// int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32,
// float64, [time.Time], []string, map[string]string, and the values this
// package keeps in the session. Only those exact types are native: any other
// value, including one of a named type such as userID in
//
//	type userID string
//
// is gob-encoded on its own and comes back with its own type, so types
// registered with [gob.Register] keep working, at gob's speed. A value gob
// cannot encode (one of an unregistered type, say) makes Encode fail, as it
// does with [scs.GobCodec].
//
// Times keep their instant. A UTC time stays in [time.UTC], a time whose offset
// matches the local zone at that instant comes back in [time.Local], and any
// other comes back in a [time.FixedZone] with the same offset but no zone name,
// as with [time.Time.MarshalBinary]. Monotonic clock readings are dropped.
//
// Nil and empty slices and maps of the native types stay apart. Decoded
// strings share one copy of the stored data, which stays in memory while any
// of them is referenced; decoded byte slices are copies of their own.
//
// The format starts with a magic byte and a version byte. Data without that
// header is decoded with [scs.GobCodec], so an application can switch to Codec
// without logging anyone out: sessions written by GobCodec stay readable (as
// long as the application still registers its types with gob) and are
// rewritten in the new format the next time they are modified. The reverse
// does not hold: switching back to GobCodec makes sessions written by Codec
// unreadable, so clear the session store if you do. Data written by a later
// version of the format is refused with [ErrCodecVersion]; in a rolling deploy,
// let every instance read a new version before any instance writes it.
//
// Truncated or corrupt data makes Decode return an error; it never panics.
// Gob data (a value on the gob path, or a session written by GobCodec) is
// checked only as far as encoding/gob checks it, which trusts the sizes it
// reads (golang/go#79539).
type Codec struct{}

var _ scs.Codec = Codec{}

// ErrCodecVersion is returned (wrapped) by [Codec.Decode] for data written in
// a format version this build does not know, typically by a newer release.
var ErrCodecVersion = errors.New("sso: codec: unsupported format version")

// errCodecCorrupt is wrapped by every error about malformed data.
var errCodecCorrupt = errors.New("sso: codec: corrupt data")

const (
	// codecMagic starts every encoding. A gob stream starts with a message
	// length, whose first byte is in 0x00-0x7f or 0xf8-0xff, so the magic
	// byte tells the two formats apart.
	codecMagic   = 0xc5
	codecVersion = 1
)

// Type tags. They are part of the stored format: never renumber or reuse one.
// When login or pending gains a field, add a new tag for the new layout and
// keep decoding the old one, so stored sessions stay readable.
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
	tagLogin     = 21 // the fields of login, in declaration order
	tagPendings  = 22 // uvarint(len+1), 0 for nil, then each pending's fields
	tagGob       = 23 // uvarint(len), then gob of gobValue
)

// Minimum encoded sizes, used to cap declared lengths against the input left
// before anything is allocated.
const (
	minString  = 1                     // length
	minTime    = 2                     // seconds, nanoseconds and UTC flag
	minEntry   = minString + 1         // key and tag
	minPending = 5*minString + minTime // five strings and Created
)

// gobValue wraps a value on the gob path. Encoding it as an interface field
// makes gob record the concrete type's registered name, so the value comes
// back with its own type.
type gobValue struct {
	V any
}

// Encode implements [scs.Codec].
func (Codec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	size := 2 + maxTimeLen + binary.MaxVarintLen64
	for k, v := range values {
		size += binary.MaxVarintLen64 + len(k) + 1 + valueSize(v)
	}
	b := make([]byte, 0, size)
	b = append(b, codecMagic, codecVersion)
	b = appendTime(b, deadline)
	b = binary.AppendUvarint(b, uint64(len(values)))
	for k, v := range values {
		b = appendString(b, k)
		var err error
		if b, err = appendValue(b, v); err != nil {
			return nil, fmt.Errorf("sso: codec: encode %q (%T): %w", k, v, err)
		}
	}
	return b, nil
}

// Decode implements [scs.Codec]. Data that does not start with the magic
// byte is handed to [scs.GobCodec].
func (Codec) Decode(b []byte) (time.Time, map[string]any, error) {
	if len(b) == 0 || b[0] != codecMagic {
		deadline, values, err := scs.GobCodec{}.Decode(b)
		if err != nil {
			return time.Time{}, nil, fmt.Errorf("sso: codec: decode gob session: %w", err)
		}
		if values == nil {
			// gob leaves an empty map out; scs needs one to Put into.
			values = make(map[string]any)
		}
		return deadline, values, nil
	}
	return decodeSession(b, decodeGob)
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

// decodeSession decodes data that starts with the magic byte, handing the
// payloads of values on the gob path to decodeGob.
func decodeSession(b []byte, decodeGob func([]byte) (any, error)) (time.Time, map[string]any, error) {
	if len(b) < 2 {
		return time.Time{}, nil, fmt.Errorf("%w: truncated header", errCodecCorrupt)
	}
	if b[1] != codecVersion {
		return time.Time{}, nil, fmt.Errorf("%w %d (this build reads version %d)", ErrCodecVersion, b[1], codecVersion)
	}
	d := decoder{b: b, s: string(b), off: 2, decodeGob: decodeGob}
	deadline := d.time()
	n := d.count(minEntry)
	values := make(map[string]any, min(n, 64))
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
		values[k] = v
	}
	if d.err == nil && d.off != len(b) {
		d.fail(fmt.Sprintf("%d trailing bytes", len(b)-d.off))
	}
	if d.err != nil {
		return time.Time{}, nil, d.err
	}
	return deadline, values, nil
}
