package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/flowbatch/flow/flow"
)

// screen is a fake terminal: it applies what the display writes (text,
// \r, \n, and the cursor-up and erase sequences it uses) to a grid of
// lines, and fails on any other escape sequence.
type screen struct {
	t     *testing.T
	lines []string
	row   int
	col   int
}

var csi = regexp.MustCompile(`^\x1b\[(\d*)([A-Za-z])`)

func (s *screen) Write(p []byte) (int, error) {
	in := string(p)
	for len(in) > 0 {
		if m := csi.FindStringSubmatch(in); m != nil {
			n := 1
			if m[1] != "" {
				n, _ = strconv.Atoi(m[1])
			}
			switch m[2] {
			case "A":
				s.row = max(s.row-n, 0)
			case "J": // to the end of the screen
				s.cut()
				s.lines = s.lines[:s.row+1]
			case "K": // to the end of the line
				s.cut()
			default:
				s.t.Errorf("unexpected escape sequence %q", m[0])
			}
			in = in[len(m[0]):]
			continue
		}
		r, size := utf8.DecodeRuneInString(in)
		in = in[size:]
		switch r {
		case '\x1b':
			s.t.Errorf("unexpected escape sequence at %q", in)
		case '\r':
			s.col = 0
		case '\n':
			s.row, s.col = s.row+1, 0
		default:
			s.grow()
			line := []rune(s.lines[s.row])
			for len(line) < s.col {
				line = append(line, ' ')
			}
			if s.col < len(line) {
				line[s.col] = r
			} else {
				line = append(line, r)
			}
			s.lines[s.row] = string(line)
			s.col++
		}
	}
	return len(p), nil
}

func (s *screen) grow() {
	for len(s.lines) <= s.row {
		s.lines = append(s.lines, "")
	}
}

// cut clears the cursor's line from the cursor on.
func (s *screen) cut() {
	s.grow()
	if r := []rune(s.lines[s.row]); len(r) > s.col {
		s.lines[s.row] = string(r[:s.col])
	}
}

// text returns the screen's lines, without the empty one the cursor may
// sit on.
func (s *screen) text() string {
	out := strings.Join(s.lines, "\n")
	return strings.TrimSuffix(out, "\n")
}

// fakeClock is a clock that moves only when told.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func (c *fakeClock) add(d time.Duration) time.Time {
	c.t = c.t.Add(d)
	return c.t
}

func testDisplay(t *testing.T, cols int) (*progressDisplay, *screen, *fakeClock) {
	scr := &screen{t: t}
	clock := &fakeClock{t: time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)}
	d := newProgressDisplay(scr, func() int { return cols })
	d.now, d.tick, d.fill, d.empty = clock.now, 0, "#", "-"
	return d, scr, clock
}

// testLogger logs as the CLI does, without the time.
func testLogger(w *progressDisplay) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}}))
}

func progressEvent(path string, t time.Time, read, written, skipped, done, total int64) flow.Event {
	return flow.Event{Kind: flow.StepProgress, Path: path, Time: t, Done: done, Total: total,
		Counters: map[string]int64{"read_count": read, "write_count": written, "skip_count": skipped}}
}

