package script

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

func TestPredicate(t *testing.T) {
	pred, err := Expressions{}.Predicate("item.amount > 20 && item.cur !== 'USD'", "f.hcl:3:14")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range small(5) {
		ok, err := pred(&batch.Chunk{}, r)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			got = append(got, r.Values[0].Text())
		}
	}
	if strings.Join(got, ",") != "3,5" {
		t.Errorf("kept %v", got)
	}
	// Errors carry the attribute's position and the record's.
	pred, _ = Expressions{}.Predicate("item.nope.deeper", "f.hcl:3:14")
	_, err = pred(&batch.Chunk{}, small(1)[0])
	var je *Error
	if !errors.As(err, &je) || je.Where != "f.hcl:3:25" || je.Record != "in.csv:2" {
		t.Errorf("err %v (%+v)", err, je)
	}
	if _, err := (Expressions{}).Predicate("item.a >", "f.hcl:3:14"); err == nil || !strings.HasPrefix(err.Error(), "f.hcl:3:") {
		t.Errorf("syntax error: %v", err)
	}
	// Safe from several workers at once (-race), one runtime each.
	pred, _ = Expressions{}.Predicate("(globalThis.n = (globalThis.n || 0) + 1) > 0", "f.hcl:1:1")
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &batch.Chunk{Worker: w}
			for _, r := range small(200) {
				if ok, err := pred(c, r); err != nil || !ok {
					t.Error(ok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestKey(t *testing.T) {
	for _, src := range []string{"item => item.cur", "function (item) { return item.cur; }", "item.cur"} {
		key, err := Expressions{}.Key(src, "f.hcl:1:1")
		if err != nil {
			t.Fatal(src, err)
		}
		var got []string
		for _, r := range small(3) {
			k, err := key(r)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, k)
		}
		if strings.Join(got, ",") != "EUR,USD,EUR" {
			t.Errorf("%s: keys %v", src, got)
		}
	}
	key, _ := Expressions{}.Key("item => item.missing", "f.hcl:1:1")
	if k, err := key(small(1)[0]); k != "" || err != nil {
		t.Errorf("null key: %q %v", k, err)
	}
	key, _ = Expressions{}.Key("item => ({ a: item.id })", "f.hcl:1:1")
	if k, _ := key(small(1)[0]); k != `{"a":1}` {
		t.Errorf("object key %q", k)
	}
}

// A batch step with a JS processor, a writer filter and partition_by_js,
// loaded and run as a flow; runtime errors point at the flow file.
func TestBatchFlow(t *testing.T) {
	dir := flowtest.Write(t, map[string]string{
		"main.flow.hcl": `flow "b" {
  batch "load" {
    chunk_size      = 7
    concurrency     = 3
    partition_by_js = "item => item.account"

    reader "script_test" { count = 300 }

    processor "js" {
      params = { threshold = 10 }
      code   = <<-JS
        if (item.amount < ctx.params.threshold) return;
        return { ...item, cents: Math.round(item.amount * 100), currency: item.currency.toLowerCase(), big: item.amount > 5000 };
      JS
    }
    processor "js" { file = "js/tag.js" }

    writer "script_test" { key = "all" }
    writer "script_test" "big" {
      key    = "big"
      filter = "item.big"
    }
  }
  output "written" { value = step.load.write_count }
  output "filtered" { value = step.load.filter_count }
}`,
		"js/tag.js":   "const t = require('./lib.js');\nreturn t.tag(item);\n",
		"js/lib.js":   "exports.tag = item => ({ ...item, tag: item.account + '/' + item.currency });\n",
		"expected.js": "",
	})
	res, _ := runLogged(t, dir, nil)
	if res.Status != flow.Completed {
		t.Fatalf("%s: %v", res.Status, res.Err)
	}
	all, big := testOutput("all"), testOutput("big")
	want := 0
	wantBig := 0
	for _, r := range txns(300) {
		f, _ := r.Values[2].Float()
		if f >= 10 {
			want++
			if f > 5000 {
				wantBig++
			}
		}
	}
	if len(all) != want || len(big) != wantBig || flowtest.Output(res, "written") != fmt.Sprint(want) {
		t.Fatalf("wrote %d (big %d), want %d (big %d); outputs %v", len(all), len(big), want, wantBig, res.Outputs)
	}
	// Records of one account keep their input order.
	last := map[string]int64{}
	for _, r := range all {
		acc, _ := r.Get("account")
		id, _ := r.Get("id")
		n, _ := id.Int()
		if n < last[acc.Str()] {
			t.Fatalf("account %s out of order", acc.Str())
		}
		last[acc.Str()] = n
		cents, _ := r.Get("cents")
		amount, _ := r.Get("amount")
		if u, _, _ := amount.Decimal(); fmt.Sprint(u) != cents.Text() {
			t.Fatalf("cents %s for %s", cents.Text(), amount.Text())
		}
		cur, _ := r.Get("currency")
		if tag, _ := r.Get("tag"); tag.Str() != acc.Str()+"/"+cur.Str() || strings.ToLower(cur.Str()) != cur.Str() {
			t.Fatalf("tag %s", tag.Str())
		}
	}

	// An exception in the processor: the item fails with the flow file's
	// position of the failing line, the JS stack and the record.
	dir = flowtest.Write(t, map[string]string{"main.flow.hcl": `flow "b" {
  batch "load" {
    reader "script_test" { count = 5 }
    processor "js" {
      code = <<-JS
        if (item.id === 4) {
          throw new RangeError("bad record " + item.id);
        }
        return item;
      JS
    }
    writer "script_test" { key = "err" }
  }
}`})
	res, _ = runLogged(t, dir, nil)
	if res.Status != flow.Failed {
		t.Fatal(res.Status)
	}
	var je *Error
	var ie *batch.ItemError
	if !errors.As(res.Err, &je) || !errors.As(res.Err, &ie) {
		t.Fatalf("%T %v", res.Err, res.Err)
	}
	rel, _ := filepath.Rel(dir, strings.SplitN(je.Where, ":", 2)[0])
	if rel != "main.flow.hcl" || !strings.HasSuffix(je.Where, ":7:17") || je.Message != "RangeError: bad record 4" || je.Record != "in.csv:5" || ie.Where != "in.csv:5" {
		t.Errorf("where %s, message %q, record %s / %s", je.Where, je.Message, je.Record, ie.Where)
	}
	if !strings.Contains(res.Err.Error(), "process failed at in.csv:5: ") {
		t.Errorf("message %v", res.Err)
	}
}

var _ = record.Str
