// Package steps holds Flowbatch's standard step types: the control steps
// sequential, parallel, loop, choose and fork, and the leaf steps set, log,
// sleep, fail, exec and call. Importing the package registers them into
// flow.DefaultRegistry; Register adds them to another registry.
package steps
