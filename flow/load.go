package flow

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// FileSuffix is the suffix of flow files looked for in a directory.
const FileSuffix = ".flow.hcl"

// Loader parses and checks flow files. It keeps what it parsed, so that a
// flow reached twice (by call) is read once and diagnostics can show source.
type Loader struct {
	reg    *Registry
	fsys   fs.FS // nil: the OS file system
	parser *hclparse.Parser

	mu    sync.Mutex
	cache map[string]*loaded
}

type loaded struct {
	set   *Set
	diags hcl.Diagnostics
}

// NewLoader returns a loader for the OS file system. A nil registry means
// DefaultRegistry.
func NewLoader(reg *Registry) *Loader { return NewFSLoader(nil, reg) }

// NewFSLoader returns a loader that reads from fsys (paths as fs.FS expects:
// slash-separated, unrooted). file() and fileset() read from fsys too.
func NewFSLoader(fsys fs.FS, reg *Registry) *Loader {
	if reg == nil {
		reg = DefaultRegistry
	}
	return &Loader{reg: reg, fsys: fsys, parser: hclparse.NewParser(), cache: map[string]*loaded{}}
}

// Load reads a flow file, or every *.flow.hcl file of a directory as one set.
func Load(path string, reg *Registry) (*Set, hcl.Diagnostics) { return NewLoader(reg).Load(path) }

// LoadFS is Load over an fs.FS.
func LoadFS(fsys fs.FS, path string, reg *Registry) (*Set, hcl.Diagnostics) {
	return NewFSLoader(fsys, reg).Load(path)
}

// Files returns every file the loader parsed, by name.
func (l *Loader) Files() map[string]*hcl.File {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.parser.Files()
}

// Registry returns the loader's registry.
func (l *Loader) Registry() *Registry { return l.reg }

func (l *Loader) key(p string) string {
	if l.fsys != nil {
		return path.Clean(p)
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// display returns a file key as shown in messages: relative to the working
// directory when the loader reads the OS file system.
func (l *Loader) display(k string) string {
	if l.fsys == nil {
		if wd, err := os.Getwd(); err == nil {
			if r, err := filepath.Rel(wd, k); err == nil && !strings.HasPrefix(r, "..") {
				return r
			}
		}
	}
	return k
}

func (l *Loader) stat(p string) (fs.FileInfo, error) {
	if l.fsys != nil {
		return fs.Stat(l.fsys, p)
	}
	return os.Stat(p)
}

func (l *Loader) readFile(p string) ([]byte, error) {
	if l.fsys != nil {
		return fs.ReadFile(l.fsys, p)
	}
	return os.ReadFile(p)
}

func (l *Loader) dirOf(p string) string {
	if l.fsys != nil {
		return path.Dir(p)
	}
	return filepath.Dir(p)
}

// Load reads a flow file or a directory of them. A file already loaded is
// returned from the cache.
func (l *Loader) Load(p string) (*Set, hcl.Diagnostics) { return l.loadChain(p, nil) }

// LoadFrom loads p on behalf of flow from (a call step): a path relative to
// from's directory is resolved against it, and a file that is already being
// loaded on the way to from is reported as a call cycle.
func (l *Loader) LoadFrom(p string, from *Flow) (*Set, hcl.Diagnostics) {
	if l.fsys != nil && !path.IsAbs(p) {
		p = path.Join(from.Dir, p)
	} else if l.fsys == nil && !filepath.IsAbs(p) {
		p = filepath.Join(from.Dir, p)
	}
	chain := append(append([]string(nil), from.chain...), from.key)
	return l.loadChain(p, chain)
}

func (l *Loader) loadChain(p string, chain []string) (*Set, hcl.Diagnostics) {
	k := l.key(p)
	for i, c := range chain {
		if c == k {
			var cycle []string
			for _, c := range append(append([]string(nil), chain[i:]...), k) {
				cycle = append(cycle, l.display(c))
			}
			return &Set{loader: l}, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Call cycle",
				Detail: "The flows call each other in a cycle: " + strings.Join(cycle, " → ") + "."}}
		}
	}
	l.mu.Lock()
	if c, ok := l.cache[k]; ok {
		l.mu.Unlock()
		return c.set, c.diags
	}
	l.mu.Unlock()
	set, diags := l.load(p, k, chain)
	l.mu.Lock()
	l.cache[k] = &loaded{set: set, diags: diags}
	l.mu.Unlock()
	return set, diags
}

