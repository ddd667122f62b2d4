package main

import (
	"fmt"
	"strings"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
)

// Component is a registered reader, processor or writer, as the batch page
// lists it.
type Component struct {
	Name    string
	Summary string
	Attrs   []flow.Attr
	Blocks  []flow.BlockType
}

// Components are the registered readers, processors and writers, each
// sorted by name.
type Components struct {
	Readers, Processors, Writers []Component
}

// BatchComponents lists what is registered with package batch.
func BatchComponents() Components {
	var c Components
	for _, t := range batch.ReaderTypes() {
		c.Readers = append(c.Readers, Component{Name: t.Name, Summary: t.Summary, Attrs: t.Attrs, Blocks: t.Blocks})
	}
	for _, t := range batch.ProcessorTypes() {
		c.Processors = append(c.Processors, Component{Name: t.Name, Summary: t.Summary, Attrs: t.Attrs})
	}
	for _, t := range batch.WriterTypes() {
		c.Writers = append(c.Writers, Component{Name: t.Name, Summary: t.Summary, Attrs: t.Attrs, Blocks: t.Blocks})
	}
	return c
}

// maxDepth bounds the nesting rendered, in case a block type nests itself.
const maxDepth = 8

// RenderBatch renders the batch reference: the nested blocks of the batch
// step type (nil when it is not registered) and every component. A
// component's attributes and blocks are taken from the step's block of its
// kind when it has one (so that a writer's page shows filter, which the
// step adds to every writer), else from the component itself.
func RenderBatch(step *flow.StepType, comps Components) []byte {
	var b strings.Builder
	b.WriteString("# Batch reference\n\n")
	b.WriteString(generatedNote)
	b.WriteString("This page lists the blocks of the `batch` step and every reader, processor and writer type " +
		"registered in the engine, with their attributes. [The batch step](../batch.md) explains how a batch runs, " +
		"fails, resumes and writes exactly once; [File formats](../formats.md) explains the file readers and writers " +
		"with examples. The step's own attributes and outputs are in the [step reference](steps.md#batch).\n\n")

	blocks := map[string]flow.BlockType{}
	n := &nested{seen: map[string]string{}}
	if step != nil {
		b.WriteString("## Blocks of the batch step\n\n")
		b.WriteString("| Block | Count | Description |\n|---|---|---|\n")
		for _, bt := range step.Blocks {
			blocks[bt.Name] = bt
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", blockForm(bt), count(bt.Min, bt.Max), cell(bt.Doc))
		}
		b.WriteString("\n")
		for _, bt := range step.Blocks {
			if len(bt.Labels) > 0 {
				if _, err := attrsOf(bt, nil); err != nil {
					// The attributes depend on the type label: listed
					// below, by type.
					continue
				}
			}
			fmt.Fprintf(&b, "### `%s` block\n\n%s\n\n", bt.Name, text(bt.Doc))
			n.block(&b, bt, nil, 0)
		}
		for _, name := range step.Claims {
			fmt.Fprintf(&b, "### `%s` block\n\n", name)
			fmt.Fprintf(&b, "The batch step reads its `%s { ... }` block itself instead of being wrapped by the decorator: "+
				"it takes the attributes of the [`%s` decorator](steps.md#%s-decorator)", name, name, anchor(name))
			if name == "retry" {
				b.WriteString(" and retries each failed chunk, not the step (see [Failures](../batch.md#failures-retry-isolate-skip))")
			}
			b.WriteString(".\n\n")
		}
	}

	kinds := []struct {
		kind, block, title string
		list               []Component
	}{
		{"reader", "reader", "Readers", comps.Readers},
		{"processor", "processor", "Processors", comps.Processors},
		{"writer", "writer", "Writers", comps.Writers},
	}
	for _, k := range kinds {
		fmt.Fprintf(&b, "## %s\n\n", k.title)
		if len(k.list) == 0 {
			fmt.Fprintf(&b, "No %s type is registered.\n\n", k.kind)
			continue
		}
		b.WriteString("| Type | Summary |\n|---|---|\n")
		for _, c := range k.list {
			fmt.Fprintf(&b, "| [`%s`](#%s-%s) | %s |\n", c.Name, anchor(c.Name), k.kind, cell(c.Summary))
		}
		b.WriteString("\n")
		bt, hasBlock := blocks[k.block]
		for _, c := range k.list {
			fmt.Fprintf(&b, "### `%s` %s\n\n%s\n\n", c.Name, k.kind, text(c.Summary))
			labels := []string{c.Name}
			attrs, blocksIn := c.Attrs, c.Blocks
			if hasBlock {
				fmt.Fprintf(&b, "Written as `%s`.\n\n", componentForm(bt, c.Name))
				if a, err := attrsOf(bt, labels); err == nil {
					attrs = a
				}
				if bt.Blocks != nil {
					blocksIn = bt.Blocks(labels)
				}
			}
			attrTable(&b, attrs, "Attributes")
			for _, nb := range blocksIn {
				n.block(&b, nb, []string{fmt.Sprintf("%s %q", k.block, c.Name)}, 1)
			}
		}
	}
	return []byte(strings.TrimRight(b.String(), "\n") + "\n")
}

