package cli

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/flowbatch/flow/flow"
)

// The live progress display: on a terminal, each running batch step gets
// a line that is redrawn in place (records read and written, skips, rate,
// and a bar with an ETA when the reader knows the input's size), below
// the log lines, which scroll above it. Without a terminal, with
// --log-format json or with --quiet, progress is logged instead (one line
// per progress_interval, logObserver).

// drawEvery is the shortest time between two redraws.
const drawEvery = 200 * time.Millisecond

// rateWindow is how far back the rate and the ETA look.
const rateWindow = 10 * time.Second

// progressDisplay draws the progress lines of the running batch steps at
// the bottom of a terminal. It is also the writer of the log handler, so
// that a log line is written above the lines, not through them.
type progressDisplay struct {
	mu    sync.Mutex
	out   io.Writer
	width func() int // the terminal's columns
	now   func() time.Time
	// fill and empty draw the bar.
	fill, empty string

	bars []*progressBar // in the order the steps started
	// started holds when the running steps started (step_started).
	started map[string]time.Time
	drawn   int       // lines on the screen, above the cursor
	last    time.Time // of the last draw
	// A ticker redraws every tick while bars are shown, for the elapsed
	// time and updates that came too soon after a draw (0: no ticker).
	tick    time.Duration
	ticking bool
	stop    chan struct{}
	stopped chan struct{}
}

// progressBar is what the display knows of one step.
type progressBar struct {
	path     string
	started  time.Time
	counters map[string]int64
	done     int64 // bytes read, of total
	total    int64
	samples  []progressSample // the ones within rateWindow, oldest first
}

type progressSample struct {
	t          time.Time
	read, done int64
}

func newProgressDisplay(out io.Writer, width func() int) *progressDisplay {
	d := &progressDisplay{out: out, width: width, now: time.Now, tick: drawEvery, fill: "#", empty: "-",
		started: map[string]time.Time{}}
	if utf8Locale() {
		d.fill, d.empty = "█", "░"
	}
	return d
}

// utf8Locale reports whether the locale says the terminal takes UTF-8.
func utf8Locale() bool {
	for _, k := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
		if v := os.Getenv(k); v != "" {
			v = strings.ToLower(v)
			return strings.Contains(v, "utf-8") || strings.Contains(v, "utf8")
		}
	}
	return false
}

// terminalWidth returns the columns of w when it is a terminal that can
// move its cursor (not TERM=dumb).
func terminalWidth(w io.Writer) (func() int, bool) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) || os.Getenv("TERM") == "dumb" {
		return nil, false
	}
	return func() int {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
		return 80
	}, true
}

// Write writes log output above the progress lines.
func (d *progressDisplay) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.drawn == 0 {
		return d.out.Write(p)
	}
	var b bytes.Buffer
	d.erase(&b)
	b.Write(p)
	d.frame(&b)
	if _, err := d.out.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// update takes a step_progress event.
func (d *progressDisplay) update(e flow.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var bar *progressBar
	for _, b := range d.bars {
		if b.path == e.Path {
			bar = b
		}
	}
	if bar == nil {
		start, ok := d.started[e.Path]
		if !ok {
			start = e.Time
		}
		bar = &progressBar{path: e.Path, started: start}
		d.bars = append(d.bars, bar)
		d.startTicker()
	}
	bar.counters, bar.done, bar.total = e.Counters, e.Done, e.Total
	bar.samples = append(bar.samples, progressSample{t: e.Time, read: e.Counters["read_count"], done: e.Done})
	// Keep two samples at least, and none older than the window.
	cut := 0
	for cut < len(bar.samples)-2 && e.Time.Sub(bar.samples[cut].t) > rateWindow {
		cut++
	}
	bar.samples = bar.samples[cut:]
	if d.now().Sub(d.last) >= drawEvery {
		d.redraw()
	}
}

// finish removes the line of a step that ended and returns what it last
// showed (nil when the step had none).
func (d *progressDisplay) finish(path string) *progressBar {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.started, path)
	for i, b := range d.bars {
		if b.path == path {
			d.bars = append(d.bars[:i], d.bars[i+1:]...)
			d.redraw()
			return b
		}
	}
	return nil
}

