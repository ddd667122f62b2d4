package script

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// small makes n records with fields id (int), amount (decimal), cur.
func small(n int) []*record.Record {
	s, _ := record.Names("id", "amount", "cur")
	out := make([]*record.Record, n)
	for i := range out {
		out[i] = &record.Record{Schema: s, Source: "in.csv", Line: int64(i + 2), Values: []record.Value{
			record.IntVal(int64(i + 1)), record.Dec(int64(i+1)*1005, 2), record.Str([]string{"EUR", "USD"}[i%2]),
		}}
	}
	return out
}

// What the code returns, emits or leaves out; each case runs with the
// literal rewrite on and off, which must not change anything.
func TestProcessorOutputs(t *testing.T) {
	cases := []struct {
		name, code string
		want       string // JSON lines
		filtered   int64
	}{
		{"return nothing filters", `return;`, "", 3},
		{"return item", `return item;`,
			`{"id":1,"amount":10.05,"cur":"EUR"}` + "\n" + `{"id":2,"amount":20.10,"cur":"USD"}` + "\n" + `{"id":3,"amount":30.15,"cur":"EUR"}` + "\n", 0},
		{"filter", `if (item.amount < 20) return; return item;`,
			`{"id":2,"amount":20.10,"cur":"USD"}` + "\n" + `{"id":3,"amount":30.15,"cur":"EUR"}` + "\n", 1},
		{"false filters", `return item.id > 2 && { id: item.id };`, `{"id":3}` + "\n", 2},
		{"spread and new fields", `return { ...item, cents: Math.round(item.amount * 100), cur: item.cur.toLowerCase() };`,
			`{"id":1,"amount":10.05,"cur":"eur","cents":1005}` + "\n" + `{"id":2,"amount":20.10,"cur":"usd","cents":2010}` + "\n" + `{"id":3,"amount":30.15,"cur":"eur","cents":3015}` + "\n", 0},
		{"literal without spread", `return { k: item.id * 10, amount: item.amount };`,
			`{"k":10,"amount":10.05}` + "\n" + `{"k":20,"amount":20.10}` + "\n" + `{"k":30,"amount":30.15}` + "\n", 0},
		{"shorthand and trailing comma", `const id = item.id; const twice = id * 2; return { id, twice, };`,
			`{"id":1,"twice":2}` + "\n" + `{"id":2,"twice":4}` + "\n" + `{"id":3,"twice":6}` + "\n", 0},
		{"flatMap", `for (let i = 0; i < item.id; i++) emit({ id: item.id, n: i });`,
			`{"id":1,"n":0}` + "\n" + `{"id":2,"n":0}` + "\n" + `{"id":2,"n":1}` + "\n" + `{"id":3,"n":0}` + "\n" + `{"id":3,"n":1}` + "\n" + `{"id":3,"n":2}` + "\n", 0},
		{"emit in a callback", `["a", "b"].forEach(tag => emit({ ...item, tag })); `,
			`{"id":1,"amount":10.05,"cur":"EUR","tag":"a"}` + "\n" + `{"id":1,"amount":10.05,"cur":"EUR","tag":"b"}` + "\n" +
				`{"id":2,"amount":20.10,"cur":"USD","tag":"a"}` + "\n" + `{"id":2,"amount":20.10,"cur":"USD","tag":"b"}` + "\n" +
				`{"id":3,"amount":30.15,"cur":"EUR","tag":"a"}` + "\n" + `{"id":3,"amount":30.15,"cur":"EUR","tag":"b"}` + "\n", 0},
		{"emit and return", `if (item.id !== 2) return; emit({ a: 1 }); return { a: 2 };`, `{"a":1}` + "\n" + `{"a":2}` + "\n", 2},
		{"return an array", `return item.id === 1 ? [{ x: 1 }, { x: 2 }] : [];`, `{"x":1}` + "\n" + `{"x":2}` + "\n", 2},
		{"mutate the item", `item.cents = Math.round(item.amount * 100); delete item.cur; item.id = String(item.id); return item;`,
			`{"id":"1","amount":10.05,"cents":1005}` + "\n" + `{"id":"2","amount":20.10,"cents":2010}` + "\n" + `{"id":"3","amount":30.15,"cents":3015}` + "\n", 0},
		{"computed key is not rewritten", `const k = "c" + "ents"; return { ...item, [k]: item.id };`,
			`{"id":1,"amount":10.05,"cur":"EUR","cents":1}` + "\n" + `{"id":2,"amount":20.10,"cur":"USD","cents":2}` + "\n" + `{"id":3,"amount":30.15,"cur":"EUR","cents":3}` + "\n", 0},
		{"override keeps the place", `return { ...item, id: -item.id };`,
			`{"id":-1,"amount":10.05,"cur":"EUR"}` + "\n" + `{"id":-2,"amount":20.10,"cur":"USD"}` + "\n" + `{"id":-3,"amount":30.15,"cur":"EUR"}` + "\n", 0},
		{"spread of a plain object", `const base = { src: "x", id: 0 }; return { ...base, id: item.id };`,
			`{"src":"x","id":1}` + "\n" + `{"src":"x","id":2}` + "\n" + `{"src":"x","id":3}` + "\n", 0},
		{"spread only", `return { ...item };`,
			`{"id":1,"amount":10.05,"cur":"EUR"}` + "\n" + `{"id":2,"amount":20.10,"cur":"USD"}` + "\n" + `{"id":3,"amount":30.15,"cur":"EUR"}` + "\n", 0},
		{"exact decimals", `return { id: item.id, amount: item.amount, double: decimal(item.amount).mul(2), third: decimal(item.amount).div(3, 4), exact: decimal.field(item, "amount").mul(2) };`,
			`{"id":1,"amount":10.05,"double":20.10,"third":3.3500,"exact":20.10}` + "\n" + `{"id":2,"amount":20.10,"double":40.2,"third":6.7000,"exact":40.20}` + "\n" + `{"id":3,"amount":30.15,"double":60.30,"third":10.0500,"exact":60.30}` + "\n", 0},
		{"nested values", `return { id: item.id, tags: ["a", item.id], meta: { cur: item.cur, ok: true } };`,
			`{"id":1,"tags":["a",1],"meta":{"cur":"EUR","ok":true}}` + "\n" + `{"id":2,"tags":["a",2],"meta":{"cur":"USD","ok":true}}` + "\n" + `{"id":3,"tags":["a",3],"meta":{"cur":"EUR","ok":true}}` + "\n", 0},
		{"return in try with finally", `try { return { id: item.id }; } finally { if (item.id === 2) emit({ f: 1 }); }`,
			`{"id":1}` + "\n" + `{"f":1}` + "\n" + `{"id":2}` + "\n" + `{"id":3}` + "\n", 0},
		{"comments in the literal", "return { // first\n  id: item.id, /* second */ n: 1\n};",
			`{"id":1,"n":1}` + "\n" + `{"id":2,"n":1}` + "\n" + `{"id":3,"n":1}` + "\n", 0},
		{"first key on the next line", "if (item.id > 1) return;\nreturn {\n  ...item,\n  cents: Math.round(item.amount * 100), // cents\n  /* keep */ cur: item.cur.toLowerCase(),\n};",
			`{"id":1,"amount":10.05,"cur":"eur","cents":1005}` + "\n", 2},
		{"first key on the next line, no spread", "return {\nid: item.id,\n  n: 1\n}",
			`{"id":1,"n":1}` + "\n" + `{"id":2,"n":1}` + "\n" + `{"id":3,"n":1}` + "\n", 0},
		{"emit with the first key on the next line", "emit({\n  ...item,\n  n: 1,\n});\nemit(\n  {\n    id: item.id\n  }\n);",
			`{"id":1,"amount":10.05,"cur":"EUR","n":1}` + "\n" + `{"id":1}` + "\n" + `{"id":2,"amount":20.10,"cur":"USD","n":1}` + "\n" + `{"id":2}` + "\n" +
				`{"id":3,"amount":30.15,"cur":"EUR","n":1}` + "\n" + `{"id":3}` + "\n", 0},
		{"parenthesized return", "return (\n  { id: item.id }\n);",
			`{"id":1}` + "\n" + `{"id":2}` + "\n" + `{"id":3}` + "\n", 0},
		{"spread of other values", "return { ...(item.id === 1 ? 5 : item.id === 2 ? \"ab\" : [true]), id: item.id };",
			`{"id":1}` + "\n" + `{"0":"a","1":"b","id":2}` + "\n" + `{"0":true,"id":3}` + "\n", 0},
		{"writes stay with their record", "if (item.id === 1) { item.extra = 1; delete item.cur; }\nreturn item;",
			`{"id":1,"amount":10.05,"extra":1}` + "\n" + `{"id":2,"amount":20.10,"cur":"USD"}` + "\n" + `{"id":3,"amount":30.15,"cur":"EUR"}` + "\n", 0},
		{"items kept across records", "const prev = ctx.state.prev;\nctx.state.prev = item;\nif (prev) return { id: item.id, prev: prev.id, amount: prev.amount };",
			`{"id":2,"prev":1,"amount":10.05}` + "\n" + `{"id":3,"prev":2,"amount":20.1}` + "\n", 1},
		{"closures over items", "(ctx.state.fs = ctx.state.fs || []).push(() => item.id);\nif (item.id === 3) return { ids: ctx.state.fs.map(f => f()) };",
			`{"ids":[1,2,3]}` + "\n", 2},
		{"one-letter names in use", "const $ = 1, _ = 2;\nreturn {\n  a: $,\n  b: _ };",
			`{"a":1,"b":2}` + "\n" + `{"a":1,"b":2}` + "\n" + `{"a":1,"b":2}` + "\n", 0},
	}
	for _, rewrite := range []bool{true, false} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/rewrite=%v", tc.name, rewrite), func(t *testing.T) {
				rewriteEnabled = rewrite
				defer func() { rewriteEnabled = true }()
				code := tc.code
				if !rewrite {
					code += "\n// as written"
				}
				p := newProc(t, code, nil, nil)
				if rewrite && strings.Contains(tc.name, "rewritten") {
					if n := len(p.(*processor).h.main.lits); n != 0 {
						t.Errorf("%d literals rewritten", n)
					}
				}
				if rewrite && strings.Contains(tc.code, "\n") && strings.Contains(tc.code, "{\n") {
					if n := len(p.(*processor).h.main.lits); n == 0 {
						t.Error("not rewritten")
					}
				}
				out, cnt, err := run(t, p, small(3), batch.Options[*record.Record]{ChunkSize: 2})
				if err != nil {
					t.Fatal(err)
				}
				if got := text(out); got != tc.want {
					t.Errorf("got\n%swant\n%s", got, tc.want)
				}
				if cnt.Filter != tc.filtered {
					t.Errorf("filtered %d, want %d", cnt.Filter, tc.filtered)
				}
			})
		}
	}
}

