package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// machine describes where the figures were measured.
type machine struct {
	CPUs    int    `json:"cpus"`
	CPU     string `json:"cpu"`
	Memory  string `json:"memory"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Disk    string `json:"disk"`
	LoadBeg string `json:"load_at_start"`
	LoadEnd string `json:"load_at_end,omitempty"`
	// FsyncBeg and FsyncEnd are the median latency of fdatasync after a
	// 4 KiB append in the data directory, at the start and at the end:
	// what a durable commit waits for at least.
	FsyncBeg string `json:"fsync_at_start"`
	FsyncEnd string `json:"fsync_at_end,omitempty"`
}

func describeMachine(dir string) machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	m.CPU = firstField("/proc/cpuinfo", "model name")
	if v := firstField("/proc/meminfo", "MemTotal"); v != "" {
		var kb int64
		if _, err := fmt.Sscanf(v, "%d kB", &kb); err == nil {
			m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		} else {
			m.Memory = v
		}
	}
	m.Disk = describeDisk(dir)
	m.LoadBeg = loadAvg()
	m.FsyncBeg = fsyncLatency(dir)
	return m
}

// fsyncLatency measures the median time of 4 KiB appended to a file and
// made durable (fdatasync) in dir, over 50 tries.
func fsyncLatency(dir string) string {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return "?"
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	var ds []time.Duration
	for i := 0; i < 50; i++ {
		t := time.Now()
		if _, err := f.Write(buf); err != nil {
			return "?"
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return "?"
		}
		ds = append(ds, time.Since(t))
	}
	return median(ds).Round(time.Microsecond).String()
}

// firstField returns the value of the first "key : value" line of a /proc
// file.
func firstField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// describeDisk names the file system of dir, its device, and whether the
// device is rotational (as the kernel reports it: virtual disks often
// claim to be).
func describeDisk(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	f, err := os.Open("/proc/mounts")
	if err != nil {
		return ""
	}
	defer f.Close()
	var dev, fstype, best string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Fields(sc.Text())
		if len(p) < 3 {
			continue
		}
		mp := p[1]
		if (abs == mp || strings.HasPrefix(abs, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			best, dev, fstype = mp, p[0], p[2]
		}
	}
	if dev == "" {
		return ""
	}
	out := fmt.Sprintf("%s on %s (%s)", fstype, dev, best)
	name := filepath.Base(dev)
	if b, err := os.ReadFile("/sys/block/" + name + "/queue/rotational"); err == nil {
		if strings.TrimSpace(string(b)) == "1" {
			out += ", reported rotational"
		} else {
			out += ", non-rotational"
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(abs, &st); err == nil {
		out += fmt.Sprintf(", %.0f GiB free", float64(st.Bavail)*float64(st.Bsize)/(1<<30))
	}
	return out
}
