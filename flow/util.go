package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// jsonUnmarshal decodes a JSON object and reports a syntax error with its
// line and column.
func jsonUnmarshal(data []byte, v any) error {
	err := json.Unmarshal(data, v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(data[:se.Offset], []byte("\n"))
		col := int(se.Offset) - bytes.LastIndexByte(data[:se.Offset], '\n') - 1
		return fmt.Errorf("line %d, column %d: %s", line, col, se.Error())
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// Not err itself: it names Go types (map[string]json.SimpleJSONValue).
		return fmt.Errorf("expected a JSON object of param values, found %s", te.Value)
	}
	return err
}
