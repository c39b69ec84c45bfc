package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/un-distro/undistro/internal/logctx"
	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/p2p"
	"github.com/un-distro/undistro/runtime/peerreg"
	"github.com/un-distro/undistro/runtime/policy"
	"github.com/un-distro/undistro/runtime/store"
)

// PeerConfig is how a node shares the small parts of images (manifests,
// configs, signatures, attestations) with its peers (see runtime/peerreg).
type PeerConfig struct {
	// Addr is where the daemon serves its read-only OCI endpoint to peers
	// ("": the BT address's IP at the BT port + 1, peerreg.EndpointFor; none
	// without BitTorrent).
	Addr string
	// Allow are the addresses that may connect (nil: the BitTorrent
	// client's allow-list, p2p.DefaultAllow unless configured).
	Allow []netip.Prefix
	// Endpoints returns the peers' endpoints, asked for an image by digest
	// when its registry cannot serve it (nil: the BitTorrent bootstrap
	// peers' and connected peers' endpoints).
	Endpoints func() []string
}

// attachments is where the node keeps the cosign attachments of the
// images it verified, to serve them to peers.
func (n *Node) attachments() *peerreg.Attachments {
	return peerreg.OpenAttachments(filepath.Join(n.cfg.Root, "attachments"))
}

// resolveSource is store.Resolve, falling back to the peers when the
// registry cannot serve an image named by digest. It returns the peers it
// fetched from (nil: the registry), for verifying the image the same way.
func (n *Node) resolveSource(ctx context.Context, ref string) (*store.Source, []string, error) {
	src, err := store.Resolve(ctx, ref)
	if err == nil || strings.HasPrefix(ref, imagespec.LayoutPrefix) {
		return src, nil, err
	}
	pc, perr := n.peering()
	if perr != nil || pc.Endpoints == nil {
		return nil, nil, err
	}
	r, perr := name.ParseReference(ref)
	if perr != nil {
		return nil, nil, err
	}
	if _, ok := r.(name.Digest); !ok {
		var te *transport.Error
		if errors.As(err, &te) {
			return nil, nil, err // the registry answered
		}
		return nil, nil, fmt.Errorf("%w: peers serve images by digest only, a tag needs the registry: name the image as %s@sha256:… (`undistro node status` on a node that runs it shows the digest)", err, r.Context())
	}
	peers := pc.Endpoints()
	if len(peers) == 0 {
		return nil, nil, fmt.Errorf("%w; and no peers are known to ask", err)
	}
	t := &peerreg.Transport{Peers: func() []string { return peers }}
	src, perr = store.Resolve(ctx, ref, store.WithRemoteOptions(remote.WithTransport(t)))
	if perr != nil {
		return nil, nil, fmt.Errorf("%w; and from peers: %w", err, perr)
	}
	logctx.From(ctx).Info("registry cannot serve the image: fetching it from peers", "image", ref, "peers", len(peers), "registry error", err)
	return src, peers, nil
}

// admitVia is admit through the registry (peers == nil) or through the
// peers: the signature and attestations, found by tag, are not
// content-addressed, so each peer is asked in turn until one's verify; a
// peer that lies costs a try, never an admission.
func (n *Node) admitVia(ctx context.Context, src *store.Source, o Admit, isSwitch bool, peers []string) (*Admission, error) {
	if peers == nil || o.InsecureAllowUnsigned {
		return n.admit(ctx, src, o, isSwitch)
	}
	var first error
	for _, p := range peers {
		ro := remote.WithTransport(&peerreg.Transport{Peers: func() []string { return []string{p} }})
		adm, err := n.admit(ctx, src, o, isSwitch, ro)
		if err == nil {
			return adm, nil
		}
		var pe *policy.Error
		if !errors.As(err, &pe) && !isUnreachable(err) {
			return nil, err // not about what the peer served
		}
		logctx.From(ctx).Info("a peer's signature of the image does not verify: asking the next", "peer", p, "err", err)
		if first == nil {
			first = err
		}
	}
	if len(peers) > 1 {
		return nil, fmt.Errorf("%w (through each of %d peers)", first, len(peers))
	}
	return nil, first
}

// isUnreachable reports whether err is a failure to reach a peer or an
// error answer from it, rather than a verdict on the image.
func isUnreachable(err error) bool {
	var te *transport.Error
	var ne net.Error
	return errors.As(err, &te) || errors.As(err, &ne) || errors.Is(err, peerreg.ErrNoPeers)
}

// keepAttachments keeps the cosign attachments of a verified image to
// serve them to peers. Failing to is logged, not fatal: the image verified.
func (n *Node) keepAttachments(ctx context.Context, ref, digest string, ro []remote.Option) {
	if strings.HasPrefix(ref, imagespec.LayoutPrefix) {
		return
	}
	r, err := name.ParseReference(ref)
	if err == nil {
		err = n.attachments().Fetch(ctx, r.Context(), digest, ro...)
	}
	if err != nil {
		logctx.From(ctx).Warn("keeping the image's signature and attestations for peers", "image", ref, "err", err)
	}
}

