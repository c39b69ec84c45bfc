package imagespec

import "fmt"

// Merge policies: what a switch does with a file under /etc that both the
// node's operator and the new image changed.
const (
	MergeRefuse = "refuse" // refuse the switch, naming the file (default)
	MergeKeep   = "keep"   // keep the local edit
	MergeImage  = "image"  // take the new image's file, dropping the edit
)

// Drift policies: what the node does when a managed file under /etc is
// edited locally.
const (
	DriftReport = "report" // keep the edit and report it (default)
	DriftRevert = "revert" // restore the image's file at once and log it
)

// ConfigPolicy is a role's policy for its node's writable /etc.
type ConfigPolicy struct {
	// Merge is MergeRefuse (""), MergeKeep or MergeImage.
	Merge string `json:"merge,omitempty"`
	// Drift is DriftReport ("") or DriftRevert.
	Drift string `json:"drift,omitempty"`
}

// MergePolicy returns the merge policy with the default applied.
func (c ConfigPolicy) MergePolicy() string {
	if c.Merge == "" {
		return MergeRefuse
	}
	return c.Merge
}

// DriftPolicy returns the drift policy with the default applied.
func (c ConfigPolicy) DriftPolicy() string {
	if c.Drift == "" {
		return DriftReport
	}
	return c.Drift
}

// Validate checks both policies are known values.
func (c ConfigPolicy) Validate() error {
	switch c.Merge {
	case "", MergeRefuse, MergeKeep, MergeImage:
	default:
		return fmt.Errorf("merge policy %q: want %q, %q or %q", c.Merge, MergeRefuse, MergeKeep, MergeImage)
	}
	switch c.Drift {
	case "", DriftReport, DriftRevert:
	default:
		return fmt.Errorf("drift policy %q: want %q or %q", c.Drift, DriftReport, DriftRevert)
	}
	return nil
}
