package node

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/un-distro/undistro/runtime/p2p"
)

func init() { sentinels["noP2P"] = ErrNoP2P }

// p2pRoutes serves the BitTorrent client's state on the daemon's socket.
func (n *Node) p2pRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/p2p", func(w http.ResponseWriter, r *http.Request) {
		s, err := n.P2P(r.Context())
		reply(w, s, err, nil)
	})
	mux.HandleFunc("GET /v1/p2p/torrent", func(w http.ResponseWriter, r *http.Request) {
		b, err := n.Torrent(r.Context(), r.URL.Query().Get("digest"))
		if err != nil {
			reply(w, nil, err, nil)
			return
		}
		w.Header().Set("Content-Type", "application/x-bittorrent")
		_, _ = w.Write(b)
	})
}

// P2P asks the daemon for its BitTorrent state.
func (c *Client) P2P(ctx context.Context) (*p2p.Stats, error) {
	var s p2p.Stats
	if err := c.do(ctx, http.MethodGet, "/v1/p2p", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Torrent asks the daemon for the metainfo of a stored blob.
func (c *Client) Torrent(ctx context.Context, digest string) ([]byte, error) {
	resp, err := c.send(ctx, http.MethodGet, "/v1/p2p/torrent?"+url.Values{"digest": {digest}}.Encode(), nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
}
