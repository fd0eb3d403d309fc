package bench

import (
	"encoding/xml"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The soak picture's geometry, in SVG user units (pixels).
const (
	svgWidth   = 1190
	svgHeight  = 820
	plotLeft   = 90
	plotRight  = 870
	legendLeft = 945
)

// panel is one plot area and its scales.
type panel struct {
	top, bottom float64 // pixel rows of the plot area
	tmax        float64 // x: 0..tmax seconds
	lo, hi      float64 // left y scale
	log         bool    // left y scale is logarithmic
	rlo, rhi    float64 // right y scale (linear; unused when rhi == 0)
}

func (p panel) x(t float64) float64 {
	return plotLeft + (plotRight-plotLeft)*t/p.tmax
}

func (p panel) y(v float64) float64 {
	f := (v - p.lo) / (p.hi - p.lo)
	if p.log {
		f = math.Log(v/p.lo) / math.Log(p.hi/p.lo)
	}
	return p.bottom - (p.bottom-p.top)*f
}

func (p panel) yr(v float64) float64 {
	return p.bottom - (p.bottom-p.top)*(v-p.rlo)/(p.rhi-p.rlo)
}

// svgWriter accumulates the document.
type svgWriter struct{ b strings.Builder }

func (w *svgWriter) f(format string, args ...any) { fmt.Fprintf(&w.b, format, args...) }

// text writes a text element; content is escaped.
func (w *svgWriter) text(x, y float64, attrs, content string) {
	w.f(`<text x="%s" y="%s" %s>`, num(x), num(y), attrs)
	_ = xml.EscapeText(&w.b, []byte(content))
	w.f("</text>\n")
}

// path writes one series as a path of the given stroke width; a NaN value breaks the line.
// With dots, every point gets a small circle.
func (w *svgWriter) path(series, color string, width float64, xs, ys []float64, dots bool) {
	var d strings.Builder
	pen := false
	for i := range xs {
		if math.IsNaN(ys[i]) {
			pen = false
			continue
		}
		op := "L"
		if !pen {
			op = "M"
		}
		fmt.Fprintf(&d, "%s%s,%s ", op, num(xs[i]), num(ys[i]))
		pen = true
	}
	w.f(`<path class="series" data-series="%s" d="%s" fill="none" stroke="%s" stroke-width="%s"/>`+"\n",
		attr(series), strings.TrimSpace(d.String()), color, num(width))
	if dots {
		for i := range xs {
			if !math.IsNaN(ys[i]) {
				w.f(`<circle cx="%s" cy="%s" r="2.5" fill="%s"/>`+"\n", num(xs[i]), num(ys[i]), color)
			}
		}
	}
}

// legend writes one legend entry at row i of a legend starting at top.
func (w *svgWriter) legend(top float64, i int, color, dash, label string) {
	y := top + float64(i)*20
	w.f(`<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="%s" stroke-width="2.5" %s/>`+"\n",
		legendLeft, num(y), legendLeft+26, num(y), color, dash)
	w.text(legendLeft+34, y+4, `font-size="12"`, label)
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func attr(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// processColors are the colors of the resident-memory series (Tableau 10).
var processColors = []string{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#7f7f7f"}

// SVG draws the soak as a self-contained SVG document: panel 1 the orders/s finished per
// window against the offered rate and the 90 % threshold, with the window's p50 and p99
// latency on a second axis; panel 2 every process's resident size on a logarithmic axis,
// with the verdict's reference sample and checked part marked.
func (s *SoakResult) SVG() []byte {
	var w svgWriter
	w.f(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	w.f(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif">`+"\n",
		svgWidth, svgHeight, svgWidth, svgHeight)
	w.f(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")

	verdictColor := "#c62828"
	if s.Verdict.Pass {
		verdictColor = "#2e7d32"
	}
	w.text(plotLeft, 30, `font-size="19" font-weight="bold"`,
		fmt.Sprintf("podium bench soak: %g orders/s offered for %s", s.Rate, fmtSeconds(s.Seconds)))
	w.text(plotRight+10, 30, `font-size="19" font-weight="bold" text-anchor="end" fill="`+verdictColor+`"`,
		"verdict "+passFail(s.Verdict.Pass))
	sub := fmt.Sprintf("one sample every %s; the first window (shaded) is warm-up", fmtSeconds(s.IntervalSeconds))
	if s.Retention != "" || s.DedupeWindow != "" {
		sub = fmt.Sprintf("retention %s, dedupe window %s; ", orDash(s.Retention), orDash(s.DedupeWindow)) + sub
	}
	if s.Stopped != "" {
		sub += "; stopped early"
	}
	w.text(plotLeft, 50, `font-size="12" fill="#444"`, sub)

	tmax := max(s.Seconds, s.IntervalSeconds)
	for _, x := range s.Samples {
		tmax = max(tmax, x.T)
	}
	xs := make([]float64, len(s.Samples))
	p1 := panel{top: 95, bottom: 365, tmax: tmax}
	p2 := panel{top: 475, bottom: 745, tmax: tmax, log: true}
	for i, x := range s.Samples {
		xs[i] = p1.x(x.T)
	}

	// Panel 1: throughput and latency.
	var maxRate, maxLat float64
	for _, x := range s.Samples {
		maxRate = max(maxRate, x.OrdersPerSec)
		maxLat = max(maxLat, x.P99, x.P50)
	}
	p1.lo, p1.hi = 0, niceCeil(max(s.Rate*1.2, maxRate*1.05, 1))
	p1.rlo, p1.rhi = 0, niceCeil(max(maxLat*1.1, 1))
	w.text(plotLeft, p1.top-14, `font-size="14" font-weight="bold"`, "Throughput and end-to-end latency per window")
	w.frame(p1, s.IntervalSeconds)
	for _, v := range niceTicks(p1.lo, p1.hi, 6) {
		w.hgrid(p1, p1.y(v), fmtTick(v))
	}
	for _, v := range niceTicks(p1.rlo, p1.rhi, 6) {
		y := p1.yr(v)
		w.f(`<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="#333"/>`+"\n", plotRight, num(y), plotRight+5, num(y))
		w.text(plotRight+8, y+4, `font-size="11"`, fmtTick(v))
	}
	w.xaxis(p1, false)
	w.ylabel(plotLeft-55, (p1.top+p1.bottom)/2, "orders/s", "#1f77b4")
	w.ylabel(plotRight+50, (p1.top+p1.bottom)/2, "latency (ms)", "#444")

	offered := p1.y(s.Rate)
	threshold := p1.y(s.Rate * soakMinShare)
	w.f(`<path class="series" data-series="offered_rate" d="M%d,%s L%d,%s" stroke="#555" stroke-width="2" stroke-dasharray="8 5"/>`+"\n",
		plotLeft, num(offered), plotRight, num(offered))
	w.f(`<path class="series" data-series="threshold_90" d="M%d,%s L%d,%s" stroke="#d62728" stroke-width="1.5" stroke-dasharray="2 4"/>`+"\n",
		plotLeft, num(threshold), plotRight, num(threshold))
	ops, p50, p99 := make([]float64, len(xs)), make([]float64, len(xs)), make([]float64, len(xs))
	for i, x := range s.Samples {
		ops[i] = p1.y(x.OrdersPerSec)
		p50[i], p99[i] = math.NaN(), math.NaN()
		if x.Finished > 0 {
			p50[i], p99[i] = p1.yr(x.P50), p1.yr(x.P99)
		}
	}
	dots := len(xs) <= 90
	w.path("p99_ms", "#ff7f0e", 2, xs, p99, dots)
	w.path("p50_ms", "#2ca02c", 2, xs, p50, dots)
	w.path("orders_per_sec", "#1f77b4", 2.5, xs, ops, dots)
	w.legend(p1.top+8, 0, "#1f77b4", "", "orders/s finished (left)")
	w.legend(p1.top+8, 1, "#555", `stroke-dasharray="8 5"`, fmt.Sprintf("offered rate, %g/s", s.Rate))
	w.legend(p1.top+8, 2, "#d62728", `stroke-dasharray="2 4"`, fmt.Sprintf("%.0f %% of offered", soakMinShare*100))
	w.legend(p1.top+8, 3, "#2ca02c", "", "p50 latency (right)")
	w.legend(p1.top+8, 4, "#ff7f0e", "", "p99 latency (right)")

	// Panel 2: resident memory.
	names := map[string]bool{}
	lo, hi := math.Inf(1), 0.0
	for _, x := range s.Samples {
		for n, b := range x.RSS {
			names[n] = true
			if b > 0 {
				lo, hi = min(lo, mib(b)), max(hi, mib(b))
			}
		}
	}
	if hi == 0 {
		lo, hi = 1, 10
	}
	p2.lo, p2.hi = lo/1.25, hi*1.25
	w.text(plotLeft, p2.top-14, `font-size="14" font-weight="bold"`, "Resident memory per process (log scale)")
	w.frame(p2, s.IntervalSeconds)
	m := s.Verdict.Memory
	if m.CheckFrom > 0 && m.CheckFrom < tmax {
		w.f(`<rect x="%s" y="%s" width="%s" height="%s" fill="#1f77b4" fill-opacity="0.07"/>`+"\n",
			num(p2.x(m.CheckFrom)), num(p2.top), num(p2.x(tmax)-p2.x(m.CheckFrom)), num(p2.bottom-p2.top))
		w.text(p2.x(m.CheckFrom)+4, p2.top+14, `font-size="11" fill="#1f4e79"`,
			fmt.Sprintf("checked: within ±%.0f %% of the reference", m.Tolerance*100))
	}
	if m.ReferenceT > 0 {
		x := p2.x(m.ReferenceT)
		w.f(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#1f4e79" stroke-width="1.5" stroke-dasharray="5 4"/>`+"\n",
			num(x), num(p2.top), num(x), num(p2.bottom))
		w.text(x+4, p2.bottom-6, `font-size="11" fill="#1f4e79"`, "reference")
	}
	for _, v := range logTicks(p2.lo, p2.hi) {
		w.hgrid(p2, p2.y(v), fmtTick(v))
	}
	w.xaxis(p2, true)
	w.ylabel(plotLeft-55, (p2.top+p2.bottom)/2, "RSS (MiB)", "#333")
	pass := map[string]bool{}
	for _, mp := range m.Processes {
		pass[mp.Name] = mp.Pass
	}
	for i, name := range slices.Sorted(maps.Keys(names)) {
		color := processColors[i%len(processColors)]
		ys := make([]float64, len(xs))
		for j, x := range s.Samples {
			ys[j] = math.NaN()
			if b := x.RSS[name]; b > 0 {
				ys[j] = p2.y(mib(b))
			}
		}
		w.path("rss:"+name, color, 2, xs, ys, false)
		label := name
		if last := s.Samples[len(s.Samples)-1].RSS[name]; last > 0 {
			label = fmt.Sprintf("%s %s", name, fmtBytes(last))
		}
		if ok, found := pass[name]; found && !ok {
			label += " (FAIL)"
		}
		w.legend(p2.top+8, i, color, "", label)
	}
	w.f("</svg>\n")
	return []byte(w.b.String())
}

// frame draws a panel's box and shades its first window (warm-up).
func (w *svgWriter) frame(p panel, interval float64) {
	if interval > 0 {
		w.f(`<rect x="%d" y="%s" width="%s" height="%s" fill="#000" fill-opacity="0.06"/>`+"\n",
			plotLeft, num(p.top), num(p.x(min(interval, p.tmax))-plotLeft), num(p.bottom-p.top))
	}
	w.f(`<rect x="%d" y="%s" width="%d" height="%s" fill="none" stroke="#333"/>`+"\n",
		plotLeft, num(p.top), plotRight-plotLeft, num(p.bottom-p.top))
}

// hgrid draws a horizontal grid line with its label on the left axis.
func (w *svgWriter) hgrid(p panel, y float64, label string) {
	if y < p.top-0.5 || y > p.bottom+0.5 {
		return
	}
	w.f(`<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="#ddd"/>`+"\n", plotLeft, num(y), plotRight, num(y))
	w.f(`<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="#333"/>`+"\n", plotLeft-5, num(y), plotLeft, num(y))
	w.text(plotLeft-8, y+4, `font-size="11" text-anchor="end"`, label)
}

// xaxis draws the time ticks under a panel, with the axis title when titled.
func (w *svgWriter) xaxis(p panel, titled bool) {
	unit, div := "s", 1.0
	if p.tmax >= 180 {
		unit, div = "min", 60
	}
	for _, v := range niceTicks(0, p.tmax/div, 10) {
		x := p.x(v * div)
		w.f(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#eee"/>`+"\n", num(x), num(p.top), num(x), num(p.bottom))
		w.f(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#333"/>`+"\n", num(x), num(p.bottom), num(x), num(p.bottom+5))
		w.text(x, p.bottom+18, `font-size="11" text-anchor="middle"`, fmtTick(v))
	}
	if titled {
		w.text((plotLeft+plotRight)/2, p.bottom+40, `font-size="13" text-anchor="middle"`, "time since the soak started ("+unit+")")
	}
}

// ylabel writes a vertical axis title centred on (x, y).
func (w *svgWriter) ylabel(x, y float64, label, color string) {
	w.text(x, y, fmt.Sprintf(`font-size="13" text-anchor="middle" fill="%s" transform="rotate(-90 %s %s)"`, color, num(x), num(y)), label)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// niceStep is a 1-2-5 step near span/n.
func niceStep(span float64, n int) float64 {
	if span <= 0 || n <= 0 {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

// niceCeil rounds v up to a 1-2-5 step of a sixth of it.
func niceCeil(v float64) float64 {
	step := niceStep(v, 6)
	return math.Ceil(v/step-1e-9) * step
}

// niceTicks are the multiples of a 1-2-5 step from lo to hi, about n of them.
func niceTicks(lo, hi float64, n int) []float64 {
	step := niceStep(hi-lo, n)
	var out []float64
	for v := math.Ceil(lo/step-1e-9) * step; v <= hi+step*1e-9; v += step {
		out = append(out, round(v, 9)+0) // +0: no "-0"
	}
	return out
}

// logTicks are the ticks of a logarithmic axis from lo to hi (lo > 0): 1-2-5 per decade
// over wide ranges, finer over narrow ones.
func logTicks(lo, hi float64) []float64 {
	mantissas := []float64{1, 1.5, 2, 3, 4, 5, 7}
	if math.Log10(hi/lo) > 1.5 {
		mantissas = []float64{1, 2, 5}
	}
	var out []float64
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range mantissas {
			if v := m * math.Pow(10, e); v >= lo && v <= hi {
				out = append(out, round(v, 9))
			}
		}
	}
	return out
}

// fmtTick prints an axis value with no more digits than it needs.
func fmtTick(v float64) string {
	if v != 0 && math.Abs(v) < 1 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(round(v, 2), 'f', -1, 64)
}
