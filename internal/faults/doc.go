// Package faults holds tests of Flowbatch under faults around a run, over
// the real flow binary and the engine in process:
//
//   - a PostgreSQL connection killed mid-chunk (pg_terminate_backend from a
//     second connection) while a batch writes through the SQL writer;
//   - write errors on an output file: /dev/full ("no space left on
//     device"), a file size limit reached mid-run (RLIMIT_FSIZE, the disk
//     full of one process), the store itself out of room;
//   - timeouts and cancellation of batches under load, with no goroutine
//     left behind.
//
// Each test checks that the run fails with a clear message (no panic, no
// stack trace), leaves no half-written output, and that running it again
// once the cause is gone resumes and completes with no record lost or
// written twice. docs/reliability.md sums up what is tested.
package faults