// servePeers starts the peer endpoint when one is configured; it stops when
// ctx ends.
func (n *Node) servePeers(ctx context.Context) error {
	pc, err := n.peering()
	if err != nil || pc.Addr == "" {
		return err
	}
	if pc.Allow == nil {
		pc.Allow = p2p.DefaultAllow
	}
	srv, err := peerreg.Listen(pc.Addr, pc.Allow, &peerContent{n: n})
	if err != nil {
		return err
	}
	n.peers.Store(srv)
	logctx.From(ctx).Info("serving verified images to peers", "addr", srv.Addr())
	go func() {
		if err := srv.Serve(ctx); err != nil {
			logctx.From(ctx).Error("serving peers", "err", err)
		}
	}()
	return nil
}

// PeerAddr is the address the daemon's peer endpoint listens on, or nil
// when it serves none.
func (n *Node) PeerAddr() net.Addr {
	if s := n.peers.Load(); s != nil {
		return s.Addr()
	}
	return nil
}

// peerContent is what the node serves its peers: the manifest, config and
// layers of every image it admitted with a verified signature, and their
// attachments.
type peerContent struct {
	n *Node

	mu       sync.Mutex
	stamp    [2]int64 // node.json's modification time and size when served was computed
	served   map[string]bool
	verified map[string]bool
}

var _ peerreg.Content = (*peerContent)(nil)

// refresh recomputes what is served when node.json (which records every
// admission, after the image is in the store) changed.
func (c *peerContent) refresh() (served, verified map[string]bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var stamp [2]int64
	if fi, err := os.Stat(statePath(c.n.cfg.Root)); err == nil {
		stamp = [2]int64{fi.ModTime().UnixNano(), fi.Size()}
	}
	if c.served != nil && stamp == c.stamp {
		return c.served, c.verified, nil
	}
	c.n.stMu.Lock()
	st, err := readState(c.n.cfg.Root)
	c.n.stMu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	served, verified = map[string]bool{}, map[string]bool{}
	for d, adm := range st.Admitted {
		if !adm.Verified() {
			continue
		}
		img, err := c.n.st.Image(d)
		if err != nil {
			continue // collected since
		}
		verified[d] = true
		served[d], served[img.ConfigDigest] = true, true
		for _, b := range img.Blobs {
			served[b] = true
		}
		for _, b := range c.n.attachments().Blobs(d) {
			served[b] = true
		}
	}
	c.stamp, c.served, c.verified = stamp, served, verified
	return served, verified, nil
}

func (c *peerContent) Open(digest string) (peerreg.File, error) {
	served, _, err := c.refresh()
	if err != nil {
		return nil, err
	}
	if !served[digest] {
		return nil, fmt.Errorf("%s is not part of an image this node verified: %w", digest, fs.ErrNotExist)
	}
	f, err := c.n.st.OpenBlob(digest)
	if errors.Is(err, fs.ErrNotExist) {
		return c.n.attachments().Open(digest)
	}
	return f, err
}

func (c *peerContent) Attachment(image, kind string) (string, error) {
	_, verified, err := c.refresh()
	if err != nil {
		return "", err
	}
	if !verified[image] {
		return "", fmt.Errorf("%s is not an image this node verified: %w", image, fs.ErrNotExist)
	}
	return c.n.attachments().Manifest(image, kind)
}

// pruneAttachments drops the attachments of images no longer in the store.
func (n *Node) pruneAttachments(ctx context.Context) {
	err := n.attachments().Prune(func(d string) bool {
		_, err := n.st.Image(d)
		return err == nil
	})
	if err != nil {
		logctx.From(ctx).Warn("pruning kept signatures", "err", err)
	}
}

// peering is the node's effective peer configuration: Config.Peer, with
// what it leaves unset derived from the BitTorrent configuration: the
// endpoint at the BT port + 1 (peerreg.EndpointFor), the BT allow-list,
// and as peers the bootstrap peers and those the BT client is connected
// to, at their endpoints.
func (n *Node) peering() (PeerConfig, error) {
	c, b := n.cfg.Peer, n.cfg.BitTorrent
	if !b.Enabled() {
		return c, nil
	}
	var err error
	if c.Addr == "" {
		if c.Addr, err = peerreg.EndpointFor(b.Listen); err != nil {
			return c, fmt.Errorf("--p2p: %w", err)
		}
	}
	if c.Allow == nil {
		c.Allow = p2p.DefaultAllow
		if len(b.Allow) > 0 {
			if c.Allow, err = p2p.ParseAllow(strings.Join(b.Allow, ",")); err != nil {
				return c, fmt.Errorf("--p2p-allow: %w", err)
			}
		}
	}
	if c.Endpoints == nil {
		c.Endpoints = n.btEndpoints
	}
	return c, nil
}

// btEndpoints are the peer endpoints of the bootstrap peers and of the
// peers the BT client is connected to (an incoming peer's port is not its
// listening port: asking it fails and the next is asked).
func (n *Node) btEndpoints() []string {
	var out []string
	seen := map[string]bool{}
	add := func(bt string) {
		ep, err := peerreg.EndpointFor(bt)
		if err == nil && !seen[ep] {
			seen[ep] = true
			out = append(out, ep)
		}
	}
	for _, p := range n.cfg.BitTorrent.Peers {
		add(p)
	}
	if c := n.bt.Load(); c != nil {
		for _, p := range c.Stats().Peers {
			add(p.Addr)
		}
	}
	return out
}
