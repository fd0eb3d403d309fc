package bench

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// svgContent is what a test reads back from an SVG document.
type svgContent struct {
	series []string // data-series attributes, in document order
	texts  []string
}

// parseSVG decodes doc strictly, failing the test if it is not well-formed XML with an svg
// root.
func parseSVG(t *testing.T, doc []byte) svgContent {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = true
	var (
		c     svgContent
		depth int
		root  string
		inTxt bool
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v\n%s", err, doc)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				root = el.Name.Local
			}
			depth++
			inTxt = el.Name.Local == "text"
			seen := map[xml.Name]bool{}
			for _, a := range el.Attr {
				if seen[a.Name] {
					t.Fatalf("the SVG is not well-formed XML: attribute %s repeated on <%s>", a.Name.Local, el.Name.Local)
				}
				seen[a.Name] = true
				if a.Name.Local == "data-series" {
					c.series = append(c.series, a.Value)
				}
			}
		case xml.EndElement:
			depth--
			inTxt = false
		case xml.CharData:
			if inTxt {
				c.texts = append(c.texts, string(el))
			}
		}
	}
	if root != "svg" || depth != 0 {
		t.Fatalf("the SVG's root is %q (depth at the end %d), want svg (0)", root, depth)
	}
	return c
}

func TestSoakSVG(t *testing.T) {
	in := verdictCase{rss: with("orchestrator-1", 1500, 1.2)}.defaults(soakInput{length: 30 * time.Minute,
		interval: 10 * time.Second, rate: 800, placed: 1440000, terminal: 1440000})
	long := &SoakResult{Rate: 800, Seconds: 1800, IntervalSeconds: 10, Retention: "2m0s", DedupeWindow: "5m0s",
		Samples: in.samples, Verdict: verdict(in.soakInput)}
	short := &SoakResult{Rate: 200, Seconds: 40, IntervalSeconds: 10, Samples: []SoakSample{
		{T: 10, Finished: 1500, OrdersPerSec: 150, P50: 9, P99: 80, RSS: map[string]int64{"broker": 90 << 20, "a<b&\"c\"": 20 << 20}},
		{T: 20, Finished: 0, OrdersPerSec: 0, RSS: map[string]int64{"broker": 91 << 20}}, // an empty window, a process gone
		{T: 30.1, Finished: 2000, OrdersPerSec: 199.9, P50: 8, P99: 30, RSS: map[string]int64{"broker": 92 << 20}},
	}}
	tests := []struct {
		name   string
		soak   *SoakResult
		series []string
		texts  []string
	}{
		{"30 minutes, a process failing", long,
			[]string{"offered_rate", "threshold_90", "p99_ms", "p50_ms", "orders_per_sec", "rss:bench", "rss:broker", "rss:orchestrator-1"},
			[]string{"verdict FAIL", "orders/s", "latency (ms)", "RSS (MiB)", "time since the soak started (min)", "reference",
				"offered rate, 800/s", "90 % of offered", "orchestrator-1 72.0 MiB (FAIL)", "retention 2m0s, dedupe window 5m0s; one sample every 10s; the first window (shaded) is warm-up"}},
		{"40 seconds, names to escape, gaps", short,
			[]string{"offered_rate", "threshold_90", "p99_ms", "p50_ms", "orders_per_sec", "rss:a<b&\"c\"", "rss:broker"},
			[]string{"time since the soak started (s)", "a<b&\"c\"", "broker 92.0 MiB"}},
		{"no samples", &SoakResult{Rate: 800, Seconds: 60, IntervalSeconds: 10},
			[]string{"offered_rate", "threshold_90", "p99_ms", "p50_ms", "orders_per_sec"},
			[]string{"verdict FAIL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := tc.soak.SVG()
			got := parseSVG(t, doc)
			if !slices.Equal(got.series, tc.series) {
				t.Errorf("series: got %q, want %q", got.series, tc.series)
			}
			all := strings.Join(got.texts, "\n")
			for _, want := range tc.texts {
				if !slices.Contains(got.texts, want) {
					t.Errorf("no text %q among:\n%s", want, all)
				}
			}
			if slices.Contains(got.texts, "-0") {
				t.Errorf("a tick is labelled -0:\n%s", all)
			}
			if bytes.Contains(doc, []byte("NaN")) || bytes.Contains(doc, []byte("Inf")) {
				t.Errorf("the SVG holds NaN or Inf coordinates:\n%s", doc)
			}
		})
	}
}

func TestSoakSVGSeriesPoints(t *testing.T) {
	s := &SoakResult{Rate: 100, Seconds: 30, IntervalSeconds: 10, Samples: []SoakSample{
		{T: 10, Finished: 900, OrdersPerSec: 90, P50: 5, P99: 9, RSS: map[string]int64{"broker": 10 << 20}},
		{T: 20, Finished: 0, RSS: map[string]int64{"broker": 11 << 20}},
		{T: 30, Finished: 1000, OrdersPerSec: 100, P50: 6, P99: 10, RSS: map[string]int64{"broker": 12 << 20}},
	}}
	doc := string(s.SVG())
	tests := []struct {
		series string
		moves  int // M commands: one per unbroken stretch
		lines  int // L commands
	}{
		{"orders_per_sec", 1, 2},
		{"p50_ms", 2, 0}, // the empty window has no latency: the line breaks
		{"rss:broker", 1, 2},
	}
	for _, tc := range tests {
		i := strings.Index(doc, `data-series="`+tc.series+`" d="`)
		if i < 0 {
			t.Errorf("series %s missing", tc.series)
			continue
		}
		d := doc[i+len(`data-series="`+tc.series+`" d="`):]
		d = d[:strings.IndexByte(d, '"')]
		if m, l := strings.Count(d, "M"), strings.Count(d, "L"); m != tc.moves || l != tc.lines {
			t.Errorf("series %s: path %q has %d M and %d L, want %d and %d", tc.series, d, m, l, tc.moves, tc.lines)
		}
	}
}

func TestTicks(t *testing.T) {
	tests := []struct {
		name string
		got  []float64
		want []float64
	}{
		{"0..30 min", niceTicks(0, 30, 10), []float64{0, 5, 10, 15, 20, 25, 30}},
		{"0..40 s", niceTicks(0, 40, 10), []float64{0, 5, 10, 15, 20, 25, 30, 35, 40}},
		{"0..1000 orders/s", niceTicks(0, 1000, 6), []float64{0, 200, 400, 600, 800, 1000}},
		{"log 8..300 MiB", logTicks(8, 300), []float64{10, 20, 50, 100, 200}},
		{"log 25..60 MiB", logTicks(25, 60), []float64{30, 40, 50}},
	}
	for _, tc := range tests {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if got := niceCeil(960); got != 1000 {
		t.Errorf("niceCeil(960) = %v, want 1000", got)
	}
}
