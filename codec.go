package sso

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
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

// maxTimeLen is the most bytes appendTime writes.
const maxTimeLen = 3 * binary.MaxVarintLen64

// valueSize returns how many bytes appendValue will most likely write for v:
// exact enough to encode into one allocation, except on the gob path.
func valueSize(v any) int {
	const n = binary.MaxVarintLen64
	switch v := v.(type) {
	case string:
		return n + len(v)
	case []byte:
		return n + len(v)
	case time.Time:
		return maxTimeLen
	case []string:
		return n + stringsSize(v)
	case map[string]string:
		size := n
		for k, s := range v {
			size += 2*n + len(k) + len(s)
		}
		return size
	case login:
		return 5*n + len(v.Provider) + len(v.AccessToken) + len(v.TokenType) +
			len(v.RefreshToken) + len(v.IDToken) + 2*maxTimeLen + n + stringsSize(v.Scopes)
	case []pending:
		size := n
		for _, p := range v {
			size += 5*n + len(p.Provider) + len(p.State) + len(p.Verifier) +
				len(p.Nonce) + len(p.ReturnTo) + maxTimeLen
		}
		return size
	default:
		return n // numbers; the gob path grows the buffer
	}
}

func stringsSize(ss []string) int {
	size := len(ss) * binary.MaxVarintLen64
	for _, s := range ss {
		size += len(s)
	}
	return size
}

// appendValue appends v's type tag and encoding to b.
func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, tagNil), nil
	case bool:
		if v {
			return append(b, tagTrue), nil
		}
		return append(b, tagFalse), nil
	case string:
		return appendString(append(b, tagString), v), nil
	case []byte:
		b = appendLen(append(b, tagBytes), len(v), v == nil)
		return append(b, v...), nil
	case int:
		return binary.AppendVarint(append(b, tagInt), int64(v)), nil
	case int8:
		return binary.AppendVarint(append(b, tagInt8), int64(v)), nil
	case int16:
		return binary.AppendVarint(append(b, tagInt16), int64(v)), nil
	case int32:
		return binary.AppendVarint(append(b, tagInt32), int64(v)), nil
	case int64:
		return binary.AppendVarint(append(b, tagInt64), v), nil
	case uint:
		return binary.AppendUvarint(append(b, tagUint), uint64(v)), nil
	case uint8:
		return binary.AppendUvarint(append(b, tagUint8), uint64(v)), nil
	case uint16:
		return binary.AppendUvarint(append(b, tagUint16), uint64(v)), nil
	case uint32:
		return binary.AppendUvarint(append(b, tagUint32), uint64(v)), nil
	case uint64:
		return binary.AppendUvarint(append(b, tagUint64), v), nil
	case float32:
		return binary.LittleEndian.AppendUint32(append(b, tagFloat32), math.Float32bits(v)), nil
	case float64:
		return binary.LittleEndian.AppendUint64(append(b, tagFloat64), math.Float64bits(v)), nil
	case time.Time:
		return appendTime(append(b, tagTime), v), nil
	case []string:
		return appendStrings(append(b, tagStrings), v), nil
	case map[string]string:
		b = appendLen(append(b, tagStringMap), len(v), v == nil)
		for k, s := range v {
			b = appendString(appendString(b, k), s)
		}
		return b, nil
	case login:
		b = append(b, tagLogin)
		b = appendString(b, v.Provider)
		b = appendString(b, v.AccessToken)
		b = appendString(b, v.TokenType)
		b = appendString(b, v.RefreshToken)
		b = appendString(b, v.IDToken)
		b = appendTime(b, v.Expiry)
		b = appendTime(b, v.Obtained)
		return appendStrings(b, v.Scopes), nil
	case []pending:
		b = appendLen(append(b, tagPendings), len(v), v == nil)
		for _, p := range v {
			b = appendString(b, p.Provider)
			b = appendString(b, p.State)
			b = appendString(b, p.Verifier)
			b = appendString(b, p.Nonce)
			b = appendString(b, p.ReturnTo)
			b = appendTime(b, p.Created)
		}
		return b, nil
	default:
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(gobValue{V: v}); err != nil {
			return nil, err
		}
		b = binary.AppendUvarint(append(b, tagGob), uint64(buf.Len()))
		return append(b, buf.Bytes()...), nil
	}
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// appendLen appends the length of a slice or map, keeping nil apart from
// empty.
func appendLen(b []byte, n int, isNil bool) []byte {
	if isNil {
		return append(b, 0)
	}
	return binary.AppendUvarint(b, uint64(n)+1)
}

func appendStrings(b []byte, ss []string) []byte {
	b = appendLen(b, len(ss), ss == nil)
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// appendTime appends t as varint Unix seconds, then uvarint nanoseconds<<1
// with the low bit set for UTC, then, unless UTC, the zone offset in seconds
// as a varint.
func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	ns := uint64(t.Nanosecond()) << 1
	if t.Location() == time.UTC {
		return binary.AppendUvarint(b, ns|1)
	}
	_, offset := t.Zone()
	b = binary.AppendUvarint(b, ns)
	return binary.AppendVarint(b, int64(offset))
}

// decoder reads one encoding. Its first error sticks: every later read
// returns a zero value, and callers check err before allocating or storing.
type decoder struct {
	b         []byte
	s         string // string(b), so decoded strings share one copy
	off       int
	err       error
	decodeGob func([]byte) (any, error)
}

func (d *decoder) fail(reason string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", errCodecCorrupt, reason, d.off)
	}
}

func (d *decoder) readByte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("truncated")
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		if n == 0 {
			d.fail("truncated")
		} else {
			d.fail("varint overflows 64 bits")
		}
		return 0
	}
	d.off += n
	return x
}