// The rewrite applies where it should, and keeps every position.
func TestLiteralRewrite(t *testing.T) {
	code := "if (item.x) {\n  return {  ...item, a: f(1),\n    b: 2 };\n}\nemit({id:item.id});\nconst o = { k: 1 };\nreturn [].map(x => { return { y: 1 }; });"
	u, serr := build(kindProcessor, "processor", code)
	if serr != nil {
		t.Fatal(serr)
	}
	if len(u.lits) != 2 {
		t.Fatalf("%d literals rewritten, want 2 (the return and the emit)", len(u.lits))
	}
	if !u.lits[0].spread || strings.Join(u.lits[0].keys, ",") != "a,b" || u.lits[1].spread || strings.Join(u.lits[1].keys, ",") != "id" {
		t.Errorf("shapes %+v %+v", u.lits[0], u.lits[1])
	}
	// Columns of every value are kept.
	for _, tc := range []struct{ code, want string }{
		{code, "if (item.x) {\n  return $0(   item,    f(1),\n       2) ;\n}\nemit($1( item.id));\nconst o = { k: 1 };\nreturn [].map(x => { return { y: 1 }; });"},
		// The first key on the line after the brace: a return's call
		// starts in the brace (return's value must start on its line),
		// with a one-letter name.
		{"return {\n  ...item,\n  a: 1, // one\n  b: 2,\n};", "return $\n(    item,\n     1,       \n     2)\n ;"},
		{"return {\na: 1}", "return $\n(  1)"},
		{"if (x) return { /* c */\n  a: 1 };", "if (x) return $0(      \n     1) ;"},
		{"const _ = 1, $ = 2;\nreturn {\n  a: _,\n  b: $\n};", "const _ = 1, $ = 2;\nreturn c\n(    _,\n     $\n);"},
		{"emit({\n  ...item,\n  a: 1\n});", "emit( \n$0(  item,\n     1\n));"},
		{"return (\n  {\n    a: 1 });", "return (\n   \n$0(    1) );"},
	} {
		lits, edits := rewriteLiterals(tc.code, mustBody(t, tc.code), len(processorHead)+len("return function(item){\n"), func(int) bool { return false })
		out := applyEdits(tc.code, edits)
		if len(out) != len(tc.code) || strings.Count(out, "\n") != strings.Count(tc.code, "\n") {
			t.Fatalf("the rewrite moved text:\n%s", out)
		}
		if out != tc.want {
			t.Errorf("rewritten:\n%s\nwant:\n%s", out, tc.want)
		}
		if len(lits) == 0 {
			t.Errorf("%s: nothing rewritten", tc.code)
		}
		if _, serr := build(kindProcessor, "processor", tc.code); serr != nil {
			t.Errorf("%s: %v", tc.code, serr)
		}
	}
	// Literals whose meaning the rewrite could change are left alone, and
	// those with no room for the call.
	for _, c := range []string{
		`return { [k]: 1 };`, `return { 1: "a" };`, `return { a: 1, a: 2 };`, `return { __proto__: null };`,
		`return { get a() { return 1; } };`, `return { f() {} };`, `return { a: 1, ...item };`, `return {};`,
		"return {\na,\n b: 1};",                  // no room for the parenthesis before a
		"const \\u0061 = 1;\nreturn {\n  a: 1};", // escapes could spell any one-letter name
	} {
		u, serr := build(kindProcessor, "processor", c)
		if serr != nil {
			t.Fatal(c, serr)
		}
		if len(u.lits) != 0 {
			t.Errorf("%s was rewritten", c)
		}
	}
	// A $x the code uses itself is not taken.
	u, _ = build(kindProcessor, "processor", "const $0 = 1;\nreturn { a: $0 };")
	if len(u.lits) != 1 || u.lits[0].name == "$0" {
		t.Errorf("helper names %+v", u.lits)
	}
}

