package policy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
)

// TestVerifySig checks each key type the trust store accepts the way
// cosign (sigstore's LoadVerifier with SHA-256) signs with it.
func TestVerifySig(t *testing.T) {
	msg := []byte(`{"critical":{}}`)
	sum := sha256.Sum256(msg)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecSig, _ := ecdsa.SignASN1(rand.Reader, ec, sum[:])
	ec384Sig, _ := ecdsa.SignASN1(rand.Reader, ec384, sum[:])
	rsaSig, _ := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, sum[:])
	edSig := ed25519.Sign(edPriv, msg)
	cases := []struct {
		name string
		key  crypto.PublicKey
		sig  []byte
		ok   bool
	}{
		{"ecdsa p256", ec.Public(), ecSig, true},
		{"ecdsa p384", ec384.Public(), ec384Sig, true},
		{"ed25519", edPub, edSig, true},
		{"rsa pkcs1v15", rk.Public(), rsaSig, true},
		{"ecdsa, other key's signature", ec384.Public(), ecSig, false},
		{"ed25519, rsa signature", edPub, rsaSig, false},
		{"rsa, ecdsa signature", rk.Public(), ecSig, false},
		{"unsupported key", "not a key", ecSig, false},
	}
	for _, tc := range cases {
		err := verifySig(tc.key, msg, tc.sig)
		if (err == nil) != tc.ok {
			t.Errorf("%s: verifySig = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if tc.ok {
			if err := verifySig(tc.key, append(msg, ' '), tc.sig); err == nil {
				t.Errorf("%s: a changed message verified", tc.name)
			}
		}
	}
}

func TestPAE(t *testing.T) {
	// The DSSE spec's example encoding.
	got := string(pae("http://example.com/HelloWorld", []byte("hello world")))
	want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"
	if got != want {
		t.Fatalf("pae = %q, want %q", got, want)
	}
}