func (d *decoder) varint() int64 {
	// binary.AppendVarint's zig-zag encoding, read through uvarint.
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// intRange reads a varint and checks that it lies in [lo, hi].
func (d *decoder) intRange(lo, hi int64) int64 {
	x := d.varint()
	if x < lo || x > hi {
		d.fail("integer out of range")
		return 0
	}
	return x
}

// uintMax reads a uvarint and checks that it is at most hi.
func (d *decoder) uintMax(hi uint64) uint64 {
	x := d.uvarint()
	if x > hi {
		d.fail("integer out of range")
		return 0
	}
	return x
}

// fixed returns the next n bytes.
func (d *decoder) fixed(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b)-d.off < n {
		d.fail("truncated")
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

// span reads a length and returns the offsets of that many following bytes.
func (d *decoder) span() (start, end int) {
	n := d.uvarint()
	if d.err != nil {
		return 0, 0
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail("length exceeds input")
		return 0, 0
	}
	start = d.off
	d.off += int(n)
	return start, d.off
}

func (d *decoder) string() string {
	start, end := d.span()
	return d.s[start:end]
}

// count reads the number of items that follow, each at least minSize bytes
// long, and checks it against the input left.
func (d *decoder) count(minSize int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64((len(d.b)-d.off)/minSize) {
		d.fail("count exceeds input")
		return 0
	}
	return int(n)
}

// nilCount reads a length written by appendLen: it reports -1 for nil.
func (d *decoder) nilCount(minSize int) int {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return -1
	}
	n--
	if n > uint64((len(d.b)-d.off)/minSize) {
		d.fail("count exceeds input")
		return -1
	}
	return int(n)
}

func (d *decoder) time() time.Time {
	sec := d.varint()
	ns := d.uvarint()
	if d.err != nil {
		return time.Time{}
	}
	nsec, utc := ns>>1, ns&1 == 1
	if nsec >= 1e9 {
		d.fail("nanoseconds out of range")
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec))
	if utc {
		return t.UTC()
	}
	offset := d.intRange(math.MinInt32, math.MaxInt32)
	if d.err != nil {
		return time.Time{}
	}
	t = t.In(time.Local)
	if _, local := t.Zone(); local != int(offset) {
		t = t.In(time.FixedZone("", int(offset)))
	}
	return t
}

func (d *decoder) strings() []string {
	n := d.nilCount(minString)
	if n < 0 || d.err != nil {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.string()
	}
	return ss
}

// value reads a type tag and the value after it.
func (d *decoder) value() any {
	tag := d.readByte()
	if d.err != nil {
		return nil
	}
	switch tag {
	case tagNil:
		return nil
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagString:
		return d.string()
	case tagBytes:
		n := d.nilCount(1)
		if n < 0 || d.err != nil {
			return []byte(nil)
		}
		p := make([]byte, n)
		copy(p, d.fixed(n))
		return p
	case tagInt:
		return int(d.intRange(math.MinInt, math.MaxInt))
	case tagInt8:
		return int8(d.intRange(math.MinInt8, math.MaxInt8))
	case tagInt16:
		return int16(d.intRange(math.MinInt16, math.MaxInt16))
	case tagInt32:
		return int32(d.intRange(math.MinInt32, math.MaxInt32))
	case tagInt64:
		return d.varint()
	case tagUint:
		return uint(d.uintMax(math.MaxUint))
	case tagUint8:
		return uint8(d.uintMax(math.MaxUint8))
	case tagUint16:
		return uint16(d.uintMax(math.MaxUint16))
	case tagUint32:
		return uint32(d.uintMax(math.MaxUint32))
	case tagUint64:
		return d.uvarint()
	case tagFloat32:
		p := d.fixed(4)
		if d.err != nil {
			return nil
		}
		return math.Float32frombits(binary.LittleEndian.Uint32(p))
	case tagFloat64:
		p := d.fixed(8)
		if d.err != nil {
			return nil
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(p))
	case tagTime:
		return d.time()
	case tagStrings:
		return d.strings()
	case tagStringMap:
		n := d.nilCount(2 * minString)
		if n < 0 || d.err != nil {
			return map[string]string(nil)
		}
		m := make(map[string]string, min(n, 64))
		for i := 0; i < n && d.err == nil; i++ {
			k := d.string()
			m[k] = d.string()
		}
		if len(m) != n && d.err == nil {
			d.fail("duplicate key")
		}
		return m
	case tagLogin:
		return login{
			Provider:     d.string(),
			AccessToken:  d.string(),
			TokenType:    d.string(),
			RefreshToken: d.string(),
			IDToken:      d.string(),
			Expiry:       d.time(),
			Obtained:     d.time(),
			Scopes:       d.strings(),
		}
	case tagPendings:
		n := d.nilCount(minPending)
		if n < 0 || d.err != nil {
			return []pending(nil)
		}
		ps := make([]pending, n)
		for i := range ps {
			ps[i] = pending{
				Provider: d.string(),
				State:    d.string(),
				Verifier: d.string(),
				Nonce:    d.string(),
				ReturnTo: d.string(),
				Created:  d.time(),
			}
		}
		return ps
	case tagGob:
		start, end := d.span()
		if d.err != nil {
			return nil
		}
		v, err := d.decodeGob(d.b[start:end])
		if err != nil {
			d.err = fmt.Errorf("%w: gob value at byte %d: %w", errCodecCorrupt, start, err)
			return nil
		}
		return v
	default:
		d.off--
		d.fail(fmt.Sprintf("unknown type tag %d", tag))
		return nil
	}
}
