package record

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	when := time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	w := NewWriter(7, 0)
	w.String("héllo")
	w.String("")
	w.Bytes([]byte{0, 0xff})
	w.Strings([]string{"a", "", "c"})
	w.Strings(nil)
	w.Strings([]string{})
	w.Uint(math.MaxUint64)
	w.Int(math.MinInt64)
	w.Time(when)
	w.Time(time.Time{})
	w.Seconds(when)
	w.Seconds(time.Time{})
	w.Seconds(time.Unix(-1, 1)) // before 1970: still rounded down
	s := w.Done()

	r, v := NewReader(s)
	if v != 7 {
		t.Fatalf("version = %d, want 7", v)
	}
	if got := r.Text(); got != "héllo" {
		t.Errorf("String = %q", got)
	}
	if got := r.Text(); got != "" {
		t.Errorf("empty String = %q", got)
	}
	if got := r.Text(); got != "\x00\xff" {
		t.Errorf("Bytes = %q", got)
	}
	if got := r.Strings(); !slices.Equal(got, []string{"a", "", "c"}) {
		t.Errorf("Strings = %q", got)
	}
	if got := r.Strings(); got != nil {
		t.Errorf("nil Strings = %#v", got)
	}
	if got := r.Strings(); got == nil || len(got) != 0 {
		t.Errorf("empty Strings = %#v", got)
	}
	if got := r.Uint(); got != math.MaxUint64 {
		t.Errorf("Uint = %d", got)
	}
	if got := r.Int(); got != math.MinInt64 {
		t.Errorf("Int = %d", got)
	}
	if got := r.Time(); !got.Equal(when) || got.Location() != time.UTC {
		t.Errorf("Time = %v, want %v in UTC", got, when)
	}
	if got := r.Time(); !got.IsZero() {
		t.Errorf("zero Time = %v", got)
	}
	if got, want := r.Seconds(), when.Truncate(time.Second); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Seconds = %v, want %v in UTC", got, want)
	}
	if got := r.Seconds(); got != (time.Time{}) {
		t.Errorf("zero Seconds = %#v, want the zero time", got)
	}
	if got := r.Seconds(); got.Unix() != -1 || got.Nanosecond() != 0 {
		t.Errorf("Seconds before 1970 = %v, want 1969-12-31T23:59:59Z", got)
	}
	if err := r.Done(); err != nil {
		t.Errorf("Done: %v", err)
	}
}

func TestCorrupt(t *testing.T) {
	t.Parallel()
	w := NewWriter(1, 0)
	w.String("abcdef")
	w.Strings([]string{"x", "y"})
	w.Time(time.Unix(1e9, 5))
	good := w.Done()
	tests := []struct {
		name string
		rec  string
	}{
		{"empty", ""},
		{"truncated string", good[:4]},
		{"truncated list", good[:9]},
		{"truncated time", good[:len(good)-1]},
		{"trailing byte", good + "\x00"},
		{"length past the end", "\x01\x7f"},
		{"varint overflow", "\x01" + strings.Repeat("\xff", 10) + "\x01"},
		{"nanoseconds out of range", "\x01\x06abcdef\x03\x01x\x01y\x00\xff\xff\xff\xff\x0f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, _ := NewReader(tt.rec)
			r.Text()
			r.Strings()
			r.Time()
			if err := r.Done(); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Done = %v, want ErrCorrupt", err)
			}
		})
	}
}
