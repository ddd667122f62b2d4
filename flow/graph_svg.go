package flow

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The SVG drawing of a flow, laid out top-down without Graphviz. The graph
// the grapher builds is a tree (every box has one incoming edge), which
// is drawn as blocks: a step's box, with what it holds (its children,
// branches, fork body, catch and finally) side by side below it, each a
// chain; the steps of a chain are stacked, each below the whole block of
// the one before. Where a step's children end, their lines meet in a join
// point, from which the arrow to the next step leaves: parallel branches
// fan out and meet again, a choose's branches too.

// Sizes, in pixels.
const (
	svgCharW   = 7.2 // a character of the 12px monospace font
	svgBoxH    = 30.0
	svgPadX    = 12.0 // inside a box, left and right of its text
	svgMinBoxW = 64.0
	svgHGap    = 24.0 // between side-by-side chains
	svgVGap    = 48.0 // between a box and what is below it
	svgJoinGap = 24.0 // from the end of the children to their join point
	svgMargin  = 16.0
)

// svgBlock is a box and what it holds: the steps it runs in a row below
// it, centred; the catch and finally bodies (dashed) to the right of
// those, so that the line from the box to the next step stays clear.
type svgBlock struct {
	node   int        // index into grapher.nodes
	w      float64    // the box's width
	inner  []svgInner // what the step holds
	join   bool       // the solid inner chains meet in a join point
	solid  int        // how many inner chains are not dashed
	l, r   float64    // the block's extent left and right of its centre
	h      float64    // the block's height
	rowW   float64    // of the solid inner chains side by side
	rowH   float64    // of the tallest inner chain
	dashX0 float64    // where the dashed chains start, from the centre
	// Set by place: the box's centre and top, and where the block's flow
	// leaves it (below the box, or the join point).
	cx, y, exitY float64
}

type svgInner struct {
	chain  *svgChain
	label  string
	dashed bool
	l, r   float64 // the room the chain takes in the row, around its centre
}

// svgChain is a sequence of blocks, stacked on one centre line.
type svgChain struct {
	blocks []*svgBlock
	l, r   float64
	h      float64
}

type svgLayout struct {
	g     *grapher
	index map[string]int
	out   map[string][]gedge // edges by their source
}

func svgTextW(s string) float64 { return float64(utf8.RuneCountInString(s)) * svgCharW }

// chain builds the chain that starts at node id. needExit says whether
// the chain's end is joined by its parent's join point.
func (l *svgLayout) chain(id string, needExit bool) *svgChain {
	c := &svgChain{}
	for id != "" {
		var next string
		var inner []gedge
		for _, e := range l.out[id] {
			if e.next {
				next = e.to
			} else {
				inner = append(inner, e)
			}
		}
		b := &svgBlock{node: l.index[id]}
		for _, e := range inner {
			if !e.dashed {
				b.solid++
			}
		}
		last := next == ""
		b.join = b.solid > 0 && (!last || b.solid > 1 || needExit)
		b.w = max(svgMinBoxW, svgTextW(l.g.nodes[b.node].label)+2*svgPadX)
		for _, e := range inner {
			ch := l.chain(e.to, b.join && !e.dashed)
			in := svgInner{chain: ch, label: e.label, dashed: e.dashed, l: ch.l, r: ch.r}
			if e.label != "" {
				half := svgTextW(e.label)/2 + 8
				in.l, in.r = max(in.l, half), max(in.r, half)
			}
			b.inner = append(b.inner, in)
			b.rowH = max(b.rowH, ch.h)
		}
		n := 0
		for _, in := range b.inner {
			if !in.dashed {
				if n > 0 {
					b.rowW += svgHGap
				}
				b.rowW += in.l + in.r
				n++
			}
		}
		b.l, b.r = max(b.w/2, b.rowW/2), max(b.w/2, b.rowW/2)
		b.dashX0 = b.r + svgHGap
		for _, in := range b.inner {
			if in.dashed {
				b.r = b.dashX0 + in.l + in.r
				b.dashX0 = b.r + svgHGap
			}
		}
		b.dashX0 = max(b.w/2, b.rowW/2) + svgHGap
		b.h = svgBoxH
		if len(b.inner) > 0 {
			b.h += svgVGap + b.rowH
		}
		if b.join {
			b.h += svgJoinGap
		}
		if len(c.blocks) > 0 {
			c.h += svgVGap
		}
		c.blocks = append(c.blocks, b)
		c.l, c.r, c.h = max(c.l, b.l), max(c.r, b.r), c.h+b.h
		id = next
	}
	return c
}

// place positions a chain centred on cx from top y.
func (c *svgChain) place(cx, y float64) {
	for _, b := range c.blocks {
		b.place(cx, y)
		y += b.h + svgVGap
	}
}

func (b *svgBlock) place(cx, y float64) {
	b.cx, b.y, b.exitY = cx, y, y+svgBoxH
	x, dx := cx-b.rowW/2, cx+b.dashX0
	top := y + svgBoxH + svgVGap
	for _, in := range b.inner {
		if in.dashed {
			in.chain.place(dx+in.l, top)
			dx += in.l + in.r + svgHGap
			continue
		}
		in.chain.place(x+in.l, top)
		x += in.l + in.r + svgHGap
	}
	if b.join {
		b.exitY = y + b.h - svgJoinGap/2
	}
}

