package sessioncodec

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unsafe"
)

// droppedValue marks a decoded value that is left out of the session.
type droppedValue struct{}

var dropped any = droppedValue{}

// decoder reads one encoding. Its first error sticks: every later read
// returns a zero value, and callers check err before allocating or storing.
type decoder struct {
	b         []byte
	off       int
	err       error
	legacy    bool // read version 1's record types
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

// string returns the next string, pointing into d.b (see the package doc).
func (d *decoder) string() string {
	start, end := d.span()
	if start == end {
		return ""
	}
	return unsafe.String(&d.b[start], end-start)
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
	case tagLogin1:
		// Version 1's login: provider, access, token type, refresh and
		// ID token, expiry, obtained, scopes.
		d.legacy = true
		return []any{d.string(), d.string(), d.string(), d.string(), d.string(), d.time(), d.time(), d.strings()}
	case tagPendings1:
		d.legacy = true
		n := d.nilCount(minPending1)
		for i := 0; i < n && d.err == nil; i++ {
			for range 5 {
				d.string()
			}
			d.time()
		}
		return dropped
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