func TestProgressLine(t *testing.T) {
	start := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		cols    int
		samples []progressSample
		total   int64
		want    string
	}{
		{"first event, size unknown", 100, []progressSample{{start, 10, 0}}, 0,
			"main/load  3s  read 10  written 0  skipped 2"},
		{"size unknown", 100, []progressSample{{start, 0, 0}, {start.Add(2 * time.Second), 5000, 0}}, 0,
			"main/load  3s  2,500/s  read 5,000  written 4,990  skipped 2"},
		{"a quarter of the bytes", 100, []progressSample{{start, 0, 0}, {start.Add(2 * time.Second), 5000, 250}}, 1000,
			"main/load  ######---------------------   25%  ETA 6s  2,500/s  read 5,000  written 4,990  skipped 2"},
		{"wide: the longest bar", 120, []progressSample{{start, 0, 0}, {start.Add(2 * time.Second), 5000, 500}}, 1000,
			"main/load  ###############---------------   50%  ETA 2s  2,500/s  read 5,000  written 4,990  skipped 2"},
		{"90 columns: a shorter bar", 90, []progressSample{{start, 0, 0}, {start.Add(2 * time.Second), 5000, 500}}, 1000,
			"main/load  ########---------   50%  ETA 2s  2,500/s  read 5,000  written 4,990  skipped 2"},
		{"no room for a bar", 75, []progressSample{{start, 0, 0}, {start.Add(2 * time.Second), 5000, 500}}, 1000,
			"main/load   50%  ETA 2s  2,500/s  read 5,000  written 4,990  skipped 2"},
		{"cut short", 60, []progressSample{{start, 0, 0}, {start.Add(2 * time.Second), 5000, 1000}}, 1000,
			"main/load  100%  ETA 0s  2,500/s  read 5,000  written 4,99…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _, _ := testDisplay(t, tc.cols)
			last := tc.samples[len(tc.samples)-1]
			bar := &progressBar{path: "main/load", started: start, samples: tc.samples, done: last.done, total: tc.total,
				counters: map[string]int64{"read_count": last.read, "write_count": last.read - 10, "skip_count": 2}}
			d.bars = []*progressBar{bar}
			got := d.lines(tc.cols, start.Add(3*time.Second))[0]
			if got != tc.want {
				t.Errorf("line\n got %q\nwant %q", got, tc.want)
			}
			if n := utf8.RuneCountInString(got); n >= tc.cols {
				t.Errorf("line of %d columns on a terminal of %d", n, tc.cols)
			}
		})
	}
}

// Two batches run side by side: each has a line, log lines scroll above
// them, an ended step's line goes away, and Close leaves no line behind.
func TestProgressDisplay(t *testing.T) {
	d, scr, clock := testDisplay(t, 120)
	obs := progressObserver(d, flow.ObserverFunc(func(flow.Event) {}), testLogger(d))

	t0 := clock.now()
	obs.Observe(flow.Event{Kind: flow.StepStarted, Path: "main/both/a", Time: t0})
	obs.Observe(progressEvent("main/both/a", clock.add(time.Second), 100, 100, 0, 10, 100))
	obs.Observe(progressEvent("main/both/b", clock.add(time.Second), 50, 40, 1, 0, 0))
	want := "main/both/a  ###---------------------------   10%  read 100  written 100  skipped 0\n" +
		"main/both/b  0s  read 50  written 40  skipped 1"
	if got := scr.text(); got != want {
		t.Fatalf("screen:\n%s\nwant:\n%s", got, want)
	}

	// A log line goes above the progress lines.
	fmt.Fprintln(d, "level=WARN msg=hello")
	want = "level=WARN msg=hello\n" + want
	if got := scr.text(); got != want {
		t.Fatalf("screen after a log line:\n%s\nwant:\n%s", got, want)
	}

	// Within 200ms of the last draw, an update is not drawn...
	clock.add(100 * time.Millisecond)
	obs.Observe(progressEvent("main/both/a", clock.now(), 200, 200, 0, 20, 100))
	if got := scr.text(); got != want {
		t.Fatalf("redrawn within 200ms:\n%s", got)
	}
	// ... the next one is.
	obs.Observe(progressEvent("main/both/a", clock.add(900*time.Millisecond), 600, 600, 0, 60, 100))
	want = "level=WARN msg=hello\n" +
		"main/both/a  ##################------------   60%  ETA 2s  250/s  read 600  written 600  skipped 0\n" +
		"main/both/b  1s  read 50  written 40  skipped 1"
	if got := scr.text(); got != want {
		t.Fatalf("screen:\n%s\nwant:\n%s", got, want)
	}

	// a ends: its line goes, and its last counts are logged.
	obs.Observe(flow.Event{Kind: flow.StepCompleted, Path: "main/both/a", Time: clock.add(time.Second)})
	want = "level=WARN msg=hello\n" +
		"level=INFO msg=progress step=main/both/a read=600 written=600 skipped=0 rate=150/s\n" +
		"main/both/b  2s  read 50  written 40  skipped 1"
	if got := scr.text(); got != want {
		t.Fatalf("screen:\n%s\nwant:\n%s", got, want)
	}

	d.Close()
	want = "level=WARN msg=hello\n" +
		"level=INFO msg=progress step=main/both/a read=600 written=600 skipped=0 rate=150/s"
	if got := scr.text(); got != want {
		t.Fatalf("screen after Close:\n%s\nwant:\n%s", got, want)
	}
	if scr.row != 2 || scr.col != 0 {
		t.Errorf("cursor at %d:%d, want the start of line 2", scr.row, scr.col)
	}
}

