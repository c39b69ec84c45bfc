package supervise

import (
	"syscall"
	"testing"
)

func TestSigMaskHas(t *testing.T) {
	const status = "Name:\tsh\nSigIgn:\t0000000000000002\nSigCgt:\t0000000000004001\n"
	tests := []struct {
		name  string
		field string
		sig   syscall.Signal
		want  bool
	}{
		{"caught TERM", "SigCgt", syscall.SIGTERM, true},
		{"caught HUP", "SigCgt", syscall.SIGHUP, true},
		{"INT not caught", "SigCgt", syscall.SIGINT, false},
		{"INT ignored", "SigIgn", syscall.SIGINT, true},
		{"missing field", "SigBlk", syscall.SIGTERM, false},
		{"signal 0", "SigCgt", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sigMaskHas(status, tc.field, tc.sig); got != tc.want {
				t.Errorf("sigMaskHas(%s, %v) = %v, want %v", tc.field, tc.sig, got, tc.want)
			}
		})
	}
}
