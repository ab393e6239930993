// Command benchplot draws the figures of BENCHMARKS.md, as SVG, from
// `go test -bench` output: the median of every metric of every benchmark
// over all the runs in the files given (several -count runs, several
// files), drawn as horizontal bars.
//
//	go run ./bench/benchplot -o docs/bench root.txt peers.txt
//
// It writes, for the benchmarks found:
//   - sessions.svg: the cost of a logged-in request against the number of
//     logged-in customers (BenchmarkRequireManySessions), beside scs
//     alone with a codec that reads nothing (BenchmarkSCSManySessions);
//   - memory.svg: live heap and stored bytes per session against the
//     number of customers (the same benchmark's heap-B/session, stored-B);
//   - fastpath.svg: the floor, scs alone (with a codec that reads nothing,
//     then with each codec) and Require with each codec;
//   - peers.svg: shopsso beside scs, gorilla and gothic cookies and a JWT
//     bearer middleware (the bench module's BenchmarkLoggedInRequest).
//
// Times are cpu-ns/op (the process's CPU time per request, which other
// processes on a shared machine do not inflate) where the benchmarks
// report it, else ns/op.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"html"
	"io"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	out := flag.String("o", ".", "directory to write the SVG files to")
	md := flag.Bool("md", false, "also print the medians and the targets' ratios as Markdown tables")
	flag.Parse()
	if flag.NArg() == 0 {
		log.Fatal("usage: benchplot [-o dir] bench-output.txt...")
	}
	samples := map[string][]float64{} // "name metric" → values
	for _, path := range flag.Args() {
		f, err := os.Open(path)
		if err != nil {
			log.Fatal(err)
		}
		if err := parse(f, samples); err != nil {
			log.Fatalf("%s: %v", path, err)
		}
		f.Close()
	}
	m := medians(samples)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	for _, fig := range figures(m) {
		if len(fig.rows) == 0 {
			continue
		}
		path := filepath.Join(*out, fig.file)
		if err := os.WriteFile(path, []byte(fig.svg()), 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Fprintln(os.Stderr, "wrote", path)
	}
	if *md {
		fmt.Print(markdown(m))
	}
}

// markdown prints every benchmark's medians, then the targets of issue 10
// as ratios of medians, wall (ns/op) and CPU (cpu-ns/op).
func markdown(m metrics) string {
	var names []string
	for k := range m {
		name, metric, _ := strings.Cut(k, " ")
		if metric == "ns/op" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("| benchmark | ns/op | cpu-ns/op | B/op | allocs/op | stored-B | heap-B/session |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	cell := func(name, metric string) string {
		if v, ok := m[name+" "+metric]; ok {
			return strconv.FormatFloat(v, 'f', 0, 64)
		}
		return "–"
	}
	for _, n := range names {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s |\n", strings.TrimPrefix(n, "Benchmark"),
			cell(n, "ns/op"), cell(n, "cpu-ns/op"), cell(n, "B/op"), cell(n, "allocs/op"), cell(n, "stored-B"), cell(n, "heap-B/session"))
	}
	b.WriteString("\n| target | wall | CPU | goal |\n| --- | ---: | ---: | --- |\n")
	ratio := func(label, a, c, goal string) {
		w1, ok1 := m[a+" ns/op"]
		w2, ok2 := m[c+" ns/op"]
		if !ok1 || !ok2 {
			return
		}
		cpu := "–"
		if c1, c2 := m[a+" cpu-ns/op"], m[c+" cpu-ns/op"]; c1 > 0 && c2 > 0 {
			cpu = fmt.Sprintf("%.2f×", c1/c2)
		}
		fmt.Fprintf(&b, "| %s | %.2f× | %s | %s |\n", label, w1/w2, cpu, goal)
	}
	const many = "BenchmarkRequireManySessions/sessions="
	ratio("sessions=10000 / sessions=1", many+"10000", many+"1", "≤ 1.2×")
	ratio("sessions=100000 / sessions=1", many+"100000", many+"1", "≤ 1.2×")
	const scsMany = "BenchmarkSCSManySessions/codec="
	ratio("scs alone, sessioncodec: sessions=100000 / sessions=1", scsMany+"sessioncodec/sessions=100000", scsMany+"sessioncodec/sessions=1", "(bound)")
	ratio("scs alone, no codec: sessions=100000 / sessions=1", scsMany+"none/sessions=100000", scsMany+"none/sessions=1", "(bound)")
	ratio("RequireLoggedInFastCodec / Floor", "BenchmarkRequireLoggedInFastCodec", "BenchmarkFloor", "≤ 2.0×")
	ratio("SCSNullCodec / Floor", "BenchmarkSCSNullCodec", "BenchmarkFloor", "(bound)")
	ratio("RequireLoggedInSealedCodec / Floor", "BenchmarkRequireLoggedInSealedCodec", "BenchmarkFloor", "≤ 2.0× (sealed)")
	ratio("RequireLoggedIn / SCSBaseline (gob)", "BenchmarkRequireLoggedIn", "BenchmarkSCSBaseline", "≤ 1.10×")
	ratio("RequireLoggedInFastCodec / SCSBaselineFastCodec", "BenchmarkRequireLoggedInFastCodec", "BenchmarkSCSBaselineFastCodec", "≤ 1.10×")
	ratio("SCSContextFastCodec / SCSBaselineFastCodec", "BenchmarkSCSContextFastCodec", "BenchmarkSCSBaselineFastCodec", "(bound)")
	ratio("RequireLoggedInSealedCodec / SCSBaselineSealedCodec", "BenchmarkRequireLoggedInSealedCodec", "BenchmarkSCSBaselineSealedCodec", "≤ 1.10×")
	ratio("RequireLoggedInFastCodec / SCSBaseline (gob)", "BenchmarkRequireLoggedInFastCodec", "BenchmarkSCSBaseline", "≤ 0.15×")
	ratio("RequireLoggedInSealedCodec / SCSBaseline (gob)", "BenchmarkRequireLoggedInSealedCodec", "BenchmarkSCSBaseline", "≤ 0.15×")
	for _, n := range []string{"10000", "100000"} {
		if v, ok := m[many+n+" heap-B/session"]; ok {
			fmt.Fprintf(&b, "| live heap per session, %s customers | %.0f B | | ≤ 2048 B |\n", n, v)
		}
	}
	return b.String()
}

