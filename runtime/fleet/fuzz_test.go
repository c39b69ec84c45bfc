package fleet

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeTarget: a rollout event is what any key holder gossips; a
// target that decodes must validate and survive a round trip.
func FuzzDecodeTarget(f *testing.F) {
	good, _ := json.Marshal(Target{Role: "web", Ref: "oci:/x:web", Digest: digestN(1), MaxUnavailable: 2, Canary: 1})
	for _, s := range []string{string(good), `{}`, `{"role":"web","maxUnavailable":-1}`, `[`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tg, err := decodeTarget(b)
		if err != nil {
			return
		}
		if err := tg.Validate(); err != nil {
			t.Fatalf("decoded target does not validate: %v", err)
		}
		again, err := json.Marshal(tg)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := decodeTarget(again); err != nil || back != tg {
			t.Fatalf("round trip: %+v, %v; want %+v", back, err, tg)
		}
	})
}

// FuzzAnnounceOf: member tags are what another node claims; decoding
// them never fails or panics, and Decide copes with whatever they say.
func FuzzAnnounceOf(f *testing.F) {
	f.Add("web", "1111", "steady", "", "ok", "a,b", "http:8080,admin:x")
	f.Add("", "", "", "", "", "", ":,:0,a:99999")
	f.Fuzz(func(t *testing.T, role, img, sw, refused, health, tags, provides string) {
		a := announceOf(map[string]string{tagRole: role, tagImage: img, tagSwitch: sw, tagRefused: refused, tagHealth: health, tagTags: tags, tagProvides: provides})
		for name, port := range a.Provides {
			if port < 1 || port > 65535 {
				t.Fatalf("provides %s port %d accepted", name, port)
			}
		}
		ms := []Member{{Name: "a", Status: "alive", Announce: a}, {Name: "b", Status: "alive", Announce: Announce{Role: role}}}
		_ = Decide(Target{Role: role, Ref: "r", Digest: digestN(1), MaxUnavailable: 1}, "b", ms)
	})
}
