package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// treeFlow has a step of each status: skipped, retried, failed and caught,
// and a gate that fails until ./ok exists.
const treeFlow = `flow "tree" {
  param "day" {
    type = string
  }

  exec "one" {
    command = ["sh", "-c", "echo one >> log"]
  }
  log "maybe" {
    if      = false
    message = "never"
  }
  loop "l" {
    vars  = { i = 0 }
    while = var.i < 2

    set "inc" {
      assign = { i = var.i + 1 }
    }
  }
  fork "f" {
    for_each = ["a", "b"]

    exec "x" {
      command = ["sh", "-c", "echo f${each.value} >> log"]
    }
  }
  exec "flaky" {
    command = ["sh", "-c", "n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; test $n -ge 2"]
    retry {
      max_attempts = 2
      strategy     = "constant"
      min_interval = "1ms"
    }
  }
  sequential "guarded" {
    fail "oops" {
      message = "oops"
    }
    catch {
      log "caught" {
        message = "caught: ${error.message}"
      }
    }
  }
  exec "gate" {
    command = ["sh", "-c", "test -f ok"]
  }

  output "day" {
    value = param.day
  }
}
`

var (
	maskTime     = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+`)
	maskDuration = regexp.MustCompile(`\b(\d+(\.\d+)?(ns|µs|ms|s|m|h))+`)
	maskOwner    = regexp.MustCompile(`pid \d+ on \S+`)
	maskFile     = regexp.MustCompile(`\S*/main\.flow\.hcl`)
)

// maskShow hides what changes from run to run in flow show's text.
func maskShow(s string) string {
	s = maskTime.ReplaceAllString(s, "<time>")
	s = maskOwner.ReplaceAllString(s, "pid <pid> on <host>")
	s = maskFile.ReplaceAllString(s, "<dir>/main.flow.hcl")
	return maskDuration.ReplaceAllString(s, "<d>")
}

var (
	jsonTime     = regexp.MustCompile(`"(created|started|ended|updated|lease_until)": "([^"]*)"`)
	jsonMasked   = regexp.MustCompile(`"(duration_ms|pid)": \d+`)
	jsonHost     = regexp.MustCompile(`"host": "[^"]+"`)
	jsonFile     = regexp.MustCompile(`"file": "/[^"]*/main\.flow\.hcl"`)
	rfc3339InUTC = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$`)
)

// maskShowJSON does the same for its JSON, checking that times are in
// UTC.
func maskShowJSON(t *testing.T, s string) string {
	t.Helper()
	if !json.Valid([]byte(s)) {
		t.Fatalf("not JSON:\n%s", s)
	}
	s = jsonTime.ReplaceAllStringFunc(s, func(m string) string {
		sub := jsonTime.FindStringSubmatch(m)
		if !rfc3339InUTC.MatchString(sub[2]) {
			t.Errorf("%s: %q is not an RFC 3339 time in UTC", sub[1], sub[2])
		}
		return `"` + sub[1] + `": "<time>"`
	})
	s = jsonMasked.ReplaceAllString(s, `"$1": "<n>"`)
	s = jsonHost.ReplaceAllString(s, `"host": "<host>"`)
	return jsonFile.ReplaceAllString(s, `"file": "<dir>/main.flow.hcl"`)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the tests with -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (rerun with -update if intended):\n%s", path, got)
	}
}

// flow show prints the execution and its tree of steps, with the steps an
// earlier execution completed marked as restored.
func TestShow(t *testing.T) {
	dir := writeFlow(t, treeFlow)
	wantCode(t, flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d1"), 1)
	touch(t, filepath.Join(dir, "ok"))
	wantCode(t, flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d1"), 0)

	for _, tc := range []struct {
		args   []string
		golden string
	}{
		{[]string{"show", "1"}, "show-failed.golden"},
		{[]string{"show", "2"}, "show-resumed.golden"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := flowIn(t, dir, tc.args...)
			wantCode(t, r, 0)
			golden(t, tc.golden, maskShow(r.stdout))
		})
	}
	t.Run("json", func(t *testing.T) {
		r := flowIn(t, dir, "show", "2", "-o", "json")
		wantCode(t, r, 0)
		golden(t, "show-resumed.json.golden", maskShowJSON(t, r.stdout))
	})
	for _, args := range [][]string{{"show", "3"}, {"show", "x"}, {"show"}, {"show", "1", "-o", "yaml"}} {
		wantCode(t, flowIn(t, dir, args...), 2)
	}
}