var procSuffix = regexp.MustCompile(`-\d+$`)

// parse reads benchmark lines: name, iterations, then value-unit pairs.
func parse(r io.Reader, samples map[string][]float64) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := procSuffix.ReplaceAllString(f[0], "")
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return fmt.Errorf("%q: %v", sc.Text(), err)
			}
			key := name + " " + f[i+1]
			samples[key] = append(samples[key], v)
		}
	}
	return sc.Err()
}

type metrics map[string]float64

func medians(samples map[string][]float64) metrics {
	m := metrics{}
	for k, v := range samples {
		slices.Sort(v)
		n := len(v)
		if n%2 == 1 {
			m[k] = v[n/2]
		} else {
			m[k] = (v[n/2-1] + v[n/2]) / 2
		}
	}
	return m
}

// cost returns the CPU time per op of a benchmark, else its wall time.
func (m metrics) cost(name string) (float64, bool) {
	if v, ok := m[name+" cpu-ns/op"]; ok && v > 0 {
		return v, true
	}
	v, ok := m[name+" ns/op"]
	return v, ok
}

type row struct {
	label string
	value float64
	note  string // after the value
}

type figure struct {
	file, title, unit string
	rows              []row
	target            float64 // a dashed line, 0 for none
	targetLabel       string
}