// Which code lets one item object serve every record.
func TestItemStaysLocal(t *testing.T) {
	for _, tc := range []struct {
		code  string
		local bool
	}{
		{`return item;`, true},
		{"if (item.amount < 10) return;\nreturn { ...item, cents: Math.round(item.amount * 100) };", true},
		{`item.x = 1; delete item.y; item["z"] = item.a; item.n++; return item;`, true},
		{`const a = decimal.field(item, "amount"); return { id: item.id, c: a.toCents(), d: decimal(1), e: decimal.isDecimal(a) };`, true},
		{`emit(item); emit({ ...item, n: 1 });`, true},
		{"function setup() { ctx.state.keep = []; }\nfunction chunk_end() {}\nreturn item;", true},
		{"for (const x of [1, 2]) emit({ ...item, x });", true},
		{"const k = \"id\"; return { v: item[k], s: `${item.id}`, o: { item: 1 }.item };", true},
		{"try { return item; } finally { ctx.state.n = 1; }", true},

		{`ctx.state.prev = item; return item;`, false},
		{`ctx.state.f = () => item.id;`, false},
		{`[1].forEach(x => emit({ ...item, x }));`, false},
		{`return JSON.stringify(item);`, false},
		{`return item.toString();`, false},
		{`return item["toString"]();`, false},
		{`return arguments[0];`, false},
		{`return eval("item");`, false},
		{`const other = item; return other;`, false},
		{`let x; x = item; return x;`, false},
		{`return [item];`, false},
		{`throw item;`, false},
		{`return { item };`, false},
		{`return item || null;`, false},
		{`Object.defineProperty(Object.prototype, "x", { get() { return 1; } }); return item;`, false},
		{`const decimal = x => x; return { a: decimal.field(item, "a") };`, false},
		{`emit(item); const e = emit;`, false},
		{`function f() { return item.id; } return { id: f() };`, false},
	} {
		u, serr := build(kindProcessor, "processor", tc.code)
		if serr != nil {
			t.Fatal(tc.code, serr)
		}
		if u.itemLocal != tc.local {
			t.Errorf("%s: itemLocal %v, want %v", tc.code, u.itemLocal, tc.local)
		}
	}
}

