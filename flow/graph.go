package flow

import (
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// WriteGraph renders the flow's step tree as a Mermaid flowchart
// ("mermaid"), a Graphviz digraph ("dot") or an SVG picture ("svg", laid
// out here: no Graphviz needed). Sequences are drawn as chains, parallel
// children and fork bodies as fans, choose branches with their condition,
// catch and finally as dashed edges.
func (f *Flow) WriteGraph(w io.Writer, format string) error {
	g := &grapher{}
	g.expand(f.Root, g.node(f.Root))
	switch format {
	case "mermaid", "":
		fmt.Fprintf(w, "flowchart TD\n")
		for _, n := range g.nodes {
			fmt.Fprintf(w, "  %s[\"%s\"]\n", n.id, mermaidEscape(n.label))
		}
		for _, e := range g.edges {
			arrow := "-->"
			if e.dashed {
				arrow = "-.->"
			}
			if e.label != "" {
				fmt.Fprintf(w, "  %s %s|\"%s\"| %s\n", e.from, arrow, mermaidEscape(e.label), e.to)
			} else {
				fmt.Fprintf(w, "  %s %s %s\n", e.from, arrow, e.to)
			}
		}
	case "dot":
		fmt.Fprintf(w, "digraph %q {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n", f.Name)
		for _, n := range g.nodes {
			fmt.Fprintf(w, "  %s [label=%q];\n", n.id, n.label)
		}
		for _, e := range g.edges {
			var attrs []string
			if e.label != "" {
				attrs = append(attrs, fmt.Sprintf("label=%q", e.label))
			}
			if e.dashed {
				attrs = append(attrs, "style=dashed")
			}
			extra := ""
			if len(attrs) > 0 {
				extra = " [" + strings.Join(attrs, ", ") + "]"
			}
			fmt.Fprintf(w, "  %s -> %s%s;\n", e.from, e.to, extra)
		}
		fmt.Fprintln(w, "}")
	case "svg":
		return g.writeSVG(w, f.Name)
	default:
		return Errorf(KindUsage, "unknown graph format %q: use mermaid, dot or svg", format)
	}
	return nil
}

type gnode struct{ id, label string }
type gedge struct {
	from, to, label string
	dashed          bool
	// next marks the edge from a step to the one after it in a sequence
	// (the others go from a step to what it holds).
	next bool
}

type grapher struct {
	nodes []gnode
	edges []gedge
}

func (g *grapher) add(label string) string {
	id := fmt.Sprintf("n%d", len(g.nodes))
	g.nodes = append(g.nodes, gnode{id, label})
	return id
}

// node adds n's box and returns its id.
func (g *grapher) node(n *Node) string {
	label := n.Type.Name + " " + n.Name
	if n.In == nil {
		label = "flow " + n.Flow.Name
	}
	var decos []string
	for _, d := range n.Decorators {
		if d.Body == nil {
			decos = append(decos, d.Type.Name)
		} else if d.Type.Name == "retry" {
			decos = append(decos, "retry")
		}
	}
	if len(decos) > 0 {
		label += " (" + strings.Join(decos, ", ") + ")"
	}
	return g.add(label)
}

// expand draws what n holds below its box id.
func (g *grapher) expand(n *Node, id string) {
	if n.Body != nil {
		g.seq(id, n.Body, "")
	}
	for _, b := range n.Branches {
		lbl := b.Type
		if c := b.Attrs["condition"]; c != nil {
			lbl = b.Type + " " + exprText(c.Expr.Range(), n.Flow)
		}
		g.seq(id, b.Body, lbl)
	}
	for _, d := range n.Decorators {
		if d.Body != nil {
			for _, c := range d.Body.Nodes {
				cid := g.node(c)
				g.edges = append(g.edges, gedge{from: id, to: cid, label: d.Type.Name, dashed: true})
				g.expand(c, cid)
			}
		}
	}
}

// seq draws a sequence below parent: a chain, or a fan when concurrent.
func (g *grapher) seq(parent string, s *Seq, label string) {
	prev := parent
	for i, c := range s.Nodes {
		cid := g.node(c)
		switch {
		case s.Concurrent:
			g.edges = append(g.edges, gedge{from: parent, to: cid, label: label})
		case i == 0:
			g.edges = append(g.edges, gedge{from: parent, to: cid, label: label})
		default:
			g.edges = append(g.edges, gedge{from: prev, to: cid, next: true})
		}
		g.expand(c, cid)
		prev = cid
	}
}

// exprText returns the source text of a range, or its position when the
// file is not at hand.
func exprText(r hcl.Range, f *Flow) string {
	if f.loader != nil {
		if file := f.loader.Files()[r.Filename]; file != nil {
			b := file.Bytes
			if r.Start.Byte >= 0 && r.End.Byte <= len(b) && r.Start.Byte <= r.End.Byte {
				return string(b[r.Start.Byte:r.End.Byte])
			}
		}
	}
	return r.String()
}

func mermaidEscape(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;").Replace(s)
}
