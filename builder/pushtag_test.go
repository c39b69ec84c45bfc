package builder

import (
	"strings"
	"testing"
)

func TestWithPushTag(t *testing.T) {
	for _, tc := range []struct {
		name, tag, want string
	}{
		{name: "commit id", tag: "0123456789abcdef0123456789abcdef01234567"},
		{name: "word", tag: "main"},
		{name: "empty", tag: "", want: "not a valid OCI tag"},
		{name: "leading dash", tag: "-x", want: "not a valid OCI tag"},
		{name: "slash", tag: "a/b", want: "not a valid OCI tag"},
		{name: "too long", tag: strings.Repeat("a", 129), want: "not a valid OCI tag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &config{pushTag: "latest"}
			err := WithPushTag(tc.tag)(c)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("WithPushTag(%q): %v", tc.tag, err)
			case tc.want == "" && c.pushTag != tc.tag:
				t.Fatalf("pushTag = %q, want %q", c.pushTag, tc.tag)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("WithPushTag(%q) = %v, want an error containing %q", tc.tag, err, tc.want)
			}
		})
	}
}
