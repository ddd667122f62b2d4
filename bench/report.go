package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report is what a harness run found.
type report struct {
	Date    string             `json:"date"`
	Command string             `json:"command"`
	Machine machine            `json:"machine"`
	Config  config             `json:"config"`
	Elapsed string             `json:"elapsed"`
	Results map[string]*result `json:"results"`
	Targets []targetResult     `json:"targets"`
	Notes   []string           `json:"notes,omitempty"`
	order   []string
}

// result is one workload's samples and their summary.
type result struct {
	Workload *workload `json:"workload"`
	Samples  []sample  `json:"samples"`
	Skipped  string    `json:"skipped,omitempty"`

	Wall time.Duration `json:"median_wall_ns"`
	CPU  time.Duration `json:"median_cpu_ns"`
	RSS  int64         `json:"peak_rss_bytes"` // the highest of its runs
	// Rate is records (or steps) per second of the median wall time.
	Rate float64 `json:"rate"`
	// VsBaseline is Rate over the baseline's; VsRef over its reference's.
	VsBaseline float64 `json:"vs_baseline,omitempty"`
	VsRef      float64 `json:"vs_ref,omitempty"`
	// CPUVsBaseline is the baseline's CPU time per record over this
	// workload's: what the ratio would be with the CPU time alone, which
	// waits for the disk and other processes' load disturb less.
	CPUVsBaseline float64 `json:"cpu_vs_baseline,omitempty"`
	// Extra holds the medians of the samples' extra figures.
	Extra map[string]float64 `json:"extra,omitempty"`
}

// usPerStep is the median wall time per step, in microseconds.
func (r *result) usPerStep() float64 {
	if r.Rate == 0 {
		return 0
	}
	return 1e6 / r.Rate
}

func (rep *report) summarize() {
	for _, name := range rep.order {
		r := rep.Results[name]
		if len(r.Samples) == 0 {
			continue
		}
		var walls, cpus []time.Duration
		r.Extra = map[string]float64{}
		extras := map[string][]float64{}
		for _, s := range r.Samples {
			walls, cpus = append(walls, s.Wall), append(cpus, s.CPU)
			r.RSS = max(r.RSS, s.RSS)
			for k, v := range s.Extra {
				extras[k] = append(extras[k], v)
			}
		}
		for k, vs := range extras {
			slices.Sort(vs)
			r.Extra[k] = vs[(len(vs)-1)/2]
		}
		r.Wall, r.CPU = median(walls), median(cpus)
		if r.Wall > 0 {
			r.Rate = float64(r.Samples[0].Records) / r.Wall.Seconds()
		}
	}
	base := rep.Results["baseline"]
	for _, name := range rep.order {
		r := rep.Results[name]
		if r.Rate == 0 {
			continue
		}
		if base != nil && base.Rate > 0 && r.Workload.Unit == "records" && r.Workload.Group != 5 && r.Workload.Group != 7 {
			r.VsBaseline = r.Rate / base.Rate
			if r.CPU > 0 && base.CPU > 0 {
				r.CPUVsBaseline = (base.CPU.Seconds() / float64(base.Samples[0].Records)) / (r.CPU.Seconds() / float64(r.Samples[0].Records))
			}
		}
		if ref := rep.Results[r.Workload.Ref]; ref != nil && ref.Rate > 0 {
			r.VsRef = r.Rate / ref.Rate
		}
	}
	rep.Targets = evaluate(rep.Results)
}