func (l *Loader) load(p, key string, chain []string) (*Set, hcl.Diagnostics) {
	set := &Set{loader: l}
	info, err := l.stat(p)
	if err != nil {
		return set, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read flow", Detail: err.Error()}}
	}
	files := []string{p}
	if info.IsDir() {
		files = nil
		var entries []fs.DirEntry
		if l.fsys != nil {
			entries, err = fs.ReadDir(l.fsys, p)
		} else {
			entries, err = os.ReadDir(p)
		}
		if err != nil {
			return set, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read directory", Detail: err.Error()}}
		}
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), FileSuffix) {
				if l.fsys != nil {
					files = append(files, path.Join(p, e.Name()))
				} else {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
		}
		sort.Strings(files)
		if len(files) == 0 {
			return set, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "No flow files",
				Detail: fmt.Sprintf("The directory %s holds no *%s file.", p, FileSuffix)}}
		}
	}
	var diags hcl.Diagnostics
	for _, name := range files {
		src, err := l.readFile(name)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read flow file", Detail: err.Error()})
			continue
		}
		l.mu.Lock()
		file, d := l.parser.ParseHCL(src, name)
		l.mu.Unlock()
		diags = append(diags, firstOfEach(d)...)
		if d.HasErrors() || file == nil {
			continue
		}
		flows, d := l.decodeFile(file, name, l.key(name), chain)
		diags = append(diags, d...)
		set.Flows = append(set.Flows, flows...)
	}
	seen := map[string]*Flow{}
	for _, f := range set.Flows {
		if prev := seen[f.Name]; prev != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate flow name",
				Detail:  fmt.Sprintf("A flow named %q is already declared at %s.", f.Name, Pos(prev.Range)),
				Subject: f.Range.Ptr()})
		}
		seen[f.Name] = f
	}
	return set, diags
}

// firstOfEach drops the parse diagnostics that repeat the summary of an
// earlier one: after a single mistake (such as an unclosed string) the
// parser reports the same error again on each of the following lines.
func firstOfEach(diags hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	seen := map[string]bool{}
	for _, d := range diags {
		if !seen[d.Summary] {
			seen[d.Summary] = true
			out = append(out, d)
		}
	}
	return out
}

// bodyContent is body.Content, without the "Missing required argument" error
// for an argument that is only misspelt: the "Unsupported argument" error
// for the misspelling already suggests the right name.
func bodyContent(body hcl.Body, schema *hcl.BodySchema) (*hcl.BodyContent, hcl.Diagnostics) {
	c, diags := body.Content(schema)
	sb, ok := body.(*hclsyntax.Body)
	if !ok || !diags.HasErrors() {
		return c, diags
	}
	known := map[string]bool{}
	for _, a := range schema.Attributes {
		known[a.Name] = true
	}
	misspelt := map[string]bool{}
	for _, a := range schema.Attributes {
		if !a.Required || sb.Attributes[a.Name] != nil {
			continue
		}
		for name := range sb.Attributes {
			if !known[name] && suggest(name, []string{a.Name}) != "" {
				misspelt[a.Name] = true
			}
		}
	}
	if len(misspelt) == 0 {
		return c, diags
	}
	var out hcl.Diagnostics
	for _, d := range diags {
		drop := false
		if d.Summary == "Missing required argument" {
			for name := range misspelt {
				if strings.Contains(d.Detail, fmt.Sprintf("%q", name)) {
					drop = true
				}
			}
		}
		if !drop {
			out = append(out, d)
		}
	}
	return c, out
}

var fileSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "flow", LabelNames: []string{"name"}}}}

func (l *Loader) decodeFile(file *hcl.File, name, key string, chain []string) ([]*Flow, hcl.Diagnostics) {
	content, diags := file.Body.Content(fileSchema)
	var flows []*Flow
	for _, blk := range content.Blocks {
		f, d := l.decodeFlow(blk, name, key, chain)
		diags = append(diags, d...)
		if f != nil {
			flows = append(flows, f)
		}
	}
	if len(content.Blocks) == 0 && !diags.HasErrors() {
		r := file.Body.MissingItemRange()
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No flow block",
			Detail: `A flow file holds one or more blocks of the form flow "NAME" { ... }.`, Subject: &r})
	}
	return flows, diags
}

// rootType is the type of a flow's body: an implicit sequential step.
var rootType = &StepType{
	Name:    "flow",
	Pure:    true,
	Summary: "The flow's body: its steps run in order.",
	Body:    Sequence,
	New: func(n *Node) (Step, hcl.Diagnostics) {
		return StepFunc(func(ctx context.Context, x *Exec) (cty.Value, error) {
			return cty.NilVal, x.RunSeq(ctx, n.Body, x.Scope, nil, x.Path)
		}), nil
	},
}

func (l *Loader) decodeFlow(blk *hcl.Block, file, key string, chain []string) (*Flow, hcl.Diagnostics) {
	f := &Flow{Name: blk.Labels[0], File: file, Dir: l.dirOf(file), Range: blk.DefRange, loader: l, registry: l.reg,
		key: key, chain: chain}
	var diags hcl.Diagnostics
	if !hclsyntax.ValidIdentifier(f.Name) {
		diags = append(diags, badName("flow", f.Name, blk.LabelRanges[0]))
	}
	d := &decoder{l: l, flow: f}
	root := &Node{Type: rootType, Name: "main", Range: blk.DefRange, Flow: f}
	f.Root = root
	flowBlocks := l.reg.FlowBlocks()
	extra := &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "description"}},
		Blocks:     append([]hcl.BlockHeaderSchema{{Type: "param", LabelNames: []string{"name"}}}, blockHeaders(flowBlocks)...),
	}
	padLabels(blk.Body, flowBlocks)
	content := d.fill(root, blk.Body, extra)
	counts := map[string]int{}
	for _, b := range content.Blocks {
		if bt := findBlockType(flowBlocks, b.Type); bt != nil {
			counts[b.Type]++
			f.Blocks = append(f.Blocks, d.block(bt, b))
		}
	}
	d.countBlocks(flowBlocks, counts, blk.DefRange, "a flow")
	if a := content.Attributes["description"]; a != nil {
		v, dd := a.Expr.Value(nil)
		if !dd.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
			f.Description = v.AsString()
		} else {
			d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid description",
				Detail: "description must be a literal string.", Subject: a.Expr.Range().Ptr()})
		}
	}
	for _, b := range content.Blocks {
		if b.Type == "param" {
			d.param(b)
		}
	}
	diags = append(diags, d.diags...)
	if diags.HasErrors() {
		return f, diags
	}
	diags = append(diags, check(f)...)
	return f, diags
}

func (f *Flow) funcs() map[string]function.Function {
	return functions(fileSource{fsys: f.loader.fsys, dir: f.Dir})
}

type decoder struct {
	l     *Loader
	flow  *Flow
	diags hcl.Diagnostics
}

func (d *decoder) add(diags ...*hcl.Diagnostic) { d.diags = append(d.diags, diags...) }

func badName(what, name string, r hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + what + " name",
		Detail:  fmt.Sprintf("%q is not a valid name: a name starts with a letter and holds only letters, digits, underscores and dashes.", name),
		Subject: r.Ptr()}
}

