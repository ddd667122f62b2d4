package decorators

import (
	"testing"
	"time"
)

func TestRetryDelayStrategies(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name     string
		p        retryPolicy
		attempts []int
		want     []time.Duration
	}{
		{"constant", retryPolicy{strategy: "constant", min: 100 * ms, max: time.Second},
			[]int{1, 2, 3, 10}, []time.Duration{100 * ms, 100 * ms, 100 * ms, 100 * ms}},
		{"linear", retryPolicy{strategy: "linear", min: 100 * ms, max: time.Second},
			[]int{1, 2, 3, 10}, []time.Duration{100 * ms, 200 * ms, 300 * ms, time.Second}},
		{"exponential", retryPolicy{strategy: "exponential", min: 100 * ms, max: time.Second},
			[]int{1, 2, 3, 4, 5}, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second}},
		{"linear capped at max", retryPolicy{strategy: "linear", min: 400 * ms, max: 500 * ms},
			[]int{1, 2, 3}, []time.Duration{400 * ms, 500 * ms, 500 * ms}},
		{"exponential capped at max", retryPolicy{strategy: "exponential", min: time.Second, max: 30 * time.Second},
			[]int{5, 6, 7}, []time.Duration{16 * time.Second, 30 * time.Second, 30 * time.Second}},
		{"constant above max is capped", retryPolicy{strategy: "constant", min: 2 * time.Second, max: time.Second},
			[]int{1, 2}, []time.Duration{time.Second, time.Second}},
		{"zero interval", retryPolicy{strategy: "exponential", min: 0, max: time.Second},
			[]int{1, 5}, []time.Duration{0, 0}},
		// 2^99 seconds does not fit in a Duration: the wait must still be
		// the cap, not a wrapped-around or negative value.
		{"exponential overflow", retryPolicy{strategy: "exponential", min: time.Second, max: time.Minute},
			[]int{64, 100, 1000}, []time.Duration{time.Minute, time.Minute, time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, a := range tt.attempts {
				if got := tt.p.delay(a); got != tt.want[i] {
					t.Errorf("delay(%d) = %s, want %s", a, got, tt.want[i])
				}
			}
		})
	}
}

func TestRetryDelayJitterBounds(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		p       retryPolicy
		attempt int
		base    time.Duration // the wait without jitter
	}{
		{"constant half", retryPolicy{strategy: "constant", min: 100 * ms, max: time.Second, jitter: 0.5}, 3, 100 * ms},
		{"exponential quarter", retryPolicy{strategy: "exponential", min: 100 * ms, max: time.Second, jitter: 0.25}, 3, 400 * ms},
		{"full jitter after cap", retryPolicy{strategy: "exponential", min: 100 * ms, max: 300 * ms, jitter: 1}, 5, 300 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo := tt.base - time.Duration(tt.p.jitter*float64(tt.base))
			distinct := map[time.Duration]bool{}
			for range 500 {
				d := tt.p.delay(tt.attempt)
				if d < lo || d > tt.base {
					t.Fatalf("delay(%d) = %s, want within [%s, %s]", tt.attempt, d, lo, tt.base)
				}
				distinct[d] = true
			}
			// The jitter is random: 500 draws that all coincide mean none
			// was applied.
			if len(distinct) < 2 {
				t.Errorf("jitter %v gave one value only: %v", tt.p.jitter, distinct)
			}
		})
	}
}

func TestRetryDelayNoJitterIsDeterministic(t *testing.T) {
	p := retryPolicy{strategy: "exponential", min: 10 * time.Millisecond, max: time.Second}
	first := p.delay(3)
	for range 100 {
		if d := p.delay(3); d != first {
			t.Fatalf("delay without jitter varies: %s then %s", first, d)
		}
	}
}
