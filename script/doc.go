// Package script is Flowbatch's JavaScript support, on goja: the script
// step, the "js" record processor of batch steps, and the expression
// language of writer filters and partition_by_js.
//
// Programs are compiled once, when the flow is loaded (a syntax error is a
// diagnostic at the line and column of the flow file, or of the .js file),
// and shared by every runtime that runs them. A runtime is not safe for
// concurrent use, so each worker of a batch step gets its own, created on
// its first record and kept for the rest of the run, as k6 gives each
// virtual user one.
//
// Records reach JavaScript without copies: item is a dynamic object whose
// fields are converted when read. What the code returns or emits is read
// back field by field, with the output schema cached per set of keys.
//
// The sandbox has no file system, network, environment, process or timers:
// only ECMAScript, console (to the step's log), decimal (exact decimals)
// and require of .js files under the flow's directory.
//
// Importing the package registers the script step, the js processor and
// the expression language.
package script