func (d *decoder) stepSchema(t *StepType) *hcl.BodySchema {
	s := &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "vars"}}}
	for _, a := range t.Attrs {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	for _, dt := range d.l.reg.DecoratorTypes() {
		if dt.Block {
			s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: dt.Name})
		} else {
			s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: dt.Name})
		}
	}
	// Every step accepts output blocks, so that one on a leaf step gets a
	// clear error from fill rather than "Unsupported block type".
	s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: "output", LabelNames: []string{"name"}})
	for _, b := range t.Branches {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: b.Name})
	}
	s.Blocks = append(s.Blocks, blockHeaders(t.Blocks)...)
	if t.Body != NoBody {
		s.Blocks = append(s.Blocks, d.stepBlocks()...)
	}
	return s
}

func (d *decoder) stepBlocks() []hcl.BlockHeaderSchema {
	var out []hcl.BlockHeaderSchema
	for _, st := range d.l.reg.StepTypes() {
		out = append(out, hcl.BlockHeaderSchema{Type: st.Name, LabelNames: []string{"name"}})
	}
	return out
}

func attrSchema(specs []Attr) []hcl.AttributeSchema {
	var out []hcl.AttributeSchema
	for _, a := range specs {
		out = append(out, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	return out
}

// node decodes a step block into a node held by in.
func (d *decoder) node(blk *hcl.Block, in *Seq) *Node {
	t := d.l.reg.Step(blk.Type)
	n := &Node{Type: t, Name: blk.Labels[0], Range: blk.DefRange, In: in, Flow: d.flow}
	if !hclsyntax.ValidIdentifier(n.Name) {
		d.add(badName("step", n.Name, blk.LabelRanges[0]))
	}
	d.fill(n, blk.Body, nil)
	return n
}

// fill decodes a step body into n. Blocks and attributes in extra are
// returned for the caller (the flow block's params) to decode.
func (d *decoder) fill(n *Node, body hcl.Body, extra *hcl.BodySchema) *hcl.BodyContent {
	t := n.Type
	schema := d.stepSchema(t)
	if extra != nil {
		schema.Attributes = append(schema.Attributes, extra.Attributes...)
		schema.Blocks = append(schema.Blocks, extra.Blocks...)
	}
	padLabels(body, t.Blocks)
	content, diags := bodyContent(body, schema)
	d.add(diags...)
	n.Attrs = map[string]*hcl.Attribute{}
	for name, a := range content.Attributes {
		switch {
		case name == "vars":
			n.Vars = a
			n.VarNames = d.varNames(a)
		case d.l.reg.Decorator(name) != nil:
			n.Decorators = append(n.Decorators, &DecoratorConfig{Type: d.l.reg.Decorator(name), Attr: a, Range: a.Range, Node: n})
		case t.attr(name) != nil:
			n.Attrs[name] = a
		}
	}
	if t.Body != NoBody {
		n.Body = &Seq{Owner: n, Concurrent: t.Body == Concurrent}
	}
	branchCount := map[string]int{}
	blockCount := map[string]int{}
	outputs := map[string]*OutputDecl{}
	for _, b := range content.Blocks {
		switch {
		case b.Type == "output" && t.Body == NoBody && len(t.Branches) == 0:
			var composite []string
			for _, st := range d.l.reg.StepTypes() {
				if st.Body != NoBody || len(st.Branches) > 0 {
					composite = append(composite, st.Name)
				}
			}
			d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Output block on a leaf step",
				Detail: fmt.Sprintf("The %s step %q has outputs of its own (step.%s.NAME) and takes no output block. "+
					"Output blocks go on the flow and on steps that hold other steps (%s).", t.Name, n.Name, n.Name, strings.Join(composite, ", ")),
				Subject: b.DefRange.Ptr()})
		case b.Type == "output":
			o := d.output(b)
			if prev := outputs[o.Name]; prev != nil {
				d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate output",
					Detail:  fmt.Sprintf("An output named %q is already declared at %s.", o.Name, Pos(prev.Range)),
					Subject: b.LabelRanges[0].Ptr()})
				continue
			}
			outputs[o.Name] = o
			n.Outputs = append(n.Outputs, o)
		case d.l.reg.Decorator(b.Type) != nil:
			dt := d.l.reg.Decorator(b.Type)
			for _, prev := range n.Decorators {
				if prev.Type == dt {
					d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate " + dt.Name + " block",
						Detail:  fmt.Sprintf("A step has at most one %s block; the first is at %s.", dt.Name, Pos(prev.Range)),
						Subject: b.DefRange.Ptr()})
				}
			}
			n.Decorators = append(n.Decorators, d.decorator(dt, b, n))
		case branchType(t, b.Type) != nil:
			bt := branchType(t, b.Type)
			br := &Branch{Type: b.Type, Index: branchCount[b.Type], Range: b.DefRange}
			branchCount[b.Type]++
			br.Body = &Seq{Owner: n, Label: b.Type}
			schema := &hcl.BodySchema{Attributes: attrSchema(bt.Attrs), Blocks: d.stepBlocks()}
			bc, diags := bodyContent(b.Body, schema)
			d.add(diags...)
			br.Attrs = bc.Attributes
			for _, cb := range bc.Blocks {
				br.Body.Nodes = append(br.Body.Nodes, d.node(cb, br.Body))
			}
			n.Branches = append(n.Branches, br)
		case findBlockType(t.Blocks, b.Type) != nil:
			blockCount[b.Type]++
			n.Blocks = append(n.Blocks, d.block(findBlockType(t.Blocks, b.Type), b))
		case d.l.reg.Step(b.Type) != nil && n.Body != nil:
			n.Body.Nodes = append(n.Body.Nodes, d.node(b, n.Body))
		}
	}
	d.countBlocks(t.Blocks, blockCount, n.Range, "a "+t.Name+" step")
	for _, dc := range n.Decorators {
		for _, c := range t.Claims {
			if dc.Type.Name == c {
				dc.Claimed = true
			}
		}
	}
	for _, bt := range t.Branches {
		c := branchCount[bt.Name]
		if c < bt.Min {
			d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing " + bt.Name + " block",
				Detail:  fmt.Sprintf("A %s step needs at least %d %s block(s).", t.Name, bt.Min, bt.Name),
				Subject: n.Range.Ptr()})
		}
		if bt.Max > 0 && c > bt.Max {
			d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Too many " + bt.Name + " blocks",
				Detail:  fmt.Sprintf("A %s step takes at most %d %s block(s).", t.Name, bt.Max, bt.Name),
				Subject: n.Range.Ptr()})
		}
	}
	sort.SliceStable(n.Decorators, func(i, j int) bool { return n.Decorators[i].Type.Order < n.Decorators[j].Type.Order })
	return content
}

