package flow_test

import (
	"bytes"
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/flowbatch/flow/flow"
	_ "github.com/flowbatch/flow/steps"
)

// svgShape is a rect or text of a drawing.
type svgShape struct {
	name       string
	x, y, w, h float64
	text       string
}

// parseSVG checks that src is well-formed XML and returns its size, its
// step boxes (rects with rx="6") and its texts.
func parseSVG(t *testing.T, src []byte) (w, h float64, boxes []svgShape, texts []string) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(src))
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("number %q: %v", s, err)
		}
		return v
	}
	var inText bool
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, src)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			a := map[string]string{}
			for _, at := range tok.Attr {
				a[at.Name.Local] = at.Value
			}
			switch tok.Name.Local {
			case "svg":
				w, h = num(a["width"]), num(a["height"])
			case "rect":
				if a["rx"] == "6" {
					boxes = append(boxes, svgShape{name: "rect", x: num(a["x"]), y: num(a["y"]), w: num(a["width"]), h: num(a["height"])})
				}
			case "text":
				inText = true
			}
		case xml.CharData:
			if inText {
				texts = append(texts, string(tok))
			}
		case xml.EndElement:
			inText = false
		}
	}
	return w, h, boxes, texts
}

func TestGraphSVG(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		// The texts of the boxes, then those of the edges.
		boxes, labels []string
	}{
		{"sequence", `
flow "seq" {
  log "a" { message = "a" }
  log "b" { message = "b" }
}`, []string{"flow seq", "log a", "log b"}, nil},
		{"parallel, choose, catch, escaping", `
flow "mix" {
  parallel "both" {
    log "x" { message = "x" }
    sequential "y" {
      log "y1" { message = "y1" }
      log "y2" { message = "y2" }
    }
  }
  choose "route" {
    when {
      condition = 1 < 2 && true
      log "small" { message = "s" }
    }
    otherwise {
      fail "big" { message = "b" }
    }
  }
  exec "risky" {
    command = ["true"]
    catch {
      log "oops" { message = "caught" }
    }
    finally {
      log "tidy" { message = "done" }
    }
  }
  log "end" { message = "end" }
}`, []string{"flow mix", "parallel both", "log x", "sequential y", "log y1", "log y2", "choose route",
			"log small", "fail big", "exec risky", "log tidy", "log oops", "log end"},
			[]string{"when 1 < 2 && true", "otherwise", "finally", "catch"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, diags := flow.LoadFS(fstest.MapFS{"x.flow.hcl": {Data: []byte(tc.src)}}, "x.flow.hcl", nil)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			f, _ := set.Only()
			var buf bytes.Buffer
			if err := f.WriteGraph(&buf, "svg"); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(buf.String(), "&lt; 2 &amp;&amp;") && strings.Contains(tc.src, "1 < 2") {
				t.Errorf("the condition is not escaped:\n%s", buf.String())
			}
			w, h, boxes, texts := parseSVG(t, buf.Bytes())
			if len(boxes) != len(tc.boxes) {
				t.Errorf("%d boxes, want %d", len(boxes), len(tc.boxes))
			}
			want := append(append([]string{}, tc.boxes...), tc.labels...)
			if strings.Join(texts, "|") != strings.Join(want, "|") {
				t.Errorf("texts\n got %q\nwant %q", texts, want)
			}
			for i, a := range boxes {
				if a.x < 0 || a.y < 0 || a.x+a.w > w || a.y+a.h > h {
					t.Errorf("box %d (%s) leaves the picture (%gx%g): %+v", i, texts[i], w, h, a)
				}
				for j, b := range boxes[:i] {
					if a.x < b.x+b.w && b.x < a.x+a.w && a.y < b.y+b.h && b.y < a.y+a.h {
						t.Errorf("boxes %d and %d overlap: %+v %+v", j, i, b, a)
					}
				}
			}
		})
	}
}
