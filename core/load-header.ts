/**
 * A node's load on every response, in one header: each gateway learns the load of the nodes it
 * uses from its own traffic, and a node need not know its gateways (no heartbeats needed). The
 * figures are ORCA's endpoint load metrics in spirit (utilization ≈ application_utilization,
 * rps ≈ rps_fractional, eps, plus named metrics for in-flight, queue and service time), in a
 * compact text form that is cheap to write and to read:
 *
 *   infergate-load: f=3,q=1,s=4,u=0.531,st=12.5,l=20.1,r=80.2,e=0,w=1500,d=0
 *
 * f in flight, q queue depth, s slots, u utilization 0..1, st service time ms, l latency ms,
 * r completed/s, e errors/s, w window ms, d 1 when draining. Unknown keys are ignored (a newer
 * node may add some); a missing or malformed value makes the whole header count as absent.
 */
import type { LoadReport, NodeState } from './load-report.js';

export const LOAD_HEADER = 'infergate-load';

/** The load figures of a report, and the node's state: what a response header carries. */
export type LoadFigures = Pick<LoadReport,
  'inFlight' | 'queueDepth' | 'slots' | 'utilization' | 'completedPerSec' | 'errorsPerSec' | 'serviceTimeMs' | 'latencyMs' | 'windowMs'
> & { state: NodeState };

const round = (v: number, digits: number) => {
  const p = 10 ** digits;
  return Math.round(v * p) / p;
};

export function formatLoadHeader(l: LoadFigures): string {
  return `f=${l.inFlight},q=${l.queueDepth},s=${l.slots},u=${round(l.utilization, 3)},st=${round(l.serviceTimeMs, 2)},` +
    `l=${round(l.latencyMs, 2)},r=${round(l.completedPerSec, 2)},e=${round(l.errorsPerSec, 2)},w=${Math.round(l.windowMs)},d=${l.state === 'draining' ? 1 : 0}`;
}

/** Parses the header; undefined when it is malformed (the answer itself is still good). */
export function parseLoadHeader(text: string): LoadFigures | undefined {
  // A hand-rolled scan: it runs on every forwarded answer, and slicing ten keys and ten numbers
  // out of the string cost about three times as much (bench figures in the README).
  let f = NaN, q = NaN, s = NaN, u = NaN, st = NaN, l = NaN, r = NaN, e = NaN, w = NaN, d = NaN;
  const n = text.length;
  let i = 0;
  while (i < n) {
    while (i < n && text.charCodeAt(i) === 32) i++;
    const keyStart = i;
    while (i < n && text.charCodeAt(i) !== 61 && text.charCodeAt(i) !== 44) i++;
    if (i >= n || text.charCodeAt(i) !== 61) {
      i++;
      continue; // no value: skip the item
    }
    const keyEnd = i++;
    const valueStart = i;
    // Plain decimals (what formatLoadHeader writes) are read in place; anything else goes to Number().
    let value = 0;
    let scale = 0;
    let plain = i < n;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 44) break;
      if (c >= 48 && c <= 57) {
        value = value * 10 + (c - 48);
        if (scale > 0) scale *= 10;
      } else if (c === 46 && scale === 0) scale = 1;
      else plain = false;
      i++;
    }
    if (!plain) value = Number(text.slice(valueStart, i));
    else if (scale > 1) value /= scale;
    else if (scale === 1) value = NaN; // "3." is not a number we write
    i++; // the comma
    const k0 = text.charCodeAt(keyStart);
    const length = keyEnd - keyStart;
    if (length === 1) {
      if (k0 === 102) f = value; // f
      else if (k0 === 113) q = value; // q
      else if (k0 === 115) s = value; // s
      else if (k0 === 117) u = value; // u
      else if (k0 === 108) l = value; // l
      else if (k0 === 114) r = value; // r
      else if (k0 === 101) e = value; // e
      else if (k0 === 119) w = value; // w
      else if (k0 === 100) d = value; // d
    } else if (length === 2 && k0 === 115 && text.charCodeAt(keyStart + 1) === 116) st = value; // st
  }
  // `!(x >= 0)` is true for NaN too: one check per figure.
  if (!(f >= 0) || !(q >= 0) || !(s >= 0) || !(u >= 0 && u <= 1) || !(st >= 0) || !(l >= 0) || !(r >= 0) || !(e >= 0) || !(w >= 0)) return undefined;
  if (d !== 0 && d !== 1) return undefined;
  if (!Number.isFinite(st + l + r + e + w)) return undefined;
  return {
    inFlight: f, queueDepth: q, slots: s, utilization: u, serviceTimeMs: st, latencyMs: l,
    completedPerSec: r, errorsPerSec: e, windowMs: w, state: d === 1 ? 'draining' : 'ready',
  };
}

/**
 * A report as a membership record (etcd): its load figures zeroed, so the record changes only when
 * membership does, and no reader takes the figures of the moment it was written for load.
 */
export function withoutLoad(report: LoadReport): LoadReport {
  return { ...report, inFlight: 0, queueDepth: 0, utilization: 0, completedPerSec: 0, errorsPerSec: 0, serviceTimeMs: 0, latencyMs: 0, windowMs: 0 };
}
