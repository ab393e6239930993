package main

import (
	"strings"
	"testing"
)

func TestMediansAndFigures(t *testing.T) {
	out := `goos: linux
BenchmarkFloor-2   	 1000	  900 ns/op	  800 cpu-ns/op	 592 B/op	 5 allocs/op
BenchmarkFloor-2   	 1000	  950 ns/op	  700 cpu-ns/op	 592 B/op	 5 allocs/op
BenchmarkFloor-2   	 1000	  990 ns/op	  750 cpu-ns/op	 592 B/op	 5 allocs/op
BenchmarkRequireLoggedInFastCodec-2 	 1000	 3000 ns/op	 1500 cpu-ns/op	 2000 stored-B
BenchmarkRequireManySessions/sessions=1-2 	 100	 3000 ns/op	 3000 cpu-ns/op	 1800 heap-B/session	 2000 stored-B
BenchmarkRequireManySessions/sessions=10000-2 	 100	 3300 ns/op	 3300 cpu-ns/op	 2100 heap-B/session	 2000 stored-B
`
	samples := map[string][]float64{}
	if err := parse(strings.NewReader(out), samples); err != nil {
		t.Fatal(err)
	}
	m := medians(samples)
	if got := m["BenchmarkFloor cpu-ns/op"]; got != 750 {
		t.Errorf("median cpu-ns/op of Floor = %v, want 750", got)
	}
	figs := figures(m)
	byFile := map[string]figure{}
	for _, f := range figs {
		byFile[f.file] = f
	}
	if rows := byFile["sessions.svg"].rows; len(rows) != 2 || rows[1].note != "1.10×" {
		t.Errorf("sessions rows = %+v, want two, the second at 1.10×", rows)
	}
	if rows := byFile["fastpath.svg"].rows; len(rows) != 2 || rows[1].note != "2.0× floor" {
		t.Errorf("fastpath rows = %+v", rows)
	}
	svg := byFile["memory.svg"].svg()
	if !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "2100") || !strings.Contains(svg, "target: 2 KB") {
		t.Errorf("memory.svg lacks its bars or target:\n%s", svg)
	}
}
