package files_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/files"
	"github.com/flowbatch/flow/steps/batch/record"
)

// The readers work without a flow too: here a fixed-width file model is
// built in Go (what a reader "fixed" block declares in HCL), and its
// reader feeds batch.Run. The trailer's count and total are checked as the
// file is read.
func ExampleNewFixedReader() {
	dir, err := os.MkdirTemp("", "fixed")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "movements.dat")
	data := "D0001234500012550\n" +
		"D0009876500000310\n" +
		"D00012345-0000075\n" +
		"T00000300012785\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		log.Fatal(err)
	}

	tag := func(s string) *record.Value { v := record.Str(s); return &v }
	format := &files.FixedFormat{
		Separator: "\n",
		Body: &files.FixedRecord{Fields: []*files.FixedField{
			{Name: "tag", Length: 1, Value: tag("D")},
			{Name: "account", Length: 8},
			{Name: "amount", Length: 8, Kind: record.Decimal, Scale: 2, Pad: "0"}, // 00012550 is 125.50
		}},
		Trailer: &files.FixedRecord{Fields: []*files.FixedField{
			{Name: "tag", Length: 1, Value: tag("T")},
			{Name: "count", Length: 6, Kind: record.Int, Pad: "0", Check: "count"},
			{Name: "total", Length: 8, Kind: record.Decimal, Scale: 2, Pad: "0", SumOf: "amount"},
		}},
	}
	if err := format.Init(); err != nil {
		log.Fatal(err)
	}
	reader := files.NewFixedReader(path, "movements.dat", format, nil)
	defer reader.Close()

	keep := batch.ProcessorFunc[*record.Record, *record.Record](func(_ *batch.Chunk, r *record.Record, emit func(*record.Record)) error {
		emit(r)
		return nil
	})
	show := batch.ConsumerFunc[*record.Record](func(_ *batch.Chunk, rs []*record.Record) error {
		for _, r := range rs {
			b, err := record.AppendRecordJSON(nil, r)
			if err != nil {
				return err
			}
			fmt.Printf("%s %s\n", r.Where(), b)
		}
		return nil
	})
	cnt, err := batch.Run[*record.Record, *record.Record](context.Background(), reader, keep, show, batch.Options[*record.Record]{ChunkSize: 2})
	fmt.Println("read", cnt.Read, "error", err)
	// Output:
	// movements.dat:1 {"tag":"D","account":"00012345","amount":125.50}
	// movements.dat:2 {"tag":"D","account":"00098765","amount":3.10}
	// movements.dat:3 {"tag":"D","account":"00012345","amount":-0.75}
	// read 3 error <nil>
}
