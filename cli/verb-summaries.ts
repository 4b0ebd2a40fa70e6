/**
 * One line per verb that parses its own flags, for `infergate --help`. Kept apart from the verbs'
 * modules so that listing them (and starting a server) does not import what they run: the bench
 * pulls in the chart library, devices and calibrate the engines.
 */
export const BENCH_SUMMARY = 'Measure a model\'s throughput and latency on a KServe v2 server (perf_analyzer-style sweeps, HTTP or gRPC).';
export const DEVICES_SUMMARY = 'List this node\'s cards and, for each declared model, the engine and options each card would use (or why none fits).';
export const CALIBRATE_SUMMARY = 'Measure each declared model on each card of this machine (inferences/s, ms p50/p99) and print the table.';
