// Package render renders a role's template config files on the node.
//
// A role file declared `template = true` (builder/role) is a Go
// text/template. The node renders it at each switch and whenever its facts
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