// A path longer than 32 columns, or a quarter of the terminal, is cut
// from the left.
func TestProgressLongPath(t *testing.T) {
	for _, cols := range []int{200, 100} {
		d, scr, clock := testDisplay(t, cols)
		path := "main/" + strings.Repeat("x", 40) + "/load"
		d.update(progressEvent(path, clock.now(), 1, 1, 0, 0, 0))
		keep := min(32, cols/4) - 1
		if got := scr.text(); !strings.HasPrefix(got, "…"+path[len(path)-keep:]+"  0s  read 1 ") {
			t.Errorf("%d columns: line %q", cols, got)
		}
	}
}

func TestGroupDigits(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -45000: "-45,000"} {
		if got := groupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0", 99_999: "99,999", 100_000: "100k", 999_499: "999k", 999_500: "1M", 1_049_000: "1.05M",
		12_345_678: "12.3M", 999_499_999: "999M", 2_310_000_000: "2.31G", -150_000: "-150k"} {
		if got := shortCount(n); got != want {
			t.Errorf("shortCount(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{0: "0s", 59 * time.Second: "59s", 125 * time.Second: "2m05s", 3723 * time.Second: "1h02m03s"} {
		if got := formatElapsed(d); got != want {
			t.Errorf("formatElapsed(%s) = %q, want %q", d, got, want)
		}
	}
}

// testCLI runs the command line as Main does, with stderr taken for a
// terminal of 120 columns when tty is set.
func testCLI(t *testing.T, tty bool, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdout: &out, stderr: &errb, stdin: strings.NewReader(""),
		signals: func() (<-chan os.Signal, func()) { return make(chan os.Signal), func() {} }}
	if tty {
		c.terminal = func() (func() int, bool) { return func() int { return 120 }, true }
	}
	root := c.root()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	code = exitOK
	if err := root.Execute(); err != nil {
		code = exitUsage
		if ee, ok := err.(*exitError); ok {
			code = ee.code
		}
	}
	return code, out.String(), errb.String()
}

// The batch example on a (forced) terminal draws progress lines and
// erases them; on a plain stderr, with --log-format json or --quiet, it
// writes no escape sequence; --quiet leaves only the result.
func TestProgressModes(t *testing.T) {
	example := filepath.Join("..", "examples", "batch", "batch.flow.hcl")
	for _, tc := range []struct {
		name  string
		tty   bool
		args  []string
		check func(t *testing.T, stderr string)
	}{
		{"terminal", true, nil, func(t *testing.T, stderr string) {
			if !strings.Contains(stderr, "\x1b[J") || !strings.Contains(stderr, "main/convert  ") {
				t.Errorf("no progress line drawn:\n%q", stderr)
			}
			scr := &screen{t: t}
			_, _ = scr.Write([]byte(stderr))
			text := scr.text()
			if strings.Contains(text, "main/convert  ") {
				t.Errorf("a progress line is left on the screen:\n%s", text)
			}
			if !strings.Contains(text, "msg=progress step=main/convert read=2000 written=2000 skipped=3") {
				t.Errorf("the final counts are not logged:\n%s", text)
			}
		}},
		{"plain", false, nil, func(t *testing.T, stderr string) {
			if !strings.Contains(stderr, "msg=progress step=main/convert read=2000 written=2000 skipped=3") {
				t.Errorf("no progress log line:\n%s", stderr)
			}
		}},
		{"json", true, []string{"--log-format", "json"}, func(t *testing.T, stderr string) {
			for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Errorf("not a JSON line: %q", line)
				}
			}
		}},
		{"quiet", true, []string{"--quiet"}, func(t *testing.T, stderr string) {
			for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
				if !strings.HasPrefix(line, "time=") || !strings.Contains(line, "level=WARN") {
					t.Errorf("quiet, but stderr has %q", line)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"exec", example, "--no-store", "-p", "out=" + t.TempDir()}, tc.args...)
			code, stdout, stderr := testCLI(t, tc.tty, args...)
			if code != exitOK || !strings.HasPrefix(stdout, "payments COMPLETED") {
				t.Fatalf("exit code %d\n%s%s", code, stdout, stderr)
			}
			if !tc.tty || tc.name != "terminal" {
				if strings.Contains(stderr, "\x1b") {
					t.Errorf("escape sequences on stderr:\n%q", stderr)
				}
			}
			tc.check(t, stderr)
		})
	}
}
