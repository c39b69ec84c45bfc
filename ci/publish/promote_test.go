package publish

import (
	"context"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport/imagetest"
)

// TestPromoteAllOrNothing: main moves for no role while one role's commit
// tag is missing (its matrix job failed), and for every role once all are
// there.
func TestPromoteAllOrNothing(t *testing.T) {
	ctx := context.Background()
	reg := imagetest.Registry(t) + "/distro"
	const commit = "0123456789abcdef0123456789abcdef01234567"
	oldX := imagetest.PushRandom(t, reg+"/x:main")
	newX := imagetest.PushRandom(t, reg+"/x:"+commit)

	_, err := Promote(ctx, reg, commit, []string{"x", "y"})
	if err == nil || !strings.Contains(err.Error(), "y:"+commit+" was not published") || !strings.Contains(err.Error(), "nothing moved") {
		t.Fatalf("Promote with y missing: %v", err)
	}
	if d := digestOf(t, reg+"/x:main"); d != oldX {
		t.Fatalf("x:main moved to %s though y was missing (was %s)", d, oldX)
	}
	if tagExists(t, reg+"/y:main") {
		t.Fatal("y:main exists")
	}

	newY := imagetest.PushRandom(t, reg+"/y:"+commit)
	moved, err := Promote(ctx, reg, commit, []string{"x", "y"})
	if err != nil {
		t.Fatalf("Promote: %v", err)
	}
	want := []Moved{{Role: "x", Main: reg + "/x:main", Digest: newX}, {Role: "y", Main: reg + "/y:main", Digest: newY}}
	if len(moved) != 2 || moved[0] != want[0] || moved[1] != want[1] {
		t.Fatalf("moved = %+v, want %+v", moved, want)
	}
	for role, d := range map[string]string{"x": newX, "y": newY} {
		if got := digestOf(t, reg+"/"+role+":main"); got != d {
			t.Errorf("%s:main = %s, want %s", role, got, d)
		}
	}
}