func mustBody(t *testing.T, code string) []ast.Statement {
	t.Helper()
	p, err := parser.ParseFile(nil, "x", processorHead+"return function(item){\n"+code+"\n}})", 0)
	if err != nil {
		t.Fatal(err)
	}
	return innerBody(p)
}

// Records of one shape share one schema, across workers too.
func TestOutputSchemaShared(t *testing.T) {
	p := newProc(t, `return { id: item.id, w: ctx.worker };`, nil, nil)
	out, _, err := run(t, p, small(200), batch.Options[*record.Record]{ChunkSize: 5, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range out {
		if r.Schema != out[0].Schema {
			t.Fatal("two schemas for one shape")
		}
	}
	// The record keeps its input position.
	if out[0].Source != "in.csv" || out[0].Line < 2 {
		t.Errorf("position %s", out[0].Where())
	}
}

// setup runs once per worker runtime, chunk_end after every chunk on the
// worker that ran it; ctx describes the chunk, the worker, the
// concurrency, the params, and keeps per-worker state.
func TestProcessorHooksAndCtx(t *testing.T) {
	log, lb := newLog()
	code := `
function setup() {
  ctx.state.setups = (ctx.state.setups || 0) + 1;
  ctx.state.seen = 0;
  ctx.state.worker = ctx.worker;
}
function chunk_end(info) {
  console.log("chunk end", info.chunk, info.committed, ctx.state.seen);
}
ctx.state.seen++;
return { id: item.id, chunk: ctx.chunk, worker: ctx.worker, same: ctx.state.worker === ctx.worker,
         conc: ctx.concurrency, rate: ctx.params.rate, setups: ctx.state.setups, where: ctx.where() };
`
	params := cty.ObjectVal(map[string]cty.Value{"rate": cty.NumberFloatVal(1.5)})
	p := newProc(t, code, map[string]cty.Value{"params": params}, log)
	if u := p.(*processor).h.main; !u.setup || !u.chunkEnd {
		t.Fatalf("hooks not found: %+v", u)
	}
	out, cnt, err := run(t, p, small(40), batch.Options[*record.Record]{ChunkSize: 4, Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 40 || cnt.Commit != 10 {
		t.Fatalf("%d records, %d commits", len(out), cnt.Commit)
	}
	workers := map[int64]bool{}
	chunks := map[int64]bool{}
	for _, r := range out {
		get := func(n string) record.Value { v, _ := r.Get(n); return v }
		w, _ := get("worker").Int()
		workers[w] = true
		c, _ := get("chunk").Int()
		chunks[c] = true
		if s, _ := get("setups").Int(); s != 1 {
			t.Errorf("setup ran %d times on worker %d", s, w)
		}
		if b, _ := get("same").Bool(); !b {
			t.Error("a worker saw another worker's state")
		}
		if n, _ := get("conc").Int(); n != 3 {
			t.Errorf("concurrency %d", n)
		}
		if get("rate").Text() != "1.5" {
			t.Errorf("params.rate %s", get("rate").Text())
		}
		if id, _ := get("id").Int(); get("where").Text() != fmt.Sprintf("in.csv:%d", id+1) {
			t.Errorf("where %s for id %d", get("where").Text(), id)
		}
	}
	if len(chunks) != 10 {
		t.Errorf("chunks %v", chunks)
	}
	logs := lb.String()
	if n := strings.Count(logs, "chunk end"); n != 10 {
		t.Errorf("chunk_end ran %d times, want 10:\n%s", n, logs)
	}
	if !strings.Contains(logs, "step=main/test") || !strings.Contains(logs, "committed") && !strings.Contains(logs, "true") {
		t.Errorf("log lines lack the step: %s", logs)
	}
}

// An endless loop is interrupted after the timeout: an item error that
// the skip policy skips, and the runtime is reused for the next records.
func TestProcessorTimeout(t *testing.T) {
	p := newProc(t, `if (item.id === 3) { while (true) {} } return { id: item.id, w: ctx.worker };`,
		map[string]cty.Value{"timeout": cty.StringVal("30ms")}, nil)
	var skipped []batch.Skipped
	var mu sync.Mutex
	out, cnt, err := run(t, p, small(6), batch.Options[*record.Record]{ChunkSize: 6, Skip: batch.SkipPolicy{Limit: 1,
		Log: func(s batch.Skipped) error { mu.Lock(); skipped = append(skipped, s); mu.Unlock(); return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 5 || cnt.ProcessSkip != 1 {
		t.Fatalf("%d records, counters %+v", len(out), cnt)
	}
	if len(skipped) != 1 {
		t.Fatal(skipped)
	}
	var te *TimeoutError
	var je *Error
	if !errors.As(skipped[0].Err, &te) || !errors.As(skipped[0].Err, &je) {
		t.Fatalf("skipped for %v (%T)", skipped[0].Err, skipped[0].Err)
	}
	if skipped[0].Where != "in.csv:4" || je.Record != "in.csv:4" {
		t.Errorf("where %q / %q", skipped[0].Where, je.Record)
	}
	if !strings.HasPrefix(je.Where, "main/test (js processor):1:") {
		t.Errorf("position %q", je.Where)
	}
	// Without a skip policy the run fails with the timeout.
	_, _, err = run(t, newProc(t, `while (true) {}`, map[string]cty.Value{"timeout": cty.StringVal("20ms")}, nil), small(1), batch.Options[*record.Record]{})
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "timed out after 20ms") {
		t.Errorf("err = %v", err)
	}
}

// Each worker has its own runtime, reused across chunks: globals one
// worker sets are invisible to the others. Run with -race.
func TestProcessorPerWorkerRuntimes(t *testing.T) {
	code := `
function setup() { globalThis.mine = ctx.worker; globalThis.count = 0; }
globalThis.count++;
return { id: item.id, w: ctx.worker, mine: globalThis.mine, count: globalThis.count };
`
	p := newProc(t, code, nil, nil)
	out, _, err := run(t, p, small(2000), batch.Options[*record.Record]{ChunkSize: 10, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	last := map[int64]int64{}
	total := int64(0)
	for _, r := range out {
		w, _ := r.Values[1].Int()
		mine, _ := r.Values[2].Int()
		n, _ := r.Values[3].Int()
		if w != mine {
			t.Fatalf("worker %d saw worker %d's global", w, mine)
		}
		if n > last[w] {
			last[w] = n
		}
	}
	for _, n := range last {
		total += n
	}
	if total != 2000 {
		t.Errorf("the workers' counts add up to %d, want 2000 (%v)", total, last)
	}
	if len(p.(*processor).workers) != 4 {
		t.Errorf("%d worker slots", len(p.(*processor).workers))
	}
}

// Errors of processors: the JS message, the position of the failing line,
// the JS stack, the record.
func TestProcessorErrors(t *testing.T) {
	cases := []struct {
		code string
		want *regexp.Regexp
	}{
		{"const x = null;\nreturn x.y;", regexp.MustCompile(`^main/test \(js processor\):2:10: TypeError: Cannot read property 'y' of (null|undefined)$`)},
		{"function f() { throw new Error('bad ' + item.id); }\nf();", regexp.MustCompile(`^main/test \(js processor\):1:22: Error: bad 1 \(stack: f \(main/test \(js processor\):1:22\) < .*:2:2\)\)$`)},
		{"throw 'plain';", regexp.MustCompile(`^main/test \(js processor\):1:1: uncaught plain$`)},
		{"return 42;", regexp.MustCompile(`returned value: expected an object \(a record\), got number`)},
		{"emit('x');", regexp.MustCompile(`TypeError: emit: expected an object \(a record\), got string`)},
		{"return { f: () => 1 };", regexp.MustCompile(`field f: cannot store a function in a record`)},
		// Rewritten literals keep their values' positions; what the
		// record's build refuses is reported at the brace.
		{"if (item.id) {\n  return {\n    id: item.id,\n    x: item.nope.y,\n  };\n}", regexp.MustCompile(`^main/test \(js processor\):4:18: TypeError: Cannot read property 'y' of undefined`)},
		{"return {\n  id: item.id,\n  f: () => 1,\n};", regexp.MustCompile(`^main/test \(js processor\):1:8: TypeError: field f: cannot store a function in a record$`)},
		{"return { id: 1,\n  f: () => 1 };", regexp.MustCompile(`^main/test \(js processor\):1:8: TypeError: field f: cannot store a function in a record$`)},
		{"emit({\n  ...item,\n  f: Symbol(),\n});", regexp.MustCompile(`^main/test \(js processor\):1:6: TypeError: field f: cannot store a symbol in a record$`)},
		{"function r(n) { return r(n + 1); }\nr(0);", regexp.MustCompile(`RangeError: Maximum call stack size exceeded`)},
		{"undefinedThing();", regexp.MustCompile(`ReferenceError: undefinedThing is not defined`)},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			_, _, err := run(t, newProc(t, tc.code, nil, nil), small(1), batch.Options[*record.Record]{})
			var ie *batch.ItemError
			if !errors.As(err, &ie) || ie.Where != "in.csv:2" {
				t.Fatalf("err = %v (%T)", err, err)
			}
			if !tc.want.MatchString(ie.Err.Error()) {
				t.Errorf("error:\n%s\nwant match of %s", ie.Err, tc.want)
			}
			var je *Error
			if errors.As(err, &je) && je.Record != "in.csv:2" {
				t.Errorf("record %q", je.Record)
			}
		})
	}
}

// emit outside a record, setup that throws.
func TestProcessorMisuse(t *testing.T) {
	log, lb := newLog()
	p := newProc(t, "function chunk_end() { emit({ a: 1 }); }\nreturn item;", nil, log)
	if _, _, err := run(t, p, small(2), batch.Options[*record.Record]{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(lb.String(), "emit() can only be called while a record is processed") {
		t.Errorf("log: %s", lb.String())
	}
	p = newProc(t, "function setup() { throw new Error('no setup'); }\nreturn item;", nil, nil)
	_, _, err := run(t, p, small(2), batch.Options[*record.Record]{})
	if err == nil || !strings.Contains(err.Error(), "setup: main/test (js processor):1:26: Error: no setup") {
		t.Errorf("err = %v", err)
	}
	if _, err := newProcessor(&batch.Config{Attrs: map[string]cty.Value{"code": cty.StringVal("return {"), "timeout": cty.StringVal("1s")}, Step: "s"}); err == nil ||
		!strings.Contains(err.Error(), "s (js processor):1:9: SyntaxError") {
		t.Errorf("syntax error: %v", err)
	}
	if _, err := newProcessor(&batch.Config{Attrs: map[string]cty.Value{"code": cty.StringVal("x"), "file": cty.StringVal("y.js")}}); err == nil {
		t.Error("code and file accepted together")
	}
	if _, err := newProcessor(&batch.Config{Attrs: map[string]cty.Value{"code": cty.StringVal("x"), "timeout": cty.StringVal("-1s")}}); err == nil {
		t.Error("negative timeout accepted")
	}
}