// attrsOf returns a block's attributes for the given labels (the label
// names stand in when labels is nil).
func attrsOf(bt flow.BlockType, labels []string) ([]flow.Attr, error) {
	if bt.Attrs == nil {
		return nil, nil
	}
	if labels == nil {
		labels = bt.Labels
	}
	return bt.Attrs(labels)
}

// nested renders blocks nested in others, each as a title and an
// attribute table. A block that takes exactly what one rendered before
// takes (the header, body and trailer of a file model, the same model in a
// reader and a writer) refers to it instead of repeating its tables.
type nested struct {
	seen map[string]string // rendered body → the title of its first block
}

// block renders bt and the blocks inside it; path holds the blocks around
// it, as written (reader "fixed", body). At depth 0 the caller wrote the
// title.
func (n *nested) block(b *strings.Builder, bt flow.BlockType, path []string, depth int) {
	var body strings.Builder
	attrs, err := attrsOf(bt, nil)
	switch {
	case err != nil:
		body.WriteString("Its attributes depend on its labels.\n\n")
	case len(attrs) == 0:
		body.WriteString("It takes no attributes.\n\n")
	default:
		attrTable(&body, attrs, "Attributes")
	}
	var inner []flow.BlockType
	if bt.Blocks != nil && depth < maxDepth {
		inner = bt.Blocks(bt.Labels)
	}
	// What the block holds, for the comparison: its attributes and the
	// shapes of the blocks inside.
	key := body.String()
	for _, nb := range inner {
		var sub strings.Builder
		(&nested{seen: map[string]string{}}).block(&sub, nb, nil, depth+1)
		key += "\x00" + sub.String()
	}
	var where []string
	for _, p := range path {
		where = append(where, "`"+p+"`")
	}
	title := strings.Join(append(where, "`"+labelled(bt)+"`"), " › ")
	if depth > 0 {
		heading := strings.Join(append(where, "`"+blockForm(bt)+"`"), " › ")
		fmt.Fprintf(b, "**%s** (%s). %s\n\n", heading, count(bt.Min, bt.Max), text(bt.Doc))
	}
	if first, ok := n.seen[key]; ok && first != title {
		fmt.Fprintf(b, "It takes what %s takes, above.\n\n", first)
		return
	}
	n.seen[key] = title
	b.WriteString(body.String())
	sub := append(append([]string(nil), path...), labelled(bt))
	for _, nb := range inner {
		n.block(b, nb, sub, depth+1)
	}
}

// labelled is a block's name with its labels: writer "TYPE" ["NAME"]. The
// labels that may be left out are in brackets.
func labelled(bt flow.BlockType) string {
	s := bt.Name
	for i, l := range bt.Labels {
		q := fmt.Sprintf("%q", strings.ToUpper(l))
		if bt.MinLabels > 0 && i >= bt.MinLabels {
			q = "[" + q + "]"
		}
		s += " " + q
	}
	return s
}

// blockForm is how a block is written: name "LABEL" ... { ... }.
func blockForm(bt flow.BlockType) string { return labelled(bt) + " { ... }" }

// componentForm is how a component's block is written: its type as the
// first label, the labels that may be left out in brackets.
func componentForm(bt flow.BlockType, name string) string {
	s := fmt.Sprintf("%s %q", bt.Name, name)
	for i := 1; i < len(bt.Labels); i++ {
		q := fmt.Sprintf("%q", strings.ToUpper(bt.Labels[i]))
		if bt.MinLabels > 0 && i >= bt.MinLabels {
			q = "[" + q + "]"
		}
		s += " " + q
	}
	return s + " { ... }"
}
