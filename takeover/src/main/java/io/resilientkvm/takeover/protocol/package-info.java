/**
 * The takeover protocol (docs/takeover.md): a pure {@link io.resilientkvm.takeover.protocol.TakeoverPlanner}
 * decides whether this clone may become the main; {@link io.resilientkvm.takeover.protocol.Takeover} runs
 * the ZooKeeper steps (lock, plan, confirm, epoch compare-and-set, fence the old main, promote);
 * {@link io.resilientkvm.takeover.protocol.FencedNodes} lets an operator see and clear fenced nodes;
 * {@link io.resilientkvm.takeover.protocol.TakeoverStatus} is what {@code bin/takeover status} prints.
 */
package io.resilientkvm.takeover.protocol;
