package facts

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name, src string
		want      map[string]any // merged values
		tags      []string
		err       string
	}{
		{name: "defaults", src: "", tags: []string{"host"}, want: map[string]any{}},
		{name: "earlier tag overrides", src: `
name = "web-1"
tags = ["web-1", "web", "all"]
[values.all]
port = 80
region = "eu"
[values.web]
port = 8080
[values.web-1]
port = 9090
`, tags: []string{"web-1", "web", "all"}, want: map[string]any{"port": int64(9090), "region": "eu"}},
		{name: "unknown key", src: "name = \"n\"\ntag = [\"n\"]\n", err: `node.toml:2:1: unknown key "tag"`},
		{name: "wrong type", src: "name = 3\n", err: "node.toml:1:"},
		{name: "syntax", src: "name = \"n\"\ntags = [\n", err: "node.toml:"},
		{name: "name not first", src: "name = \"n\"\ntags = [\"web\", \"n\"]\n", err: `node.toml:2:9: tags: the first tag must be the node's name "n"`},
		{name: "values of an unknown tag", src: "name = \"n\"\ntags = [\"n\"]\n\n[values.db]\nx = 1\n", err: `node.toml:4:9: [values.db]: "db" is not one of the node's tags`},
		{name: "duplicate tag", src: "name = \"n\"\ntags = [\"n\", \"web\", \"web\"]\n", err: `tag "web" is listed twice`},
		{name: "bad name", src: "name = \"../x\"\n", err: `name "../x"`},
		{name: "p2p", src: "name = \"n\"\n[p2p]\npeers = [\"10.0.0.2:6881\", \"[fd00::1]:6881\"]\ntrackers = [\"http://origin:5000/announce\"]\n", tags: []string{"n"}, want: map[string]any{}},
		{name: "bad peer", src: "name = \"n\"\n[p2p]\npeers = [\"10.0.0.2:6881\", \"10.0.0.3\"]\n", err: `node.toml:3:27: p2p.peers: "10.0.0.3": want HOST:PORT`},
		{name: "bad tracker", src: "name = \"n\"\n[p2p]\ntrackers = [\"udp://x:1\"]\n", err: `node.toml:3:13: p2p.trackers: "udp://x:1": want an http(s) announce URL`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig("node.toml", []byte(tc.src), "host")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Tags, tc.tags) || !reflect.DeepEqual(c.Merged(), tc.want) {
				t.Fatalf("tags %v values %v, want %v %v", c.Tags, c.Merged(), tc.tags, tc.want)
			}
		})
	}
}

func TestLoadConfigMissingIsDefault(t *testing.T) {
	c, err := LoadConfig(filepath.Join(t.TempDir(), FileName), "h")
	if err != nil || c.Name != "h" || !reflect.DeepEqual(c.Tags, []string{"h"}) {
		t.Fatalf("%+v, %v", c, err)
	}
}

func TestGather(t *testing.T) {
	f, err := Gather(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if f.Hostname != host || f.CPUs != runtime.NumCPU() || f.MemoryBytes == 0 || f.Kernel == "" {
		t.Fatalf("facts %+v", f)
	}
	rel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	if f.Kernel != strings.TrimSpace(string(rel)) {
		t.Fatalf("kernel %q, /proc says %q", f.Kernel, rel)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add("name = \"n\"\ntags = [\"n\", \"web\"]\n[values.web]\nport = 1\n")
	f.Fuzz(func(t *testing.T, src string) {
		c, err := ParseConfig("f", []byte(src), "h")
		if err == nil && (len(c.Tags) == 0 || c.Tags[0] != c.Name) {
			t.Fatalf("accepted %+v", c)
		}
	})
}
