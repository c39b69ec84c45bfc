package fleet

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKey(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "fleet.key")
	if err := GenerateKey(p); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	k, err := LoadKey(p)
	if err != nil || len(k) != KeySize {
		t.Fatalf("LoadKey = %d bytes, %v", len(k), err)
	}
	if err := GenerateKey(p); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("GenerateKey over an existing key: %v, want a refusal", err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("LoadKey of a world-readable key: %v, want a chmod hint", err)
	}
	tests := []struct {
		name, content, want string
	}{
		{"16 bytes", base64.StdEncoding.EncodeToString(make([]byte, 16)), ""},
		{"24 bytes", base64.StdEncoding.EncodeToString(make([]byte, 24)) + "\n", ""},
		{"not base64", "not a key!", "not base64"},
		{"wrong size", base64.StdEncoding.EncodeToString(make([]byte, 20)), "20 bytes, want 16, 24 or 32"},
		{"empty", "", "0 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKey("k", []byte(tc.content))
			if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseKey = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestAnnounceTags(t *testing.T) {
	a := Announce{Role: "web", Image: digestN(1), Switch: RolledBack, Refused: digestN(2), RefusedSerial: 42, Health: HealthOK,
		Tags: []string{"eu", "rack1"}, Provides: map[string]int{"http": 8080, "admin": 9000}}
	m, err := a.tags()
	if err != nil {
		t.Fatal(err)
	}
	back := announceOf(m)
	if !sameAnnounce(a, back) || back.Image != a.Image || back.RefusedSerial != 42 || back.Provides["http"] != 8080 {
		t.Errorf("round trip: %+v, want %+v", back, a)
	}
	a.Tags = []string{strings.Repeat("x", 400)}
	if _, err := a.tags(); err == nil || !strings.Contains(err.Error(), "shorter node tags") {
		t.Errorf("tags over the meta limit: %v, want a refusal", err)
	}
}
