// Package files holds the batch step's file readers and writers: csv and
// jsonl (and fixed-width record files). Each registers itself with the
// batch package by name when the package is imported, so a flow can say
//
//	reader "csv"   { path = "in/data.csv"  schema = { amount = "decimal" } }
//	writer "jsonl" { path = "out/data.jsonl" }
//
// Readers stream: they hold a buffer, never the whole file. Their position
// (the byte offset and line of the next record) goes into the batch
// checkpoint, and Seek returns there on resume. A row that cannot be read
// (a wrong number of fields, an unterminated quote, a value that is not of
// its schema type, a line that is not a JSON object) goes to the skip
// policy with its file:line and the field at fault.
//
// Writers commit exactly once: a chunk's records are encoded in memory and
// appended when the chunk commits, and the file's committed length is kept
// in the checkpoint; a resumed run cuts the file back to it before going
// on, so the output of a run that was killed and resumed is the same as an
// uninterrupted one (byte for byte at concurrency 1).
package files
