package node

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// TestGateCrashLoopWithoutCheck checks the health gate catches a service
// that declares no readiness check and crashes right after each start: it
// never stays up for the supervisor's settle period, so it is never ready
// and the switch rolls back.
func TestGateCrashLoopWithoutCheck(t *testing.T) {
	ctx := logCtx(context.Background())
	svc := imagespec.Service{Name: "app", Package: "app.sh", Exec: []string{"/svc/app.sh"}, Restart: "always"}
	refs := writeLayout(t, filepath.Join(t.TempDir(), "layout"),
		role{Name: "good", Files: map[string]string{"/svc/app.sh": "#!/bin/sh\nexec sleep 30\n"}, Services: []imagespec.Service{svc}},
		role{Name: "crashy", Files: map[string]string{"/svc/app.sh": "#!/bin/sh\nexit 1\n"}, Services: []imagespec.Service{svc}},
	)
	n, err := Open(ctx, testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := runDaemon(t, n)
	if _, err := c.Switch(ctx, refs["good"], unsigned); err != nil {
		t.Fatal(err)
	}
	_, err = c.Switch(ctx, refs["crashy"], unsigned)
	if !errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), `service "app" not ready (failed)`) {
		t.Fatalf("Switch(crashy) = %v, want ErrRolledBack naming app", err)
	}
	if st := mustStatus(t, c); st.Current.Role != "good" {
		t.Fatalf("current is %s after the crash loop, want good", st.Current.Role)
	}
}
