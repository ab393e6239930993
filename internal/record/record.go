// Package record writes and reads the small versioned strings in which the
// sso package keeps its own session records (a login, the pending logins).
// A session codec then stores each record as one plain string value and
// needs to know nothing of the types inside.
//
// A record starts with a version byte its owner chooses; then come fields
// in the order the owner writes them, each one of: a string (uvarint length
// and bytes), a list of strings (uvarint count+1, 0 for nil), an unsigned or
// signed varint, a time (varint Unix seconds and uvarint nanoseconds,
// read back in UTC), or a time to the second (varint Unix seconds alone). Nothing in the encoding names a field: the owner reads
// its fields back in the order it wrote them for that version.
package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unsafe"
)

// ErrCorrupt is wrapped by every error about a malformed record.
var ErrCorrupt = errors.New("record: corrupt")

// Writer builds one record. The zero value is not usable; start with
// [NewWriter].
type Writer struct {
	b []byte
}

// NewWriter starts a record of the given version with room for size bytes
// (a hint: the writer grows as needed).
func NewWriter(version byte, size int) Writer {
	b := make([]byte, 1, max(size, 1))
	b[0] = version
	return Writer{b: b}
}

// String appends s.
func (w *Writer) String(s string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}

// Bytes appends p as a string.
func (w *Writer) Bytes(p []byte) {
	w.b = binary.AppendUvarint(w.b, uint64(len(p)))
	w.b = append(w.b, p...)
}

// Strings appends ss, keeping nil apart from empty.
func (w *Writer) Strings(ss []string) {
	if ss == nil {
		w.b = append(w.b, 0)
		return
	}
	w.b = binary.AppendUvarint(w.b, uint64(len(ss))+1)
	for _, s := range ss {
		w.String(s)
	}
}

// Uint appends x.
func (w *Writer) Uint(x uint64) { w.b = binary.AppendUvarint(w.b, x) }

// Int appends x.
func (w *Writer) Int(x int64) { w.b = binary.AppendVarint(w.b, x) }

// Time appends t's instant (its zone and monotonic reading are dropped).
// The zero time stays the zero time.
func (w *Writer) Time(t time.Time) {
	w.Int(t.Unix())
	w.Uint(uint64(t.Nanosecond()))
}

// Seconds appends t's instant rounded down to the second: its Unix
// seconds alone, with no byte for the nanoseconds. The zero time stays the
// zero time.
func (w *Writer) Seconds(t time.Time) { w.Int(t.Unix()) }

// Len returns the bytes written so far.
func (w *Writer) Len() int { return len(w.b) }

// Done returns the record. The Writer must not be used afterwards: the
// string shares its memory.
func (w *Writer) Done() string {
	b := w.b
	w.b = nil
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Reader reads one record. Its first error sticks: every later read returns
// a zero value. Strings it returns are substrings of the record, not copies.
type Reader struct {
	s   string
	off int
	err error
}

// NewReader returns a Reader of s and the version byte s starts with. An
// empty s reads as version 0 with an error.
func NewReader(s string) (Reader, byte) {
	r := Reader{s: s, off: 1}
	if s == "" {
		r.off = 0
		r.fail("empty record")
		return r, 0
	}
	return r, s[0]
}

func (r *Reader) fail(reason string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d", ErrCorrupt, reason, r.off)
	}
}

// Uint reads an unsigned varint.
func (r *Reader) Uint() uint64 {
	if r.err != nil {
		return 0
	}
	var x uint64
	var shift uint
	for i := 0; ; i++ {
		if r.off >= len(r.s) {
			r.fail("truncated")
			return 0
		}
		c := r.s[r.off]
		r.off++
		if i == binary.MaxVarintLen64-1 && c > 1 {
			r.fail("varint overflows 64 bits")
			return 0
		}
		if c < 0x80 {
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
}

// Int reads a signed varint.
func (r *Reader) Int() int64 {
	u := r.Uint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// Text reads a string. (It is not named String, which would make Reader
// look like a [fmt.Stringer].)
func (r *Reader) Text() string {
	n := r.Uint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.s)-r.off) {
		r.fail("length exceeds record")
		return ""
	}
	s := r.s[r.off : r.off+int(n)]
	r.off += int(n)
	return s
}

// Strings reads a list of strings; nil when it was written nil.
func (r *Reader) Strings() []string {
	n := r.Uint()
	if r.err != nil || n == 0 {
		return nil
	}
	n--
	if n > uint64(len(r.s)-r.off) { // each string takes at least a byte
		r.fail("count exceeds record")
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = r.Text()
	}
	if r.err != nil {
		return nil
	}
	return ss
}

// Time reads a time, in UTC.
func (r *Reader) Time() time.Time {
	sec := r.Int()
	nsec := r.Uint()
	if r.err != nil {
		return time.Time{}
	}
	if nsec >= 1e9 {
		r.fail("nanoseconds out of range")
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// Seconds reads a time written by [Writer.Seconds], in UTC.
func (r *Reader) Seconds() time.Time {
	sec := r.Int()
	if r.err != nil {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// More reports whether bytes are left: a record may gain trailing fields in
// a later version that an older reader skips only if its owner allows it.
func (r *Reader) More() bool { return r.err == nil && r.off < len(r.s) }

// Done returns the first error, or an error if bytes are left unread.
func (r *Reader) Done() error {
	if r.err == nil && r.off != len(r.s) {
		r.fail(fmt.Sprintf("%d trailing bytes", len(r.s)-r.off))
	}
	return r.err
}

// Err returns the first error, ignoring bytes left unread.
func (r *Reader) Err() error { return r.err }
