/**
 * A gateway's statistics: it answers for the traffic it routed. Per (model, version) it counts the
 * requests it forwarded that succeeded and failed, each timed from routing to the node's answer
 * (retries included). Queue, compute, inferences and executions happen on the nodes and are zero
 * here; each node's own statistics carry them.
 */
import { RequestTally, toModelStatistics, type ModelStatistics } from '../core/model-statistics.js';

export class ForwardedStatistics {
  /** By model, then version: two lookups on strings the caller has, no key to build per request. */
  readonly #tallies = new Map<string, Map<string, RequestTally>>();

  /** The tally of (model, version), made on first use. */
  of(model: string, version: string): RequestTally {
    let versions = this.#tallies.get(model);
    if (!versions) {
      versions = new Map();
      this.#tallies.set(model, versions);
    }
    let tally = versions.get(version);
    if (!tally) {
      tally = new RequestTally();
      versions.set(version, tally);
    }
    return tally;
  }

  /** (model, version)'s figures; all zero when nothing was forwarded to it yet. */
  statistics(model: string, version: string): ModelStatistics {
    return toModelStatistics(model, version, this.#tallies.get(model)?.get(version) ?? new RequestTally());
  }
}
