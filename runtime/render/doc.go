// Package render renders a role's template config files on the node.
//
// A role file declared `template = true` (builder/role) is a Go
// text/template: parsed by text/template/parse, so the syntax is exactly
// Go's, and evaluated here (eval.go) with text/template's semantics for
// data, pipelines, variables, if/with/range/break/continue, define and
// template, and the functions and, or, not, len, index, print, printf,
// println, eq, ne, lt, le, gt, ge and join (TestSameAsTextTemplate compares
// the two). text/template's own executor is not used on the node because
// it has no bound on the work a template does: {{range 1000000000000}}
// with no output would hang the switch, so this evaluator counts steps and
// refuses a template over its budget. (It was first written to keep
// text/template's reflection out of the node binary, +2.6 MB; since the
// BitTorrent engine links text/template anyway, that no longer holds.)
// Templates read data; they cannot call its methods. The node renders it
// at each switch and whenever its facts
// or tag values change (runtime/facts gives the data: .Name, .Tags,
// .Facts.Hostname, .Facts.Addresses, .Facts.CPUs, .Facts.MemoryBytes,
// .Facts.Kernel and .Values.KEY). Rendering is strict (missingkey=error): a
// key the data lacks fails with the template's file:line:col and the key,
// and the node refuses the switch rather than write a half-configured file.
//
// Extension point: functions beyond the built-in ones are declared by name
// in FuncNames (so `undistro recipe lint` can parse templates that call
// them without the node's implementation) and supplied to New with
// WithFuncs by whatever provides them on the node (the fleet's `peers`,
// for example).
package render
