package cli

import (
	"strings"
	"testing"
	"time"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct {
		dsn, shown string
	}{
		{"postgres://ada:pw@db/x", "postgres://ada:xxxxx@db/x"},
		{"postgresql://ada@db/x?sslmode=disable", "postgresql://ada@db/x?sslmode=disable"},
		{"postgres://ada@db/x?password=pw&sslmode=disable", "postgres://ada@db/x?password=xxxxx&sslmode=disable"},
		{"postgres://ada:p%25w@db/x", "postgres://ada:xxxxx@db/x"},
		{"postgres://ada:pw@db:bad/x", "postgres://..."},
	} {
		if got := redactDSN(tc.dsn); got != tc.shown {
			t.Errorf("redactDSN(%q) = %q, want %q", tc.dsn, got, tc.shown)
		}
	}
	for _, tc := range []struct {
		dsn, msg string
	}{
		{"postgres://ada:s3cret@db/x", "cannot parse `postgres://ada:s3cret@db/x`: s3cret"},
		{"postgres://ada:s3%2Fcret@db/x", "dsn postgres://ada:s3%2Fcret@db/x means s3/cret"},
		{"postgres://ada@db/x?password=s3cret", "password=s3cret"},
		{"postgres://ada:s3cret@db:bad/x", "parse postgres://ada:s3cret@db:bad/x: invalid port"},
	} {
		if got := redactIn(tc.msg, tc.dsn); strings.Contains(got, "s3") {
			t.Errorf("redactIn(%q, %q) = %q", tc.msg, tc.dsn, got)
		}
	}
}

func TestParseAge(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * 24 * time.Hour, true},
		{"1.5d", 36 * time.Hour, true},
		{"7d12h", 7*24*time.Hour + 12*time.Hour, true},
		{"0d", 0, true},
		{"90m", 90 * time.Minute, true},
		{"0s", 0, true},
		{"", 0, false},
		{"d", 0, false},
		{"3x", 0, false},
		{"-1h", 0, false},
		{"1d-30h", 0, false},
		{"1dd", 0, false},
	} {
		got, err := parseAge(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("parseAge(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestKeys(t *testing.T) {
	for path, want := range map[string]string{
		"main":                     "main",
		"main/a/b":                 "main a b",
		"main/loop#7/y":            "main loop #7 y",
		"main/fork[3]/x":           "main fork [3] x",
		"main/s/@catch/z":          "main s @catch z",
		"main/f[0]/l#2/g[10]/leaf": "main f [0] l #2 g [10] leaf",
	} {
		if got := strings.Join(keys(path), " "); got != want {
			t.Errorf("keys(%q) = %q, want %q", path, got, want)
		}
	}
}