// targetResult is one target of the issue, with what was measured.
type targetResult struct {
	Group    int    `json:"group"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Verdict  string `json:"verdict"` // PASS, MISS, or "-" when not measured
}

// evaluate checks the targets against the results.
func evaluate(rs map[string]*result) []targetResult {
	var out []targetResult
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "MISS"
	}
	ratio := func(g int, name, ref string, min float64, text string) {
		t := targetResult{Group: g, Target: text, Verdict: "-", Measured: "not run"}
		r, b := rs[name], rs[ref]
		switch {
		case r == nil || b == nil:
		case r.Skipped != "" || b.Skipped != "":
			t.Measured = "skipped: " + r.Skipped + b.Skipped
		case r.Rate > 0 && b.Rate > 0:
			x := r.Rate / b.Rate
			t.Measured = fmt.Sprintf("%.2f× (%s over %s)", x, rate(r.Rate), rate(b.Rate))
			if g != 3 && r.CPU > 0 && b.CPU > 0 {
				// CPU time per record, for comparison: less disturbed by
				// the disk and the machine's load.
				c := (b.CPU.Seconds() / float64(b.Samples[0].Records)) / (r.CPU.Seconds() / float64(r.Samples[0].Records))
				t.Measured += fmt.Sprintf("; by CPU time %.2f×", c)
			}
			t.Verdict = verdict(x >= min)
		}
		out = append(out, t)
	}
	ratio(1, "go", "baseline", 1.0, "go ≥ 1.0× baseline")
	ratio(2, "js", "baseline", 0.14, "js ≥ 0.14× baseline")
	ratio(3, "go-c2", "go", 1.4, "go-c2 ≥ 1.4× go")
	ratio(3, "go-c2-part", "go", 1.4, "go-c2-part ≥ 1.4× go")
	ratio(3, "js-c2", "js", 1.4, "js-c2 ≥ 1.4× js")
	ratio(3, "js-c2-part", "js", 1.4, "js-c2-part ≥ 1.4× js")
	ratio(4, "go", "go-nostore", 0.9, "checkpoints at chunk 1000 cost ≤ 10%: go ≥ 0.90× go-nostore")
	ratio(5, "sqlite-writer", "sqlite-insert", 0.9, "sqlite-writer ≥ 0.9× sqlite-insert")
	ratio(5, "pg-writer", "pg-copy", 0.9, "pg-writer ≥ 0.9× pg-copy")
	ratio(5, "pg-writer", "pg-insert", 0.9, "(not a target) pg-writer against pg-insert")
	out[len(out)-1].Verdict = "-"
	perStep := func(name string, limit float64) {
		t := targetResult{Group: 6, Target: fmt.Sprintf("%s ≤ %g µs/step", name, limit), Verdict: "-", Measured: "not run"}
		if r := rs[name]; r != nil && r.Rate > 0 {
			us := r.usPerStep()
			t.Measured = fmt.Sprintf("%.2f µs/step", us)
			t.Verdict = verdict(us <= limit)
		}
		out = append(out, t)
	}
	perStep("loop-bolt", 20)
	perStep("fork-bolt", 20)
	perStep("loop-memory", 2)
	perStep("fork-memory", 2)
	for _, name := range []string{"resume-c1", "resume-c2-part", "resume-lag0"} {
		t := targetResult{Group: 7, Target: name + ": re-processed per kill ≤ chunk_size × concurrency", Verdict: "-", Measured: "not run"}
		if r := rs[name]; r != nil && len(r.Samples) > 0 {
			e := r.Samples[0].Extra
			t.Target = fmt.Sprintf("%s (checkpoint_lag %.0f): re-processed per kill ≤ %.0f", name, e["lag"], e["bound"])
			if e["kills"] == 0 {
				t.Measured = "no kill landed before the end"
			} else {
				t.Measured = fmt.Sprintf("max %.0f, mean %.0f over %.0f kills", e["reprocessed_max"], e["reprocessed_mean"], e["kills"])
				t.Verdict = verdict(e["reprocessed_max"] <= e["bound"])
			}
		}
		out = append(out, t)
	}
	{
		t := targetResult{Group: 8, Target: "peak RSS at 10× ≤ 100 MB and ≤ 1.1× the 1× figure", Verdict: "-", Measured: "not run"}
		big, one := rs["go-x10"], rs["go"]
		if big != nil && one != nil && big.RSS > 0 && one.RSS > 0 {
			t.Target = fmt.Sprintf("peak RSS at %s records ≤ 100 MB and ≤ 1.1× the %s-record figure", count(big.Workload.Rows), count(one.Workload.Rows))
			t.Measured = fmt.Sprintf("%s at %s, %s at %s (%.2f×)", mb(big.RSS), count(big.Workload.Rows), mb(one.RSS), count(one.Workload.Rows), float64(big.RSS)/float64(one.RSS))
			t.Verdict = verdict(big.RSS <= 100<<20 && float64(big.RSS) <= 1.1*float64(one.RSS))
		}
		out = append(out, t)
	}
	return out
}

func rate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2fM/s", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.1fk/s", r/1e3)
	}
	return fmt.Sprintf("%.0f/s", r)
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

func count(n int) string {
	switch {
	case n >= 1e6 && n%1e5 == 0:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/1e6), ".0") + "M"
	case n >= 1e3 && n%100 == 0:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/1e3), ".0") + "k"
	}
	return fmt.Sprint(n)
}

func (rep *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nFlowbatch benchmarks, %s\n", rep.Date)
	m := rep.Machine
	fmt.Fprintf(w, "machine: %d CPUs (%s), %s memory, %s, %s; disk: %s\n", m.CPUs, m.CPU, m.Memory, m.Go, m.OS, m.Disk)
	fmt.Fprintf(w, "load average: %s at the start, %s at the end; fsync of a 4 KiB append: %s at the start, %s at the end (median)\n",
		m.LoadBeg, m.LoadEnd, m.FsyncBeg, m.FsyncEnd)
	fmt.Fprintf(w, "%d runs per workload (medians), interleaved; %s in all\n\n", rep.Config.Runs, rep.Elapsed)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\t#\tinput\twall\trate\tCPU\tpeak RSS\t× baseline\t× ref\tref\tCPU × baseline\t")
	for _, name := range rep.order {
		r := rep.Results[name]
		wl := r.Workload
		if r.Skipped != "" {
			fmt.Fprintf(tw, "%s\t%d\t%s\tskipped: %s\t\t\t\t\t\t\t\t\n", name, wl.Group, count(wl.Rows), r.Skipped)
			continue
		}
		if len(r.Samples) == 0 {
			continue
		}
		rt := rate(r.Rate)
		if wl.Unit == "steps" {
			rt = fmt.Sprintf("%.2f µs/step", r.usPerStep())
		}
		if wl.Group == 7 {
			e := r.Samples[0].Extra
			rt = fmt.Sprintf("again: max %.0f", e["reprocessed_max"])
		}
		vb, vr, vc := "", "", ""
		if r.VsBaseline > 0 {
			vb = fmt.Sprintf("%.2f", r.VsBaseline)
		}
		if r.CPUVsBaseline > 0 {
			vc = fmt.Sprintf("%.2f", r.CPUVsBaseline)
		}
		if r.VsRef > 0 {
			vr = fmt.Sprintf("%.2f", r.VsRef)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.3fs\t%s\t%.3fs\t%s\t%s\t%s\t%s\t%s\t\n", name, wl.Group, count(wl.Rows),
			r.Wall.Seconds(), rt, r.CPU.Seconds(), mb(r.RSS), vb, vr, wl.Ref, vc)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "#\ttarget\tmeasured\tverdict")
	for _, t := range rep.Targets {
		if t.Measured == "not run" {
			continue
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", t.Group, t.Target, t.Measured, t.Verdict)
	}
	tw.Flush()
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	fmt.Fprintln(w, "\nRatios compare workloads of this run; on a shared machine absolute times move between runs, ratios much less.")
}
