package sessioncodec

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"math"
	"time"
)

// maxTimeLen is the most bytes appendTime writes.
const maxTimeLen = 3 * binary.MaxVarintLen64

// valueSize returns how many bytes appendValue writes for v, tag
// included: exactly, so that the encoding takes one allocation of the size
// it needs (a store such as scs's memstore keeps that very slice), except
// on the gob path, where the buffer grows.
func valueSize(v any) int {
	switch v := v.(type) {
	case string:
		return 1 + stringSize(v)
	case []byte:
		return 1 + uvarintLen(uint64(len(v))+1) + len(v)
	case time.Time:
		var scratch [maxTimeLen]byte
		return 1 + len(appendTime(scratch[:0], v))
	case []string:
		return 1 + stringsSize(v)
	case map[string]string:
		size := 1 + uvarintLen(uint64(len(v))+1)
		for k, s := range v {
			size += stringSize(k) + stringSize(s)
		}
		return size
	case nil, bool:
		return 1
	case float32:
		return 5
	case float64:
		return 9
	default:
		// Numbers: at most a tag and a varint. The gob path grows the buffer.
		return 1 + binary.MaxVarintLen64
	}
}

func stringSize(s string) int { return uvarintLen(uint64(len(s))) + len(s) }

func stringsSize(ss []string) int {
	size := uvarintLen(uint64(len(ss)) + 1)
	for _, s := range ss {
		size += stringSize(s)
	}
	return size
}

// uvarintLen returns how many bytes binary.AppendUvarint writes for x.
func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
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