// Close erases the progress lines and stops redrawing.
func (d *progressDisplay) Close() {
	d.mu.Lock()
	d.bars = nil
	d.redraw()
	stop, stopped := d.stop, d.stopped
	d.ticking, d.stop = false, nil
	d.mu.Unlock()
	if stop != nil {
		close(stop)
		<-stopped
	}
}

func (d *progressDisplay) startTicker() {
	if d.ticking || d.tick <= 0 {
		return
	}
	d.ticking = true
	d.stop, d.stopped = make(chan struct{}), make(chan struct{})
	go func(stop, stopped chan struct{}) {
		defer close(stopped)
		t := time.NewTicker(d.tick)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				d.mu.Lock()
				if len(d.bars) > 0 {
					d.redraw()
				}
				d.mu.Unlock()
			}
		}
	}(d.stop, d.stopped)
}

// redraw replaces the lines on the screen with the current ones. The
// caller holds d.mu.
func (d *progressDisplay) redraw() {
	var b bytes.Buffer
	d.erase(&b)
	d.frame(&b)
	if b.Len() > 0 {
		_, _ = d.out.Write(b.Bytes())
	}
	d.last = d.now()
}

// erase moves the cursor up over the drawn lines and clears to the end of
// the screen.
func (d *progressDisplay) erase(b *bytes.Buffer) {
	if d.drawn > 0 {
		fmt.Fprintf(b, "\r\x1b[%dA\x1b[J", d.drawn)
		d.drawn = 0
	}
}

// frame draws one line per bar; the cursor ends below them.
func (d *progressDisplay) frame(b *bytes.Buffer) {
	if len(d.bars) == 0 {
		return
	}
	cols := 80
	if d.width != nil {
		cols = d.width()
	}
	for _, line := range d.lines(cols, d.now()) {
		b.WriteString(line)
		b.WriteString("\x1b[K\n")
		d.drawn++
	}
}

// lines renders the bars in at most cols-1 columns each (a line filling
// the last column would wrap on some terminals and break the cursor
// arithmetic):
//
//	main/load  ██████░░░░░░░░░░   37%  ETA 4s  5,210/s  read 1,200  written 1,198  skipped 2
//	main/copy  12s  1,020/s  read 800  written 800  skipped 0
//
// The bar, when the input's size is known, is as wide on every line (at
// most 30 columns, at least 10, else left out), so that they align.
func (d *progressDisplay) lines(cols int, now time.Time) []string {
	name, widest := 0, 0
	stats := make([]string, len(d.bars))
	for i, bar := range d.bars {
		name = max(name, utf8.RuneCountInString(bar.path))
		stats[i] = bar.stats(now)
		widest = max(widest, utf8.RuneCountInString(stats[i]))
	}
	name = min(name, 32, max(cols/4, 8))
	// Room for the numbers to grow, so that the bar keeps its width.
	width := min(30, cols-1-name-len("    100%  ")-max(widest, 52))
	out := make([]string, len(d.bars))
	for i, bar := range d.bars {
		path := bar.path
		if n := utf8.RuneCountInString(path); n > name {
			path = "…" + string([]rune(path)[n-name+1:])
		}
		line := path + strings.Repeat(" ", name-utf8.RuneCountInString(path)) + "  "
		if bar.total > 0 {
			frac := min(max(float64(bar.done)/float64(bar.total), 0), 1)
			if width >= 10 {
				full := int(frac * float64(width))
				line += strings.Repeat(d.fill, full) + strings.Repeat(d.empty, width-full) + "  "
			}
			line += fmt.Sprintf("%3d%%  ", int(frac*100))
		}
		out[i] = clip(line+stats[i], cols-1)
	}
	return out
}

// stats writes the ETA when the size of the input is known (else the
// time since the step started), the rate and the counters: what matters
// most first, as a narrow terminal cuts the end.
func (b *progressBar) stats(now time.Time) string {
	var parts []string
	if b.total <= 0 {
		parts = append(parts, formatElapsed(now.Sub(b.started)))
	} else if eta, ok := b.eta(); ok {
		parts = append(parts, "ETA "+formatElapsed(eta))
	}
	if r, ok := b.rate(); ok {
		parts = append(parts, shortCount(int64(r+0.5))+"/s")
	}
	c := b.counters
	parts = append(parts, "read "+shortCount(c["read_count"]), "written "+shortCount(c["write_count"]), "skipped "+shortCount(c["skip_count"]))
	return strings.Join(parts, "  ")
}

