/**
 * Pure decisions of coordinator failover: which standby, how to fence, when to force a detach, when the
 * cluster is serving again, and the dry-run plan. No I/O, no clock: observations and time are arguments.
 *
 * The fencing argument (docs/failover.md): the coordinator address lives on one ENI, and an ENI has at most one
 * attachment. We attach it to the standby only after EC2 reports the old attachment gone (`available`, no
 * attachment), and the failed instance is then stopped or terminated, so no two coordinators ever own the
 * address at once. EC2 refuses to attach an attached ENI; our code checks the attachment itself as well
 * (moto does not refuse), see {@link decideAttach}.
 *
 * Split by concern under ./decide/ (standby, ENI, plan, outcome), every name re-exported here.
 *
 * @module
 */
export * from './decide/eni.ts';
export * from './decide/outcome.ts';
export * from './decide/plan.ts';
export * from './decide/standby.ts';