func figures(m metrics) []figure {
	const many = "BenchmarkRequireManySessions/sessions="
	var sessions, memory figure
	sessions = figure{file: "sessions.svg", title: "A logged-in request against the number of logged-in customers", unit: "ns of CPU per request"}
	memory = figure{file: "memory.svg", title: "Memory per logged-in session (scs memory store, sessioncodec)", unit: "bytes per session"}
	var ns []int
	for k := range m {
		if rest, ok := strings.CutPrefix(k, many); ok {
			n, err := strconv.Atoi(strings.Fields(rest)[0])
			if err == nil && !slices.Contains(ns, n) {
				ns = append(ns, n)
			}
		}
	}
	slices.Sort(ns)
	if len(ns) > 0 {
		one, _ := m.cost(many + strconv.Itoa(ns[0]))
		for _, n := range ns {
			name := many + strconv.Itoa(n)
			if v, ok := m.cost(name); ok {
				label := "Require: " + sessionCount(n)
				sessions.rows = append(sessions.rows, row{label, v, fmt.Sprintf("%.2f×", v/one)})
			}
			if v, ok := m[name+" heap-B/session"]; ok && n > 1 {
				memory.rows = append(memory.rows, row{fmt.Sprintf("%d sessions: live heap, all-in", n), v, ""})
			}
			if v, ok := m[name+" stored-B"]; ok && n > 1 {
				memory.rows = append(memory.rows, row{fmt.Sprintf("%d sessions: stored value", n), v, ""})
			}
		}
		const scsNone = "BenchmarkSCSManySessions/codec=none/sessions="
		if none, ok := m.cost(scsNone + strconv.Itoa(ns[0])); ok {
			for _, n := range ns {
				if v, ok := m.cost(scsNone + strconv.Itoa(n)); ok {
					sessions.rows = append(sessions.rows, row{"scs alone, no codec: " + sessionCount(n), v, fmt.Sprintf("%.2f×", v/none)})
				}
			}
		}
		sessions.target, sessions.targetLabel = 1.2*one, "target: 1.2× of one session"
		memory.target, memory.targetLabel = 2048, "target: 2 KB"
	}

	fast := figure{file: "fastpath.svg", title: "One logged-in request, one session", unit: "ns of CPU per request"}
	floor, _ := m.cost("BenchmarkFloor")
	for _, b := range []struct{ name, label string }{
		{"BenchmarkFloor", "floor: cookie + map lookup + context value"},
		{"BenchmarkSCSNullCodec", "scs alone, a codec that reads nothing"},
		{"BenchmarkSCSBaselineFastCodec", "scs alone, sessioncodec"},
		{"BenchmarkSCSContextFastCodec", "scs alone, sessioncodec, login in the context"},
		{"BenchmarkRequireLoggedInFastCodec", "Require, sessioncodec"},
		{"BenchmarkSCSBaselineSealedCodec", "scs alone, sessioncodec sealed"},
		{"BenchmarkRequireLoggedInSealedCodec", "Require, sessioncodec sealed"},
		{"BenchmarkSCSBaseline", "scs alone, gob (scs's default)"},
		{"BenchmarkRequireLoggedIn", "Require, gob"},
	} {
		if v, ok := m.cost(b.name); ok {
			note := ""
			if floor > 0 {
				note = fmt.Sprintf("%.1f× floor", v/floor)
			}
			fast.rows = append(fast.rows, row{b.label, v, note})
		}
	}
	if floor > 0 {
		fast.target, fast.targetLabel = 2*floor, "target for Require, sessioncodec: 2× floor"
	}

	peers := figure{file: "peers.svg", title: "Peers: one logged-in request (bench module)", unit: "ns of CPU per request"}
	const lr = "BenchmarkLoggedInRequest/"
	base, _ := m.cost(lr + "scs/codec=gob")
	for _, b := range []struct{ name, label string }{
		{"sso/codec=fast", "shopsso, sessioncodec"},
		{"sso/codec=sealed", "shopsso, sessioncodec sealed"},
		{"scs/codec=fast", "scs alone, sessioncodec"},
		{"sso/codec=gob", "shopsso, gob"},
		{"scs/codec=gob", "scs alone, gob"},
		{"gorilla-cookie", "gorilla/sessions cookie"},
		{"jwt-bearer", "JWT bearer (verifies RS256)"},
		{"gothic-cookie", "gothic cookie"},
	} {
		if v, ok := m.cost(lr + b.name); ok {
			note := ""
			if base > 0 {
				note = fmt.Sprintf("%.2f× scs gob", v/base)
			}
			peers.rows = append(peers.rows, row{b.label, v, note})
		}
	}
	return []figure{sessions, memory, fast, peers}
}

// svg draws f as horizontal bars with their values.
func (f figure) svg() string {
	const (
		width    = 860
		labelW   = 300
		barMaxW  = 380
		rowH     = 30
		top      = 58
		fontSize = 13
	)
	max := f.target
	for _, r := range f.rows {
		max = maxf(max, r.value)
	}
	max *= 1.05
	height := top + rowH*len(f.rows) + 40
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="%d">`+"\n", width, height, width, height, fontSize)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", html.EscapeString(f.title))
	fmt.Fprintf(&b, `<text x="10" y="44" fill="#555">median %s</text>`+"\n", html.EscapeString(f.unit))
	for i, r := range f.rows {
		y := top + i*rowH
		w := r.value / max * barMaxW
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW-8, y+19, html.EscapeString(r.label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="#4a78b5"/>`+"\n", labelW, y+5, w, rowH-10)
		text := strconv.FormatFloat(r.value, 'f', 0, 64)
		if r.note != "" {
			text += "  (" + r.note + ")"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(labelW)+w+6, y+19, html.EscapeString(text))
	}
	if f.target > 0 {
		x := float64(labelW) + f.target/max*barMaxW
		bottom := top + rowH*len(f.rows)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#c0392b" stroke-dasharray="5,4"/>`+"\n", x, top, x, bottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#c0392b" text-anchor="middle">%s</text>`+"\n", x, bottom+18, html.EscapeString(f.targetLabel))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func maxf(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}

// sessionCount is "1 session" or "n sessions".
func sessionCount(n int) string {
	if n == 1 {
		return "1 session"
	}
	return fmt.Sprintf("%d sessions", n)
}
