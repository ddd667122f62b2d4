// Command gencsv writes the standard input CSV of the batch tests and
// benchmarks (see internal/gen): the same file for the same -n and -seed.
//
//	gencsv -n 200000 -seed 1 -o in.csv
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/flowbatch/flow/internal/gen"
)

func main() {
	n := flag.Int("n", 1000, "how many records")
	seed := flag.Int64("seed", 1, "the seed: the same seed gives the same file")
	out := flag.String("o", "-", "the output file (- for stdout)")
	flag.Parse()
	if err := run(*n, *seed, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gencsv:", err)
		os.Exit(1)
	}
}

func run(n int, seed int64, path string) error {
	if n < 0 {
		return fmt.Errorf("-n %d: want 0 or more", n)
	}
	var w io.Writer = os.Stdout
	var f *os.File
	if path != "-" {
		var err error
		if f, err = os.Create(path); err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	if err := gen.WriteCSV(bw, n, seed); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if f != nil {
		return f.Close()
	}
	return nil
}
