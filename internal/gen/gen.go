// Package gen makes the standard input of Flowbatch's batch tests and
// benchmarks, and the standard transform over it.
//
// The input is a CSV of payments, the same for a given size and seed:
//
//	id,account,amount,currency,ts,memo
//	1,ACC004217,1234.56,EUR,2026-11-20T00:00:03Z,Lorem ipsum dolor sit
//
// ids count from 1; accounts are ACC000000 to ACC009999; amounts are
// decimals with two places, about one in eight below 10 and one in ten
// above 5000 (with 10.00 and 5000.00 now and then, the edges of the
// transform); currencies are a few ISO codes; timestamps increase; memos
// are 20 to 40 letters and spaces, some with a comma (so quoted).
//
// The standard transform T drops the rows with amount < 10 and writes id,
// account, the amount in integer cents, the currency in lower case, and
// big = amount > 5000. Transform and Process are T over typed records
// (exact decimals, no floats), as a Go processor of the batch step runs it;
// Baseline is T over plain strings with encoding/csv, the yardstick the
// batch step is measured against.
package gen

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"
)

// Header is the input's header.
var Header = []string{"id", "account", "amount", "currency", "ts", "memo"}

// Accounts is how many accounts the input spreads over.
const Accounts = 10000

// Currencies are the currency codes the input uses.
var Currencies = []string{"EUR", "USD", "GBP", "CHF", "JPY", "SEK"}

// Start is the timestamp of the first row (the later ones add 1 to 4 seconds each).
var Start = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// Gen produces the rows of the standard input one at a time.
type Gen struct {
	rng  *rand.Rand
	id   int64
	ts   time.Time
	memo []byte
}

// New returns a generator; the same seed gives the same rows.
func New(seed int64) *Gen {
	s := uint64(seed)
	return &Gen{rng: rand.New(rand.NewPCG(s, s^0x5deece66d)), ts: Start}
}

// Next returns the next row's fields, in the order of Header. The slice
// and its strings are new on every call.
func (g *Gen) Next() []string {
	r := g.rng
	g.id++
	g.ts = g.ts.Add(time.Duration(1+r.IntN(4)) * time.Second)
	return []string{
		strconv.FormatInt(g.id, 10),
		fmt.Sprintf("ACC%06d", r.IntN(Accounts)),
		formatCents(g.cents()),
		Currencies[r.IntN(len(Currencies))],
		g.ts.Format(time.RFC3339),
		g.nextMemo(),
	}
}

// cents draws an amount in cents.
func (g *Gen) cents() int64 {
	r := g.rng
	switch k := r.IntN(100); {
	case k < 12: // below 10: dropped by T
		return 1 + r.Int64N(999)
	case k < 22: // above 5000: big
		return 500001 + r.Int64N(1500000)
	case k == 22:
		return 1000 // 10.00: kept
	case k == 23:
		return 500000 // 5000.00: not big
	default:
		return 1000 + r.Int64N(499001)
	}
}

func formatCents(c int64) string {
	b := strconv.AppendInt(nil, c/100, 10)
	b = append(b, '.', byte('0'+c%100/10), byte('0'+c%10))
	return string(b)
}

const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// nextMemo makes 20 to 40 characters of words, sometimes with a comma
// inside; never a space at either end.
func (g *Gen) nextMemo() string {
	r := g.rng
	n := 20 + r.IntN(21)
	m := g.memo[:0]
	word := 2 + r.IntN(7)
	for len(m) < n {
		if word == 0 && len(m) < n-1 {
			m = append(m, ' ')
			word = 2 + r.IntN(7)
			continue
		}
		m = append(m, letters[r.IntN(len(letters))])
		word--
	}
	if r.IntN(7) == 0 {
		m[1+r.IntN(n-2)] = ','
	}
	g.memo = m
	return string(m)
}

// WriteCSV writes the header and n rows made from seed to w.
func WriteCSV(w io.Writer, n int, seed int64) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write(Header); err != nil {
		return err
	}
	g := New(seed)
	for i := 0; i < n; i++ {
		if err := cw.Write(g.Next()); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}
