package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/spf13/cobra"
)

func (c *cli) fmtCmd() *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "fmt [--check] FILE|DIR...",
		Short: "Format flow files in the canonical style",
		Long: `Rewrite flow files in the canonical HCL style (alignment, indentation,
spacing); a directory stands for the *.flow.hcl files directly in it. With
--check nothing is written: the files that would change are listed and the
exit code is 1 when there is any. Syntax errors exit with 2.`,
		Example: `  flow fmt nightly.flow.hcl
  flow fmt --check flows/`,
		Args: argsBetween(1, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			paths, err := flowFiles(args)
			if err != nil {
				return err
			}
			changed := false
			for _, p := range paths {
				src, err := os.ReadFile(p)
				if err != nil {
					return &exitError{exitUsage, err.Error()}
				}
				// hclwrite formats even broken input; refuse it so that a
				// syntax error is reported, not reshaped.
				if _, diags := hclwrite.ParseConfig(src, p, hcl.Pos{Line: 1, Column: 1}); diags.HasErrors() {
					c.writeDiags(map[string]*hcl.File{p: {Bytes: src}}, diags)
					return &exitError{exitUsage, ""}
				}
				out := hclwrite.Format(src)
				if bytes.Equal(out, src) {
					continue
				}
				changed = true
				if check {
					fmt.Fprintln(c.stdout, p)
					continue
				}
				info, err := os.Stat(p)
				if err != nil {
					return &exitError{exitFailed, err.Error()}
				}
				if err := os.WriteFile(p, out, info.Mode().Perm()); err != nil {
					return &exitError{exitFailed, err.Error()}
				}
			}
			if check && changed {
				return &exitError{exitFailed, ""}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "list files that are not formatted; write nothing")
	return cmd
}

// flowFiles expands the directories among args into the *.flow.hcl files
// directly in them, as flow.Load reads a directory.
func flowFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		info, err := os.Stat(a)
		if err != nil || !info.IsDir() {
			out = append(out, a) // a file, or an error ReadFile reports
			continue
		}
		matches, err := filepath.Glob(filepath.Join(a, "*.flow.hcl"))
		if err != nil {
			return nil, &exitError{exitUsage, err.Error()}
		}
		if len(matches) == 0 {
			return nil, &exitError{exitUsage, fmt.Sprintf("%s: no *.flow.hcl file in the directory", a)}
		}
		out = append(out, matches...)
	}
	return out, nil
}

func (c *cli) graphCmd() *cobra.Command {
	var format, flowName string
	cmd := &cobra.Command{
		Use:   "graph FILE|DIR",
		Short: "Draw a flow as a Mermaid or Graphviz DOT graph, or an SVG picture",
		Long: `Print the flow's step tree as a Mermaid flowchart (paste it into any
Markdown viewer that renders Mermaid), as Graphviz DOT (dot -Tsvg), or as
an SVG picture laid out by flow itself (open it in a browser): steps top
down, what a step holds below it, parallel branches side by side, catch
and finally dashed to the right.`,
		Example: `  flow graph settle.flow.hcl > settle.mmd
  flow graph settle.flow.hcl --format svg > settle.svg
  flow graph settle.flow.hcl --format dot | dot -Tpng > settle.png`,
		Args: argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := c.load(args[0])
			if err != nil {
				return err
			}
			f, err := pickFlow(set, flowName)
			if err != nil {
				return err
			}
			if err := f.WriteGraph(c.stdout, format); err != nil {
				return &exitError{exitUsage, err.Error()}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "mermaid", "mermaid, dot or svg")
	cmd.Flags().StringVar(&flowName, "flow", "", "which flow to draw when the file or directory holds several")
	return cmd
}
