package sign

import (
	"github.com/sigstore/rekor/pkg/generated/client"
	"github.com/sigstore/rekor/pkg/generated/models"
)

type (
	rekorClient = client.Rekor
	logEntry    = models.LogEntryAnon
)
