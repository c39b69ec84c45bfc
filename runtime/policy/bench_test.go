package policy

import (
	"context"
	"crypto"
	"testing"
)

// BenchmarkVerify measures a full offline verification (signature and SBOM
// attestation) as a node does before a switch.
func BenchmarkVerify(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			f := be.new(b)
			k := newKey(b)
			tg, d := resolved(b, f.refA)
			k.sign(b, tg, d, d)
			k.attest(b, tg, d, PredicateSPDX)
			p := &Policy{Keys: []crypto.PublicKey{k.pub}, RequireSBOM: true}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Verify(context.Background(), f.refA, f.digestA); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func FuzzStatementOf(f *testing.F) {
	f.Add([]byte(`{"payload":"eyJwcmVkaWNhdGVUeXBlIjoieCIsInN1YmplY3QiOlt7ImRpZ2VzdCI6eyJzaGEyNTYiOiIwMCJ9fV19"}`))
	f.Add([]byte(`{"critical":{"image":{"docker-manifest-digest":"sha256:00"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = verifyEnvelope(nil, b)
		_, _ = decodeSimpleSigning(b)
	})
}
