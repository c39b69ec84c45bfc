package recipe

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"4096", 4096, ""},
		{"512K", 512 << 10, ""},
		{"64M", 64 << 20, ""},
		{"1g", 1 << 30, ""},
		{"2T", 2 << 40, ""},
		{"", 0, `"" is not a size`},
		{"0", 0, `"0" is not a size`},
		{"-1M", 0, `"-1M" is not a size`},
		{"1.5G", 0, `"1.5G" is not a size`},
		{"64MB", 0, `"64MB" is not a size`},
		{"99999999999T", 0, `"99999999999T" is not a size`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSize(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseSize(%q) = %d, %v; want error %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

// FuzzParseSize checks a size from a recipe is positive or an error,
// never a wrapped-around number.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"64M", "1G", "0", "9223372036854775807", "8796093022208T", "-5k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && n <= 0 {
			t.Fatalf("ParseSize(%q) = %d without error", s, n)
		}
	})
}

func TestGrantsOverride(t *testing.T) {
	yes := true
	rec := Grants{Capabilities: []string{"net_raw"}, Network: "host", MemoryMax: "64M"}
	got := rec.Override(Grants{Capabilities: []string{}, AllowSetuid: &yes, TasksMax: 8})
	if len(got.Capabilities) != 0 || got.Capabilities == nil || got.Network != "host" || got.MemoryMax != "64M" || got.TasksMax != 8 || !*got.AllowSetuid {
		t.Errorf("Override = %+v: want the role's empty capabilities, allow_setuid and tasks_max over the recipe's", got)
	}
	sb := got.Sandbox()
	if sb.MemoryMax != 64<<20 || !sb.AllowSetuid || sb.Network != "host" {
		t.Errorf("Sandbox = %+v", sb)
	}
}