// blockHeaders returns the schema of configuration blocks. Blocks whose
// trailing labels may be left out take none in the schema, and their labels
// are read from the block itself.
func blockHeaders(bts []BlockType) []hcl.BlockHeaderSchema {
	var out []hcl.BlockHeaderSchema
	for _, bt := range bts {
		out = append(out, hcl.BlockHeaderSchema{Type: bt.Name, LabelNames: bt.Labels})
	}
	return out
}

func findBlockType(bts []BlockType, name string) *BlockType {
	for i := range bts {
		if bts[i].Name == name {
			return &bts[i]
		}
	}
	return nil
}

// padLabels gives blocks whose trailing labels may be left out the missing
// ones before decoding (the schema needs a fixed label count): a left-out
// label repeats the one before it, so writer "csv" is writer "csv" "csv".
func padLabels(body hcl.Body, bts []BlockType) {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return
	}
	for _, b := range sb.Blocks {
		bt := findBlockType(bts, b.Type)
		if bt == nil || bt.MinLabels == 0 || len(b.Labels) < bt.MinLabels || len(b.Labels) == 0 {
			continue
		}
		for len(b.Labels) < len(bt.Labels) {
			b.Labels = append(b.Labels, b.Labels[len(b.Labels)-1])
			b.LabelRanges = append(b.LabelRanges, b.LabelRanges[len(b.LabelRanges)-1])
		}
	}
}

