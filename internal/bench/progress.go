package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progressBar draws the progress of a saga run: on a terminal one line redrawn in place, to
// anything else one line every few seconds.
type progressBar struct {
	w             io.Writer
	tty           bool
	start, from   time.Time
	to            time.Time
	lastDraw      time.Time
	lastAt        time.Time
	lastTerminal  int64
	rate          float64
	width         int
	drawn         bool
	drawInterval  time.Duration
	rateSmoothing float64
}

func newProgressBar(w io.Writer, start, from, to time.Time) *progressBar {
	b := &progressBar{w: w, start: start, from: from, to: to, lastAt: start, width: 30,
		drawInterval: 5 * time.Second, rateSmoothing: 0.5}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			b.tty, b.drawInterval = true, 250*time.Millisecond
		}
	}
	return b
}

func (b *progressBar) update(now time.Time, p progress) {
	if dt := now.Sub(b.lastAt); dt >= 500*time.Millisecond {
		r := float64(p.terminal-b.lastTerminal) / dt.Seconds()
		if b.rate == 0 {
			b.rate = r
		} else {
			b.rate = b.rateSmoothing*b.rate + (1-b.rateSmoothing)*r
		}
		b.lastAt, b.lastTerminal = now, p.terminal
	}
	if now.Sub(b.lastDraw) < b.drawInterval {
		return
	}
	b.lastDraw = now
	b.draw(now, p, false)
}

func (b *progressBar) done(now time.Time, p progress) { b.draw(now, p, true) }

func (b *progressBar) draw(now time.Time, p progress, final bool) {
	total := b.to.Sub(b.start)
	frac := min(max(float64(now.Sub(b.start))/float64(total), 0), 1)
	filled := int(frac * float64(b.width))
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", b.width-filled)
	phase := "measuring"
	if now.Before(b.from) {
		phase = "warming up"
	}
	line := fmt.Sprintf("   [%s] %5.1fs/%.0fs %-10s placed %7d  done %7d  in flight %5d  %6.0f orders/s  p50 %s",
		bar, now.Sub(b.start).Seconds(), total.Seconds(), phase, p.placed, p.terminal, p.pending, b.rate, fmtDur(p.p50))
	switch {
	case b.tty && final:
		fmt.Fprintf(b.w, "\r%s\n", line)
	case b.tty:
		fmt.Fprintf(b.w, "\r%s", line)
	default:
		fmt.Fprintln(b.w, line)
	}
	b.drawn = true
}

// fmtDur prints a latency with a precision that suits its size.
func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}
