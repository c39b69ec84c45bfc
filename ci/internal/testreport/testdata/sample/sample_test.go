package sample

import (
	"os"
	"testing"
)

func TestPass(t *testing.T) { t.Log("quiet when passing") }

func TestFail(t *testing.T) {
	if os.Getenv("SAMPLE_FAIL") != "" {
		t.Error("the failure's message")
	}
}

func TestMissingTool(t *testing.T) { t.Skip("bwrap not installed: apt-get install bubblewrap") }

func TestLong(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: skipped under -short")
	}
}