// block decodes a configuration block with the schema its labels select.
func (d *decoder) block(bt *BlockType, b *hcl.Block) *Block {
	blk := &Block{Type: b.Type, Labels: b.Labels, Range: b.DefRange, LabelRanges: b.LabelRanges}
	if bt.Attrs != nil {
		specs, err := bt.Attrs(b.Labels)
		if err != nil {
			subject := b.DefRange
			if len(b.LabelRanges) > 0 {
				subject = b.LabelRanges[0]
			}
			d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + bt.Name + " block",
				Detail: err.Error(), Subject: subject.Ptr()})
			return blk
		}
		blk.Specs = specs
	}
	var nested []BlockType
	if bt.Blocks != nil {
		nested = bt.Blocks(b.Labels)
	}
	padLabels(b.Body, nested)
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: attrSchema(blk.Specs), Blocks: blockHeaders(nested)})
	d.add(diags...)
	blk.Attrs = content.Attributes
	counts := map[string]int{}
	for _, cb := range content.Blocks {
		if nbt := findBlockType(nested, cb.Type); nbt != nil {
			counts[cb.Type]++
			blk.Blocks = append(blk.Blocks, d.block(nbt, cb))
		}
	}
	d.countBlocks(nested, counts, b.DefRange, "a "+bt.Name+" block")
	return blk
}

// countBlocks reports configuration blocks that are too few or too many.
func (d *decoder) countBlocks(bts []BlockType, counts map[string]int, where hcl.Range, in string) {
	for _, bt := range bts {
		c := counts[bt.Name]
		if c < bt.Min {
			d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing " + bt.Name + " block",
				Detail:  fmt.Sprintf("%s needs at least %d %s block(s).", upperFirst(in), bt.Min, bt.Name),
				Subject: where.Ptr()})
		}
		if bt.Max > 0 && c > bt.Max {
			d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Too many " + bt.Name + " blocks",
				Detail:  fmt.Sprintf("%s takes at most %d %s block(s).", upperFirst(in), bt.Max, bt.Name),
				Subject: where.Ptr()})
		}
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func branchType(t *StepType, name string) *BranchType {
	for i := range t.Branches {
		if t.Branches[i].Name == name {
			return &t.Branches[i]
		}
	}
	return nil
}

func (d *decoder) decorator(dt *DecoratorType, b *hcl.Block, n *Node) *DecoratorConfig {
	dc := &DecoratorConfig{Type: dt, Range: b.DefRange, Node: n}
	schema := &hcl.BodySchema{Attributes: attrSchema(dt.Attrs)}
	if dt.Body {
		schema.Blocks = d.stepBlocks()
		dc.Body = &Seq{Owner: n, Label: dt.Name}
	}
	content, diags := bodyContent(b.Body, schema)
	d.add(diags...)
	dc.Attrs = content.Attributes
	for _, cb := range content.Blocks {
		dc.Body.Nodes = append(dc.Body.Nodes, d.node(cb, dc.Body))
	}
	return dc
}

var outputSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "value", Required: true}, {Name: "description"}, {Name: "sensitive"}}}

func (d *decoder) output(b *hcl.Block) *OutputDecl {
	o := &OutputDecl{Name: b.Labels[0], Range: b.DefRange}
	if !hclsyntax.ValidIdentifier(o.Name) {
		d.add(badName("output", o.Name, b.LabelRanges[0]))
	}
	content, diags := bodyContent(b.Body, outputSchema)
	d.add(diags...)
	if a := content.Attributes["value"]; a != nil {
		o.Value = a.Expr
	} else {
		o.Value = hcl.StaticExpr(cty.NullVal(cty.DynamicPseudoType), b.DefRange)
	}
	o.Description = d.literalString(content.Attributes["description"])
	o.Sensitive = d.literalBool(content.Attributes["sensitive"])
	return o
}

