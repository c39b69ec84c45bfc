package p2p

import (
	"fmt"
	"slices"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
)

// Metainfo returns the .torrent of a blob the client seeds: its info
// dictionary, the client's trackers as announce list, and webSeeds as
// BEP 19 url-list.
func (c *Client) Metainfo(digest string, webSeeds []string) ([]byte, error) {
	c.mu.Lock()
	var e *entry
	for _, x := range c.entries {
		if x.digest == digest && x.seeding {
			e = x
		}
	}
	c.mu.Unlock()
	if e == nil || e.t == nil {
		return nil, fmt.Errorf("%s is not seeded here: pull an image that has it first", digest)
	}
	mi := e.t.Metainfo()
	out := metainfo.MetaInfo{InfoBytes: mi.InfoBytes, CreatedBy: "undistro", UrlList: slices.Clone(webSeeds)}
	if len(c.cfg.Trackers) > 0 {
		out.Announce = c.cfg.Trackers[0]
		out.AnnounceList = [][]string{slices.Clone(c.cfg.Trackers)}
	}
	b, err := bencode.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encoding the torrent of %s: %w", digest, err)
	}
	return b, nil
}
