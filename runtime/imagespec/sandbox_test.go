package imagespec

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSandboxAsks(t *testing.T) {
	tests := []struct {
		name string
		sb   Sandbox
		want string
	}{
		{"defaults", Sandbox{}, ""},
		{"private is the default", Sandbox{Network: NetworkPrivate}, ""},
		{"grants", Sandbox{Capabilities: []string{"net_bind_service"}, Network: NetworkHost, MemoryMax: 64 << 20, AllowSetuid: true},
			"capabilities=net_bind_service allow_setuid network=host memory_max=67108864"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(tc.sb.Asks(), " "); got != tc.want {
				t.Errorf("Asks = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSandboxOmitted checks a service with the default sandbox encodes as
// before: images without grants keep their metadata, and digests.
func TestSandboxOmitted(t *testing.T) {
	b, err := json.Marshal(Service{Name: "s", Exec: []string{"/s"}, Restart: RestartAlways})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"s","exec":["/s"],"restart":"always"}`; string(b) != want {
		t.Errorf("encoded %s, want %s", b, want)
	}
}
