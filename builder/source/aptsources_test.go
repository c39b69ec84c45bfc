package source

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

func TestDebSrcList(t *testing.T) {
	etc := t.TempDir()
	keys := filepath.Join(t.TempDir(), "keys", "inline")
	writeTree(t, etc, map[string]string{
		"sources.list": "# comment\ndeb http://deb.debian.org/debian bookworm main contrib # trailing\n" +
			"deb-src http://ignored.example/debian bookworm main\n" +
			"deb [ arch=amd64 signed-by=/k.gpg ] https://repo.example/apt stable main\n",
		"sources.list.d/extra.list":         "deb [arch=amd64] http://deb.debian.org/debian bookworm main contrib\n",
		"sources.list.d/off.list.disabled":  "deb http://disabled.example/ x main\n",
		"sources.list.d/debian.sources":     "Types: deb\n# http://snapshot.debian.org/x\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb-src\nURIs: http://src-only.example\nSuites: x\nComponents: main\n",
		"sources.list.d/disabled.sources":   "Types: deb\nEnabled: no\nURIs: http://off.example\nSuites: x\nComponents: main\n",
		"sources.list.d/inline.sources":     "Types: deb deb-src\nURIs: http://a.example http://b.example\nSuites: s1 s2/\nComponents: main\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBF\n -----END PGP PUBLIC KEY BLOCK-----\n",
		"sources.list.d/zz-trusted.sources": "types: deb\nuris: http://local.example\nsuites: ./\ntrusted: yes\n",
	})
	got, err := debSrcList(etc, keys)
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(keys, "inline-0.asc")
	want := strings.Join([]string{
		"deb-src http://deb.debian.org/debian bookworm main contrib",
		"deb-src [signed-by=/k.gpg] https://repo.example/apt stable main",
		"deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main",
		"deb-src [signed-by=" + key + "] http://a.example s1 main",
		"deb-src [signed-by=" + key + "] http://a.example s2/ main",
		"deb-src [signed-by=" + key + "] http://b.example s1 main",
		"deb-src [signed-by=" + key + "] http://b.example s2/ main",
		"deb-src [trusted=yes] http://local.example ./",
	}, "\n") + "\n"
	if string(got) != want {
		t.Errorf("sources.list =\n%s\nwant\n%s", got, want)
	}
	k, err := os.ReadFile(key)
	if err != nil || string(k) != "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF\n-----END PGP PUBLIC KEY BLOCK-----\n" {
		t.Errorf("inline key file = %q, %v", k, err)
	}
	if _, err := debSrcList(t.TempDir(), keys); err == nil || !strings.Contains(err.Error(), "no deb entries") {
		t.Errorf("empty apt config: err = %v", err)
	}
}

const dscText = `-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA256

Format: 3.0 (quilt)
Source: hello
Checksums-Sha1:
 0000000000000000000000000000000000000000 5 hello_1.orig.tar.gz
Checksums-Sha256:
 %s 5 hello_1.orig.tar.gz
 %s 3 hello_1-1.debian.tar.xz
Files:
 00000000000000000000000000000000 5 hello_1.orig.tar.gz
-----BEGIN PGP SIGNATURE-----

iQIzBAEBCAAdFiEE
-----END PGP SIGNATURE-----
`

func TestVerifyDsc(t *testing.T) {
	orig, deb := []byte("orig!"), []byte("deb")
	cases := []struct {
		name    string
		dsc     string
		files   map[string][]byte
		err     string
		errIsCS bool
	}{
		{"good", sprintf(dscText, sha(orig), sha(deb)), map[string][]byte{"hello_1.orig.tar.gz": orig, "hello_1-1.debian.tar.xz": deb}, "", false},
		{"tampered file", sprintf(dscText, sha(orig), sha(deb)), map[string][]byte{"hello_1.orig.tar.gz": []byte("evil!"), "hello_1-1.debian.tar.xz": deb},
			"checksum mismatch for hello_1.orig.tar.gz: hello_1.dsc says sha256:" + sha(orig) + " (5 bytes), downloaded sha256:" + sha([]byte("evil!")) + " (5 bytes)", true},
		{"missing file", sprintf(dscText, sha(orig), sha(deb)), map[string][]byte{"hello_1.orig.tar.gz": orig}, "hello_1.dsc lists hello_1-1.debian.tar.xz", false},
		{"no sha256 field", "Format: 1.0\nFiles:\n 0 1 x\n", nil, "no Checksums-Sha256 field", false},
		{"path in name", "Checksums-Sha256:\n " + sha(orig) + " 5 ../hello_1.orig.tar.gz\n", nil, `file name "../hello_1.orig.tar.gz" is not a plain name`, false},
		{"malformed line", "Checksums-Sha256:\n nothex 5 x\n", nil, "malformed Checksums-Sha256 line", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, b := range tc.files {
				os.WriteFile(filepath.Join(dir, n), b, 0o644)
			}
			dsc := filepath.Join(dir, "hello_1.dsc")
			os.WriteFile(dsc, []byte(tc.dsc), 0o644)
			err := verifyDsc(dsc)
			testsupport.WantErr(t, err, tc.err)
			if tc.errIsCS && !errors.Is(err, ErrChecksumMismatch) {
				t.Errorf("err %v is not ErrChecksumMismatch", err)
			}
		})
	}
}