func (d *decoder) literalString(a *hcl.Attribute) string {
	if a == nil {
		return ""
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
		d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + a.Name,
			Detail: a.Name + " must be a literal string.", Subject: a.Expr.Range().Ptr()})
		return ""
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + a.Name,
			Detail: a.Name + " must be a string.", Subject: a.Expr.Range().Ptr()})
		return ""
	}
	return s.AsString()
}

func (d *decoder) literalBool(a *hcl.Attribute) bool {
	if a == nil {
		return false
	}
	v, diags := a.Expr.Value(nil)
	if !diags.HasErrors() && v.IsWhollyKnown() && !v.IsNull() {
		if b, err := convert.Convert(v, cty.Bool); err == nil {
			return b.True()
		}
	}
	d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + a.Name,
		Detail: a.Name + " must be true or false.", Subject: a.Expr.Range().Ptr()})
	return false
}

// varNames returns the keys of a vars object, which must be plain names.
func (d *decoder) varNames(a *hcl.Attribute) []string {
	pairs, diags := hcl.ExprMap(a.Expr)
	if diags.HasErrors() {
		d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid vars",
			Detail: "vars must be an object of the form { name = value, ... }.", Subject: a.Expr.Range().Ptr()})
		return nil
	}
	var names []string
	for _, p := range pairs {
		name := hcl.ExprAsKeyword(p.Key)
		if name == "" {
			if v, diags := p.Key.Value(nil); !diags.HasErrors() && v.Type() == cty.String && v.IsKnown() {
				name = v.AsString()
			}
		}
		if !hclsyntax.ValidIdentifier(name) {
			d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid variable name",
				Detail: "A variable name must be a literal name such as total or file_count.", Subject: p.Key.Range().Ptr()})
			continue
		}
		names = append(names, name)
	}
	return names
}

var paramSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "type"}, {Name: "default"}, {Name: "description"}, {Name: "sensitive"}, {Name: "identifying"}}}

func (d *decoder) param(b *hcl.Block) {
	p := &Param{Name: b.Labels[0], Range: b.DefRange, Type: cty.DynamicPseudoType, Identifying: true}
	if !hclsyntax.ValidIdentifier(p.Name) {
		d.add(badName("param", p.Name, b.LabelRanges[0]))
	}
	if prev := d.flow.Param(p.Name); prev != nil {
		d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate param",
			Detail:  fmt.Sprintf("A param named %q is already declared at %s.", p.Name, Pos(prev.Range)),
			Subject: b.LabelRanges[0].Ptr()})
		return
	}
	content, diags := b.Body.Content(paramSchema)
	d.add(diags...)
	if a := content.Attributes["type"]; a != nil {
		ty, diags := typeexpr.TypeConstraint(a.Expr)
		for _, dg := range diags {
			dg.Detail += " Use a type such as string, number, bool, list(string), map(number) or object({ name = string })."
		}
		d.add(diags...)
		if !diags.HasErrors() {
			p.Type = ty
		}
	}
	if a := content.Attributes["default"]; a != nil && len(a.Expr.Variables()) > 0 {
		d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid default value",
			Detail:  fmt.Sprintf("The default of param %q must be a constant: it cannot refer to params, vars or steps. Compute derived values in vars instead.", p.Name),
			Subject: a.Expr.Range().Ptr()})
	} else if a != nil {
		v, diags := a.Expr.Value(&hcl.EvalContext{Functions: d.flow.funcs()})
		d.add(diags...)
		if !diags.HasErrors() {
			cv, err := convert.Convert(v, p.Type)
			if err != nil {
				d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid default value",
					Detail:  fmt.Sprintf("The default of param %q does not fit its type %s: %s.", p.Name, typeexpr.TypeString(p.Type), err),
					Subject: a.Expr.Range().Ptr()})
			} else {
				p.Default = cv
			}
		}
	}
	p.Description = d.literalString(content.Attributes["description"])
	p.Sensitive = d.literalBool(content.Attributes["sensitive"])
	if a := content.Attributes["identifying"]; a != nil {
		p.Identifying = d.literalBool(a)
	}
	d.flow.Params = append(d.flow.Params, p)
}
