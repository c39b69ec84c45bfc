package node

import (
	"context"

	"github.com/un-distro/undistro/runtime/supervise"
)

// Changed returns a channel closed at the node's next change of state: a
// switch, rollback or reconfigure that ended (done or refused), or a
// change of a service's state in the daemon (started, ready, exited,
// restarted). What follows the node (the fleet agent) waits on it and then
// reads Status, instead of polling Status.
func (n *Node) Changed() <-chan struct{} {
	n.changedMu.Lock()
	defer n.changedMu.Unlock()
	if n.changed == nil {
		n.changed = make(chan struct{})
	}
	return n.changed
}

// notifyChanged wakes what waits on Changed.
func (n *Node) notifyChanged() {
	n.changedMu.Lock()
	defer n.changedMu.Unlock()
	if n.changed != nil {
		close(n.changed)
		n.changed = nil
	}
}

// forwardChanges turns every state change of sup's services into a
// change of the node until ctx ends.
func (n *Node) forwardChanges(ctx context.Context, sup *supervise.Supervisor) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sup.Changed():
			n.notifyChanged()
		}
	}
}

// unlockOp ends an operation that held opMu: whatever it changed (the
// current image, its services, a trial), watchers are woken.
func (n *Node) unlockOp() {
	n.opMu.Unlock()
	n.notifyChanged()
}
