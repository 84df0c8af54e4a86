/**
 * How every service process is started: the same Node flags and allocator settings in the
 * image (the Dockerfile's `ENV`), in `npm start`, in the tests and in the bench, so that what is
 * measured is what runs.
 *
 * Without them a service's resident memory grows to 250–300 MB under load although its live
 * heap stays near 30 MB: V8 grows the young generation up to 3 × 64 MB on a high allocation
 * rate and collects the old generation late when the heap limit is far away, and glibc keeps
 * freed native memory in per-thread arenas. Measured with the bench (`npm run bench`), these
 * settings keep each service near 150 MB at no measurable cost in throughput. The old
 * generation's limit is left to Node, which derives it from the container's memory limit.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = [
  // Young generation at most 3 × 4 MB: more frequent, shorter scavenges.
  '--max-semi-space-size=4',
  // The old generation's limit grows by 10 % after a full collection, not by V8's default factor
  // (up to 4 × on a fast collector). `--optimize-for-size` does this too, but also makes the
  // compiled code slower: the relay drained 30 % fewer events per second with it.
  '--heap-growing-percent=10',
];

/** glibc malloc: two arenas, and freed memory returned to the system above 128 KiB. */
export const SERVICE_ALLOCATOR_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_TRIM_THRESHOLD_: '131072',
  MALLOC_MMAP_THRESHOLD_: '131072',
};