// rate returns records read per second over the samples.
func (b *progressBar) rate() (float64, bool) {
	if len(b.samples) < 2 {
		return 0, false
	}
	first, last := b.samples[0], b.samples[len(b.samples)-1]
	dt := last.t.Sub(first.t).Seconds()
	if dt <= 0 {
		return 0, false
	}
	return float64(last.read-first.read) / dt, true
}

// eta extrapolates the time left from the bytes read over the samples.
func (b *progressBar) eta() (time.Duration, bool) {
	if len(b.samples) < 2 || b.total <= 0 {
		return 0, false
	}
	first, last := b.samples[0], b.samples[len(b.samples)-1]
	dt := last.t.Sub(first.t)
	if dt <= 0 || last.done <= first.done {
		return 0, false
	}
	left := float64(b.total-last.done) * float64(dt) / float64(last.done-first.done)
	return time.Duration(max(left, 0)), true
}

// clip cuts s to n columns.
func clip(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	if n == 1 {
		return string(r[:1])
	}
	return string(r[:n-1]) + "…"
}

// groupDigits writes n with thousands separators: 1,234,567.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// shortCount writes a count exactly up to 99,999, then to three
// significant digits: 123k, 1.05M, 2.31G.
func shortCount(n int64) string {
	a := n
	if a < 0 {
		a = -a
	}
	switch {
	case a < 100_000:
		return groupDigits(n)
	case a < 999_500:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	case a < 999_500_000:
		return strings.TrimSuffix(fmt.Sprintf("%.3g", float64(n)/1e6), ".0") + "M"
	}
	return fmt.Sprintf("%.3gG", float64(n)/1e9)
}

// formatElapsed writes a duration to the second: 7s, 2m05s, 1h02m03s.
func formatElapsed(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm%02ds", s/3600, s/60%60, s%60)
}

// progressObserver draws step_progress events on d and passes the other
// events to next. When a step with a line ends, its last counts are
// logged, so that they stay on the screen.
func progressObserver(d *progressDisplay, next flow.Observer, logger *slog.Logger) flow.Observer {
	return flow.ObserverFunc(func(e flow.Event) {
		switch e.Kind {
		case flow.StepProgress:
			d.update(e)
			return
		case flow.StepStarted:
			d.mu.Lock()
			d.started[e.Path] = e.Time
			d.mu.Unlock()
		case flow.StepCompleted, flow.StepFailed, flow.StepSkipped:
			if bar := d.finish(e.Path); bar != nil {
				c := bar.counters
				attrs := []any{"step", bar.path, "read", c["read_count"], "written", c["write_count"], "skipped", c["skip_count"]}
				if el := e.Time.Sub(bar.started).Seconds(); el > 0 && c["read_count"] > 0 {
					attrs = append(attrs, "rate", fmt.Sprintf("%.0f/s", float64(c["read_count"])/el))
				}
				logger.Info("progress", attrs...)
			}
		case flow.RunFinished:
			d.Close()
		}
		next.Observe(e)
	})
}

// observer returns the run's observer: log lines, and the live display
// when c.logger set one up.
func (c *cli) observer(logger *slog.Logger) flow.Observer {
	if c.display == nil {
		return logObserver(logger)
	}
	return progressObserver(c.display, logObserver(logger), logger)
}

// endProgress erases the progress lines, before the result is printed.
func (c *cli) endProgress() {
	if c.display != nil {
		c.display.Close()
	}
}

// logWriter returns where log lines go: stderr, through a live progress
// display when stderr is a terminal and the output is for people.
func (c *cli) logWriter() io.Writer {
	if c.logFormat != "text" || c.quiet {
		return c.stderr
	}
	term := c.terminal
	if term == nil {
		term = func() (func() int, bool) { return terminalWidth(c.stderr) }
	}
	width, ok := term()
	if !ok {
		return c.stderr
	}
	c.display = newProgressDisplay(c.stderr, width)
	return c.display
}
