package record_test

import (
	"fmt"

	"github.com/flowbatch/flow/steps/batch/record"
)

// A schema is made once and shared by every record of one shape; a record
// is its values in schema order. Decimals are exact: units and a scale.
func Example() {
	schema, err := record.NewSchema(
		record.Field{Name: "id", Kind: record.Int},
		record.Field{Name: "account", Kind: record.String},
		record.Field{Name: "amount", Kind: record.Decimal},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	r := record.New(schema)
	for i, text := range []string{"42", "FR76-0001", "1234.50"} {
		v, err := record.Parse(schema.Fields[i].Kind, text)
		if err != nil {
			fmt.Println(err)
			return
		}
		r.Values[i] = v
	}

	amount, _ := r.Get("amount")
	units, scale, _ := amount.Decimal()
	fmt.Println(amount.Kind(), units, scale, amount.Text())

	// Add 0.05 exactly, in cents.
	_ = r.Set("amount", record.Dec(units+5, scale))
	b, _ := record.AppendRecordJSON(nil, r)
	fmt.Println(string(b))

	_, err = record.Parse(record.Decimal, "1,234.50")
	fmt.Println(err)
	// Output:
	// decimal 123450 2 1234.50
	// {"id":42,"account":"FR76-0001","amount":1234.55}
	// invalid decimal "1,234.50"
}