// exit returns where the flow leaves a chain: its last block's exit.
func (c *svgChain) exit() (x, y float64) {
	last := c.blocks[len(c.blocks)-1]
	return last.cx, last.exitY
}

// svgNum writes a coordinate with at most one decimal.
func svgNum(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

func svgEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// writeSVG draws the graph; title names the flow.
func (g *grapher) writeSVG(w io.Writer, title string) error {
	if len(g.nodes) == 0 {
		return Errorf(KindUsage, "nothing to draw")
	}
	l := &svgLayout{g: g, index: map[string]int{}, out: map[string][]gedge{}}
	for i, n := range g.nodes {
		l.index[n.id] = i
	}
	for _, e := range g.edges {
		l.out[e.from] = append(l.out[e.from], e)
	}
	root := l.chain(g.nodes[0].id, false)
	width, height := root.l+root.r+2*svgMargin, root.h+2*svgMargin
	root.place(svgMargin+root.l, svgMargin)

	var b strings.Builder
	n := svgNum
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="12">`+"\n",
		n(width), n(height), n(width), n(height))
	fmt.Fprintf(&b, "<title>flow %s</title>\n", svgEscape(title))
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5b6475"/></marker></defs>` + "\n")
	fmt.Fprintf(&b, `<rect width="%s" height="%s" fill="#ffffff"/>`+"\n", n(width), n(height))

	// Lines first, boxes over them.
	var boxes, labels strings.Builder
	var draw func(c *svgChain)
	draw = func(c *svgChain) {
		for i, blk := range c.blocks {
			label := g.nodes[blk.node].label
			fill, stroke := "#eef2f8", "#5b6b8c"
			switch {
			case blk.node == 0:
				fill, stroke = "#dde6f5", "#34486e"
			case strings.HasPrefix(label, "batch "):
				fill, stroke = "#e6f4ea", "#3f7a52"
			case len(blk.inner) > 0:
				fill = "#f7f9fc"
			}
			fmt.Fprintf(&boxes, `<rect x="%s" y="%s" width="%s" height="%s" rx="6" fill="%s" stroke="%s"/>`+"\n",
				n(blk.cx-blk.w/2), n(blk.y), n(blk.w), n(svgBoxH), fill, stroke)
			fmt.Fprintf(&boxes, `<text x="%s" y="%s" text-anchor="middle" fill="#1d2433">%s</text>`+"\n",
				n(blk.cx), n(blk.y+svgBoxH/2+4), svgEscape(label))
			if i > 0 {
				prev := c.blocks[i-1]
				fmt.Fprintf(&b, `<path d="M%s,%s V%s" fill="none" stroke="#5b6475" marker-end="url(#arrow)"/>`+"\n",
					n(prev.cx), n(prev.exitY), n(blk.y))
			}
			bus := blk.y + svgBoxH + svgVGap/3
			for _, in := range blk.inner {
				first := in.chain.blocks[0]
				dash := ""
				if in.dashed {
					dash = ` stroke-dasharray="5,4"`
				}
				switch {
				case in.dashed:
					// From the box's right side, across, and down.
					fmt.Fprintf(&b, `<path d="M%s,%s H%s V%s" fill="none" stroke="#5b6475"%s marker-end="url(#arrow)"/>`+"\n",
						n(blk.cx+blk.w/2), n(blk.y+svgBoxH/2), n(first.cx), n(first.y), dash)
				case first.cx == blk.cx:
					fmt.Fprintf(&b, `<path d="M%s,%s V%s" fill="none" stroke="#5b6475"%s marker-end="url(#arrow)"/>`+"\n",
						n(blk.cx), n(blk.y+svgBoxH), n(first.y), dash)
				default:
					fmt.Fprintf(&b, `<path d="M%s,%s V%s H%s V%s" fill="none" stroke="#5b6475"%s marker-end="url(#arrow)"/>`+"\n",
						n(blk.cx), n(blk.y+svgBoxH), n(bus), n(first.cx), n(first.y), dash)
				}
				if in.label != "" {
					lw := svgTextW(in.label) + 8
					ly := first.y - 14
					fmt.Fprintf(&labels, `<rect x="%s" y="%s" width="%s" height="15" rx="3" fill="#ffffff" fill-opacity="0.9"/>`+"\n",
						n(first.cx-lw/2), n(ly-11), n(lw))
					fmt.Fprintf(&labels, `<text x="%s" y="%s" text-anchor="middle" fill="#445066" font-size="11">%s</text>`+"\n",
						n(first.cx), n(ly), svgEscape(in.label))
				}
				draw(in.chain)
			}
			if blk.join {
				for _, in := range blk.inner {
					if in.dashed {
						continue
					}
					x, y := in.chain.exit()
					fmt.Fprintf(&b, `<path d="M%s,%s V%s H%s" fill="none" stroke="#9aa3b5"/>`+"\n", n(x), n(y), n(blk.exitY), n(blk.cx))
				}
				if blk.solid > 1 {
					fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3.5" fill="#5b6475"/>`+"\n", n(blk.cx), n(blk.exitY))
				}
			}
		}
	}
	draw(root)
	b.WriteString(boxes.String())
	b.WriteString(labels.String())
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
